#!/bin/sh
# make bench: figures for the README and the issue notes. Starts a private, durable
# PostgreSQL (fsync on) in a temp dir, seeds it, runs the release closeloopd and drives
# it with wrk on loopback. Every loop is bounded by wrk's -d. Prints figures only.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/clbench.XXXXXX)
chmod 755 "$dir"
pg="$dir/pg"
port=${BENCH_PORT:-18181}
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-32}
daemon_pid=

cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    sh "$root/contrib/pgctl.sh" stop "$pg" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

sh "$root/contrib/pgctl.sh" start "$pg" >/dev/null
dsn=$(sh "$root/contrib/pgctl.sh" dsn "$pg")
export CLOSELOOP_DATABASE_URL="$dsn"
psql_() { psql -X -q -v ON_ERROR_STOP=1 -d "$dsn" "$@"; }

"$root/closeloopd" migrate >/dev/null
token=$("$root/closeloopd" token create --name bench --scope admin)
psql_ -v n=100000 -f "$root/tests/bench/seed.sql" >/dev/null
# The seeded incidents are not the scheduler's to review while the other figures are taken
# (the review figures below mark 10,000 of them on purpose).
psql_ -c "TRUNCATE review_replan" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

pool=${BENCH_POOL_SIZE:-16}
CLOSELOOP_POOL_SIZE=$pool CLOSELOOP_LISTEN="127.0.0.1:$port" CLOSELOOP_LOG_LEVEL=warn "$root/closeloopd" serve \
    2>"$dir/daemon.log" &
daemon_pid=$!
i=0
until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || { cat "$dir/daemon.log"; exit 1; }
    sleep 0.1
done
sleep 1
echo "== closeloopd bench: $(nproc) cores shared by wrk, closeloopd and PostgreSQL on loopback"
echo "   PostgreSQL durable (fsync on, synchronous_commit on); closeloopd pool_size=$pool; wrk 1 thread"
echo "rss_idle_kb: $(rss_kb $daemon_pid)"

# wrk's summary -> one line: requests/s and latency percentiles.
run_wrk() {
    name=$1
    shift
    out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $token" \
        -H "Content-Type: application/json" "$@" "http://127.0.0.1:$port" 2>&1)
    rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errs=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    echo "$name: ${rps} req/s  p50 ${p50}  p99 ${p99}  non-2xx ${errs:-0}  (${conns} connections, ${secs}s)"
}

peak=0
sample_rss() {
    while kill -0 "$daemon_pid" 2>/dev/null; do
        r=$(rss_kb "$daemon_pid" 2>/dev/null || echo 0)
        echo "$r" >>"$dir/rss"
        sleep 0.5
    done
}
sample_rss &
sampler=$!

run_wrk "create_action" -s "$root/tests/bench/create.lua"
conns=16 run_wrk "create_action" -s "$root/tests/bench/create.lua"
BENCH_MAX_ID=100000 run_wrk "get_action" -s "$root/tests/bench/get.lua"

kill "$sampler" 2>/dev/null || true
peak=$(sort -n "$dir/rss" | tail -1)
echo "rss_peak_under_load_kb: $peak"

# Grow to 1,000,000 actions for the overdue dashboard.
have=$(psql_ -At -c "SELECT count(*) FROM actions")
psql_ -v n=$((1000000 - have)) -f "$root/tests/bench/seed.sql" >/dev/null
echo "actions_for_overdue_list: $(psql_ -At -c 'SELECT count(*) FROM actions')"
run_wrk "overdue_list_first_page" -s "$root/tests/bench/list.lua"
# sample N PATH: N requests to PATH one at a time, their times (s) into $dir/lat.
sample() {
    : >"$dir/lat"
    n=0
    while [ $n -lt "$1" ]; do
        curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" \
            "http://127.0.0.1:$port$2" >>"$dir/lat"
        n=$((n + 1))
    done
}
# One request at a time: the list's own latency, without queueing behind others.
sample 200 "/api/v1/actions?overdue=true&limit=50"
sort -n "$dir/lat" | awk '{a[NR] = $1 * 1000} END {printf "overdue_list_sequential (200 requests, curl): p50 %.2fms  p99 %.2fms\n", a[int(NR * 0.5)], a[int(NR * 0.99)]}'

plan=$(python3 "$root/tests/bench/overdue_explain.py" "$root/src/api/routes_core.c" | psql_ -At)
echo "overdue_list_server_ms (EXPLAIN ANALYZE execution): $(echo "$plan" | awk '/Execution Time/ {print $3}')"
echo "overdue_list_plan_uses: $(echo "$plan" | grep -o 'Index Scan using [a-z_]*' | sort -u | tr '\n' ';')"
# Each report's first page of 50 on the same 1,000,000 actions, one request at a time.
for report in overdue unowned undated due-soon stale blocked drift slipped; do
    sample 20 "/api/v1/reports/$report?limit=50"
    sort -n "$dir/lat" | awk -v r="$report" '{a[NR] = $1 * 1000} END {printf "report_%s_first_page (20 requests, 1M actions): p50 %.1fms  max %.1fms\n", r, a[int(NR * 0.5)], a[NR]}'
