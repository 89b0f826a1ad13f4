#!/bin/sh
# tests/run.sh BUILD_DIR — what `make test` runs after the sanitizer build.
#
# Starts a throwaway PostgreSQL (--fast) in a fresh temporary directory, runs every
# cmocka binary BUILD_DIR/tests/test_*, the fuzz targets of build/fuzz for a short
# bounded time (tests/fuzz/run.sh, FUZZ_SECONDS), then the Python integration tests
# (tests/integration/test_*.py) against BUILD_DIR/closeloopd and BUILD_DIR/closeloop.
# Prints a summary per part and, as its very last line, "N passed, N failed"
# (", N skipped" when some were). Exits 1 when anything failed or nothing ran.
# On failure the logs (daemons, unit tests, PostgreSQL) are kept in build/test-logs/.
# UNIT_TIMEOUT and INTEGRATION_TIMEOUT (seconds) bound each part.
# shellcheck disable=SC2317 # cleanup runs from a trap
set -u

if [ $# -ne 1 ]; then
    echo "usage: tests/run.sh BUILD_DIR   (e.g. build/debug)" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$root" || exit 1
case $1 in
/*) build=$1 ;;
*) build=$root/$1 ;;
esac
if [ ! -d "$build" ]; then
    echo "tests/run.sh: $build is not a directory: run 'make test'" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
build=$(cd "$build" && pwd)
keep="$root/build/test-logs"
rm -rf "$keep"

# Short, so that the socket path stays far below its ~107-byte limit.
tmp=$(mktemp -d /tmp/cl.XXXXXX) || exit 1
# As root the server runs as "postgres", which must be able to traverse $tmp.
chmod 0755 "$tmp"
pgdir="$tmp/pg"
logdir="$tmp/logs"
mkdir "$logdir"

cleanup() {
    trap '' INT TERM HUP
    sh "$root/contrib/pgctl.sh" stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

keep_logs() {
    mkdir -p "$keep"
    cp -R "$logdir/." "$keep/" 2>/dev/null || true
    [ ! -f "$pgdir/log" ] || cp "$pgdir/log" "$keep/postgresql.log" 2>/dev/null || true
    echo "logs kept in ${keep#"$root"/}/" >&2
}

if ! sh contrib/pgctl.sh start "$pgdir" --fast >"$logdir/pgctl.log" 2>&1; then
    cat "$logdir/pgctl.log" >&2
    echo "tests/run.sh: could not start PostgreSQL" >&2
    keep_logs
    echo "0 passed, 1 failed"
    exit 1
fi

CLOSELOOP_TEST_DSN=$(sh contrib/pgctl.sh dsn "$pgdir")
CLOSELOOP_BIN_DIR=$build
CLOSELOOP_SRC_DIR=$root
CLOSELOOP_TEST_LOG_DIR=$logdir
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export CLOSELOOP_TEST_DSN CLOSELOOP_BIN_DIR CLOSELOOP_SRC_DIR CLOSELOOP_TEST_LOG_DIR \
    ASAN_OPTIONS UBSAN_OPTIONS
unset CMOCKA_MESSAGE_OUTPUT CMOCKA_TEST_ABORT CLOSELOOP_DATABASE_URL CLOSELOOP_CONFIG \
    CLOSELOOP_URL CLOSELOOP_TOKEN CLOSELOOP_LISTEN

# --- GitHub's own example payloads and the exchange recordings ---------------
# The real `issues` webhook examples (npm @octokit/webhooks-examples) feed test_github;
# every exchange with the fake GitHub is recorded and checked against GitHub's OpenAPI
# description after the integration tests (tests/conformance/run.sh). Likewise every exchange
# with the fake Jira (FAKE_JIRA_RECORD) is checked against Jira Cloud's platform v3
# description (tests/conformance/run.sh --spec jira) when the tests recorded any: only the
# Cloud v3 ones can be, the v2/DC exchanges are left out by run.sh (see its header).
c_pass=0
c_fail=0
c_lines=
if sh tests/conformance/webhook-examples.sh "$tmp/octokit" >"$logdir/octokit.log" 2>&1; then
    CLOSELOOP_WEBHOOK_EXAMPLES=$tmp/octokit
    export CLOSELOOP_WEBHOOK_EXAMPLES
else
    c_fail=$((c_fail + 1))
    c_lines="${c_lines}  octokit webhook examples: could not be fetched (see octokit.log)
"
fi
FAKE_GITHUB_RECORD=$tmp/github-exchanges.jsonl
FAKE_JIRA_RECORD=$tmp/jira-exchanges.jsonl
CLOSELOOP_CONFORMANCE_DIR=$tmp
export FAKE_GITHUB_RECORD FAKE_JIRA_RECORD CLOSELOOP_CONFORMANCE_DIR

# --- unit tests (cmocka) ---------------------------------------------------
u_pass=0
u_fail=0
u_skip=0
u_bins=0
u_lines=
for t in "$build"/tests/test_*; do
    if [ ! -f "$t" ] || [ ! -x "$t" ]; then
        continue
    fi
    name=$(basename "$t")
    out="$logdir/unit-$name.log"
    u_bins=$((u_bins + 1))
    rc=0
    timeout "${UNIT_TIMEOUT:-300}" "$t" >"$out" 2>&1 || rc=$?
    # Sum of every "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)" / SKIPPED line.
    counts=$(awk '
        /^\[  PASSED  \] [0-9]+ test\(s\)/  { p += $4 }
        /^\[  FAILED  \] [0-9]+ test\(s\)/  { f += $4 }
        /^\[  SKIPPED \] [0-9]+ test\(s\)/  { s += $4 }
        /^\[  PASSED  \] |^\[  FAILED  \] [0-9]+ test\(s\)/ { seen = 1 }
        END { printf "%d %d %d %d\n", p, f, s, seen }' "$out")
    # shellcheck disable=SC2086 # four numbers
    set -- $counts
    p=$1 f=$2 s=$3 seen=$4
    note=
    if [ "$seen" = 0 ]; then
        f=1
        note=" (exit $rc, no cmocka summary: crashed?)"
    elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        f=1
        note=" (exit $rc after its tests: sanitizer report?)"
    fi
    u_pass=$((u_pass + p))
    u_fail=$((u_fail + f))
    u_skip=$((u_skip + s))
    line=$(printf '  %-28s %3d passed, %d failed' "$name" "$p" "$f")
    [ "$s" = 0 ] || line="$line, $s skipped"
    u_lines="$u_lines$line$note
"
    if [ "$f" != 0 ]; then
        echo "---- $name (exit $rc) ----"
        cat "$out"
        echo "---- end of $name ----"
    fi
done
[ "$u_bins" != 0 ] || u_lines="  no unit test binaries in ${build#"$root"/}/tests/
"

# --- fuzz targets: a short bounded run (libFuzzer) ---------------------------
f_pass=0
f_fail=0
echo "---- fuzz (${FUZZ_SECONDS:-10} s per target) ----"
sh tests/fuzz/run.sh >"$logdir/fuzz.log" 2>&1
f_lines=$(grep '^  fuzz_\|^  no fuzz' "$logdir/fuzz.log")
f_pass=$(sed -n 's/^fuzz: \([0-9]*\) passed.*/\1/p' "$logdir/fuzz.log")
f_fail=$(sed -n 's/^fuzz: [0-9]* passed, \([0-9]*\) failed.*/\1/p' "$logdir/fuzz.log")
[ -n "$f_pass" ] || f_pass=0
[ -n "$f_fail" ] || f_fail=1
[ "$f_fail" = 0 ] || cat "$logdir/fuzz.log"

# --- integration tests (Python unittest) ------------------------------------
i_pass=0
i_fail=0
i_skip=0
i_note=
ilog="$logdir/integration.log"
if [ -d tests/integration ]; then
    echo "---- integration tests ----"
    # INTEGRATION_JOBS workers (3: the tests mostly wait on daemons and fakes; with 2 a
    # 2-core machine was busy 0.8 cores on average and the suite took 8 minutes)
    # take the modules one at a time, largest first, each in its own python3: whichever is
    # free takes the next (a claim is an atomic mkdir). Each worker has its own log and
    # exchange recordings, joined afterwards for the summary and the conformance checks.
    jobs=${INTEGRATION_JOBS:-3}
    # what discovery finds, to check that the workers ran every test
    expected=$(cd tests/integration && python3 -c 'import unittest
print(unittest.TestLoader().discover(".", pattern="test_*.py").countTestCases())' 2>/dev/null)
    wc -c tests/integration/test_*.py | sed '$d' | sort -rn |
        awk '{n = split($2, p, "/"); sub(/\.py$/, "", p[n]); print p[n]}' >"$tmp/modules"
    k=0
    while [ "$k" -lt "$jobs" ]; do
        (
            cd tests/integration || exit 1
            : >"$tmp/shard.$k.log"
            rc=0
            i=0
            for m in $(cat "$tmp/modules"); do
                i=$((i + 1))
                mkdir "$tmp/claim.$i" 2>/dev/null || continue
                FAKE_GITHUB_RECORD=$tmp/github.$k.jsonl FAKE_JIRA_RECORD=$tmp/jira.$k.jsonl \
                    timeout "${INTEGRATION_TIMEOUT:-2400}" python3 -m unittest -v "$m" \
                    >>"$tmp/shard.$k.log" 2>&1 || rc=1
            done
            echo "$rc" >"$tmp/shard.$k.rc"
        ) &
        k=$((k + 1))
    done
    wait
    rc=0
    : >"$ilog"
    k=0
    while [ "$k" -lt "$jobs" ]; do
        cat "$tmp/shard.$k.log" >>"$ilog"
        [ "$(cat "$tmp/shard.$k.rc" 2>/dev/null || echo 1)" = 0 ] || rc=1
        cat "$tmp/github.$k.jsonl" >>"$FAKE_GITHUB_RECORD" 2>/dev/null || true
        cat "$tmp/jira.$k.jsonl" >>"$FAKE_JIRA_RECORD" 2>/dev/null || true
        k=$((k + 1))
    done
    cat "$ilog"
    # Per module "Ran N tests in Xs", then "OK", "OK (skipped=S)" or "FAILED (failures=F,
    # errors=E, skipped=S)", summed. F and E count subtests and class fixtures, so failed tests are counted
    # from the distinct "FAIL: test (module.Class.test)" / "ERROR: ..." headers instead;
    # a failed setUpClass/tearDownClass counts as one more failure.
    counts=$(awk '
        /^(FAIL|ERROR): / {
            id = $0
            sub(/^(FAIL|ERROR): /, "", id)
            i = index(id, ")")
            if (i) id = substr(id, 1, i)
            if (!(id in failed)) {
                failed[id] = 1
                if (id ~ /^(setUpClass|tearDownClass|setUpModule|tearDownModule) /) fx++
                else t++
            }
        }
        /^Ran [0-9]+ tests? in / { ran += $2; seen = 1 }
        seen && /^(OK|FAILED)/ {
            line = $0
            gsub(/unexpected successes/, "unexpected_successes", line)
            gsub(/expected failures/, "expected_failures", line)
            n = split(line, kv, /[(), ]+/)
            for (i = 1; i <= n; i++) {
                split(kv[i], pair, "=")
                if (pair[1] == "skipped") s += pair[2]
                if (pair[1] == "unexpected_successes") u += pair[2]
            }
        }
        END { printf "%d %d %d %d %d %d\n", ran, t, fx, s, u, seen }' "$ilog")
    # shellcheck disable=SC2086 # six numbers
    set -- $counts
    ran=$1 t=$2 fx=$3 s=$4 u=$5 seen=$6
    i_fail=$((t + fx + u))
    i_skip=$s
    i_pass=$((ran - t - s - u))
    [ "$i_pass" -ge 0 ] || i_pass=0
    if [ "$seen" = 0 ]; then
        i_fail=1
        i_note=" (exit $rc, no unittest summary)"
    elif [ "$rc" != 0 ] && [ "$i_fail" = 0 ]; then
        i_fail=1
        i_note=" (exit $rc)"
    elif [ "$ran" != "${expected:-?}" ]; then
        i_fail=$((i_fail + 1))
        i_note=" ($ran tests ran, discovery finds ${expected:-none})"
    fi
else
    i_note=" (no tests/integration)"
fi

# --- conformance of the recorded GitHub traffic ------------------------------------
echo "---- conformance (GitHub OpenAPI) ----"
if [ -s "$FAKE_GITHUB_RECORD" ] &&
    sh tests/conformance/run.sh "$FAKE_GITHUB_RECORD" >"$logdir/conformance.log" 2>&1; then
    c_pass=$((c_pass + 1))
else
    c_fail=$((c_fail + 1))
fi
c_lines="${c_lines}  $(tail -n 1 "$logdir/conformance.log" 2>/dev/null || echo 'conformance: nothing recorded')
"

# --- conformance of the recorded Jira traffic (Cloud v3 exchanges only) --------------
echo "---- conformance (Jira Cloud platform v3 OpenAPI) ----"
if [ -s "$FAKE_JIRA_RECORD" ]; then
    if sh tests/conformance/run.sh --spec jira "$FAKE_JIRA_RECORD" \
        >"$logdir/conformance-jira.log" 2>&1; then
        c_pass=$((c_pass + 1))
    else
        c_fail=$((c_fail + 1))
    fi
    c_lines="${c_lines}  jira: $(tail -n 1 "$logdir/conformance-jira.log" 2>/dev/null)
"
else
    c_lines="${c_lines}  jira: no exchange recorded (no test used the fake Jira), nothing to check
"
fi
printf '%s' "$c_lines"

# --- summary -------------------------------------------------------------------
total_pass=$((u_pass + f_pass + i_pass + c_pass))
total_fail=$((u_fail + f_fail + i_fail + c_fail))
total_skip=$((u_skip + i_skip))
status=0
if [ "$total_fail" != 0 ] || [ $((total_pass + total_fail)) = 0 ]; then
    status=1
    keep_logs
fi
echo "==== summary ===="
printf 'unit (%d binaries): %d passed, %d failed, %d skipped\n' "$u_bins" "$u_pass" "$u_fail" "$u_skip"
printf '%s' "$u_lines"
printf 'fuzz: %d passed, %d failed\n%s\n' "$f_pass" "$f_fail" "$f_lines"
printf 'integration: %d passed, %d failed, %d skipped%s\n' "$i_pass" "$i_fail" "$i_skip" "$i_note"
printf 'conformance: %d passed, %d failed\n%s' "$c_pass" "$c_fail" "$c_lines"
[ $((total_pass + total_fail)) != 0 ] || echo "no test ran: that counts as a failure"
last="$total_pass passed, $total_fail failed"
[ "$total_skip" = 0 ] || last="$last, $total_skip skipped"
echo "$last"
exit "$status"
