# make bench, digest part (sourced by tests/bench/run.sh, with its psql_, $dir and $root, at
# 1,000,000 actions, closeloopd stopped): digest rendering for 1,000 managers, issue 11's
# figure: the 100 teams' managers and BENCH_DIGEST_EXTRAS (default 900) extra recipients of
# one team each. Timed:
# - the pass as closeloopd runs it: one cl_digest_plan(), then BENCH_DIGEST_WORKERS
#   (default 2, as two closeloopd would on this machine) sessions each sending
#   cl_digest_claim(policy, 4) (closeloopd's DIGESTER_BATCH) until every digest is sent:
#   the same statements closeloopd sends, in long-lived sessions like its pool's (closeloopd
#   itself is not started: its reminder pass would queue mail for the seeded overdue work);
# - the rendering of the queued digests as closeloopd's mail worker does it (Markdown,
#   HTML, cairo chart, MIME; bench_digest, no SMTP);
# - beside them, the same content SQL alone (cl_digest_content of each recipient, in as
#   many sessions side by side, nothing recorded).
# The policy (digest_policy_json()'s shape, with the extras) is kept in a table: it is
# longer than a command line may be.
workers=${BENCH_DIGEST_WORKERS:-2}
psql_ -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS bench_digest_policy" \
      -c "CREATE TABLE bench_digest_policy AS SELECT jsonb_build_object('cadence', 'weekly',
          'day', 1, 'hour', 9, 'team_chat', '{}'::jsonb, 'extras', coalesce(jsonb_agg(jsonb_build_object(
          'name', 'x' || g, 'to', 'x' || g || '@bench.example', 'scope', 'team:team' || (g % 100),
          'timezone', 'UTC')) FILTER (WHERE g > 0), '[]'::jsonb)) AS p
          FROM generate_series(0, ${BENCH_DIGEST_EXTRAS:-900}) g" \
      -c "DELETE FROM digest_runs" -c "DELETE FROM mail_queue WHERE kind = 'digest'" \
      -c "DELETE FROM digest_recipients" \
      -c "SELECT cl_digest_plan((SELECT p FROM bench_digest_policy))" \
      -c "UPDATE digest_recipients SET first_seen = now() - interval '30 days'" >/dev/null
policy="(SELECT p FROM bench_digest_policy)"
n=$(psql_ -At -c "SELECT count(*) FROM cl_digest_recipients($policy)")
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }

# PostgreSQL alone: recipient k goes to session k % workers.
s0=$(date +%s.%N)
w=0
while [ $w -lt "$workers" ]; do
    psql_ -At -c "SELECT sum(length(b.content::text))
                  FROM (SELECT to_jsonb(x) AS r, row_number() OVER (ORDER BY x.recipient) AS k
                        FROM cl_digest_recipients($policy) x) s
                  CROSS JOIN LATERAL cl_digest_build_for($policy, s.r, NULL, now()) b
                  WHERE s.k % $workers = $w" >/dev/null &
    w=$((w + 1))
done
wait
s1=$(date +%s.%N)
alone=$(secs "$s0" "$s1")

# The pass: each worker's session sends enough claims for every digest (a claim that finds
# nothing pending costs a millisecond).
claims=$((n / 4 + 2))
s0=$(date +%s.%N)
psql_ -At -c "SELECT cl_digest_plan($policy)" >/dev/null
w=0
while [ $w -lt "$workers" ]; do
    awk -v k="$claims" -v p="$policy" 'BEGIN {for (i = 0; i < k; i++) print "SELECT cl_digest_claim(" p ", 4);"}' |
        psql_ -At >/dev/null &
    w=$((w + 1))
done
wait
s1=$(date +%s.%N)
pass=$(secs "$s0" "$s1")
sent=$(psql_ -At -c "SELECT count(*) FROM digest_runs WHERE state = 'sent'")
psql_ -At -c "SELECT payload::text FROM mail_queue WHERE kind = 'digest' ORDER BY id" >"$dir/digests.jsonl"
render=$("$root/build/release/bench/bench_digest" <"$dir/digests.jsonl")
rsecs=$(echo "$render" | awk '{for (i = 1; i < NF; i++) if ($(i + 1) == "s") {print $i; exit}}')
echo "digest_rendering ($n managers, 1M actions): $(awk -v a="$pass" -v b="$rsecs" 'BEGIN {printf "%.1f", a + b}') s" \
    "= pass $pass s ($sent digests computed, runs and mail rows committed; $workers workers claiming 4 at a time)" \
    "+ rendering $rsecs s · PostgreSQL alone $alone s (the content SQL of each, $workers sessions)"
echo "$render"
rm -f "$dir/digests.jsonl"
psql_ -c "DROP TABLE bench_digest_policy" >/dev/null