done
# The figures snapshot at 1,000,000 actions, 10,000 people, 100,000 incidents: how long
# one recomputation takes (closeloopd does it in the background every figures_interval).
echo "figures_snapshot_refresh_ms (1M actions, SQL): $(psql_ -At -c 'SELECT cl_figures_refresh(0, 90)')"
ms() { sort -n "$dir/lat" | awk -v r="$1" '{a[NR] = $1 * 1000} END {printf "%s (20 requests): p50 %.1fms  max %.1fms", r, a[int(NR * 0.5)], a[NR]}'; }
for q in "by=total" "by=team" "by=total&team=team7" "by=owner&team=team7" \
    "by=incident&team=team7" "by=owner" "by=incident" "by=total&owner=owner77" \
    "by=total&incident=BENCH-5"; do
    sample 20 "/api/v1/figures?$q"
    # the same figures computed by PostgreSQL alone (no HTTP, no closeloopd)
    set -- $(echo "$q" | tr '&=' '  ')
    by=$2; own=NULL; team=NULL; inc=NULL
    [ $# -ge 4 ] && case $3 in owner) own="'$4'" ;; team) team="'$4'" ;; incident) inc="'$4'" ;; esac
    # the median of 5 runs in one session, as closeloopd's pooled sessions run them (a
    # fresh session first plans the function's statements and fills its caches)
    sql="EXPLAIN (ANALYZE, TIMING OFF) SELECT cl_figures('$by', $own, $team, $inc, NULL, 'week', NULL, 100)"
    sqlms=$(psql_ -At -c "$sql" -c "$sql" -c "$sql" -c "$sql" -c "$sql" |
        awk '/Execution Time/ {print $3}' | sort -n | sed -n 3p)
    echo "$(ms "figures_$q") · PostgreSQL alone p50 ${sqlms}ms"
done
# plan_uses SQL: the scans of the statements SQL runs, nested ones included (auto_explain:
# functions build their statements inside), counted: "2x Index Scan using x on t;...".
plan_uses() {
    psql_ -c "LOAD 'auto_explain'" -c "SET auto_explain.log_min_duration = 0" \
        -c "SET auto_explain.log_nested_statements = on" -c "SET client_min_messages = log" \
        -c "$1" 2>&1 >/dev/null |
        grep -o '\(Index Only Scan\|Index Scan\|Bitmap Index Scan\|Seq Scan\)[a-zA-Z_ ]* on [a-z_]*' |
        sort | uniq -c | awk '{$1 = $1 "x"; print}' | tr '\n' ';'
}
# The plans of those statements (they are built inside cl_figures()).
for q in "'owner', NULL, 'team7', NULL" "'incident', NULL, 'team7', NULL" \
    "'total', 'owner77', NULL, NULL"; do
    echo "figures_plan ($q): $(plan_uses "SELECT length(cl_figures($q, NULL, 'week', NULL, 100))")"
done
i=0
: >"$dir/lat"
while [ $i -lt 20 ]; do
    s0=$(date +%s.%N)
    CLOSELOOP_URL="http://127.0.0.1:$port" CLOSELOOP_TOKEN="$token" "$root/closeloop" dashboard >/dev/null
    awk -v a="$s0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}' >>"$dir/lat"
    i=$((i + 1))
done
echo "$(ms "dashboard_cli_end_to_end") (6 requests each, the CLI included)"
sample 20 /metrics
echo "$(ms "metrics_scrape") with per-team gauges of 100 teams"
# Full-text search at the same 1,000,000 actions, once they have words to find.
. "$root/tests/bench/search.sh"
echo "rss_after_kb: $(rss_kb $daemon_pid)"

# Review scheduling, invitations: tests/bench/review.sh (it stops closeloopd).
. "$root/tests/bench/review.sh"
# The reminder pass over 100,000 open actions: tests/bench/remind.sh (rolled back).
. "$root/tests/bench/remind.sh"

# Managers' digests at 1M actions: tests/bench/digest.sh (closeloopd stopped).
. "$root/tests/bench/digest.sh"

# GitHub sync figures: the fake GitHub and a fresh database on the same cluster.
CLOSELOOP_TEST_DSN="$dsn" CLOSELOOP_BIN_DIR="$root" CLOSELOOP_SRC_DIR="$root" \
    BENCH_SECONDS="$secs" python3 "$root/tests/bench/sync_bench.py"

# Jira sync figures: the fake Jira Cloud and a fresh database on the same cluster.
CLOSELOOP_TEST_DSN="$dsn" CLOSELOOP_BIN_DIR="$root" CLOSELOOP_SRC_DIR="$root" \
    BENCH_SECONDS="$secs" python3 "$root/tests/bench/jira_bench.py"

# Mail: sending queued mail to a local SMTP server, beside queueing it in PostgreSQL alone.
CLOSELOOP_TEST_DSN="$dsn" CLOSELOOP_BIN_DIR="$root" CLOSELOOP_SRC_DIR="$root" \
    python3 "$root/tests/bench/mail_bench.py"
