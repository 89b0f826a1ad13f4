# make bench, digest part (sourced by tests/bench/run.sh, with its psql_ and $root, at
# 1,000,000 actions, closeloopd stopped): the 100 teams' managers and BENCH_DIGEST_EXTRAS
# extra recipients of one team each (default 0: a digest costs seconds of SQL at this
# size; BENCH_DIGEST_EXTRAS=900 gives the 1,000 recipients of issue 11, and takes long):
# their content computed in PostgreSQL alone, the pass that computes it, records the runs
# and queues the mail, and the rendering of the queued digests (Markdown, HTML, chart,
# MIME). The policy (digest_policy_json()'s shape, with the extras) is kept in a table: it
# may be longer than a command line may be.
psql_ -c "DROP TABLE IF EXISTS bench_digest_policy" \
      -c "CREATE TABLE bench_digest_policy AS SELECT jsonb_build_object('cadence', 'weekly',
          'day', 1, 'hour', 9, 'team_chat', '{}'::jsonb, 'extras', coalesce(jsonb_agg(jsonb_build_object(
          'name', 'x' || g, 'to', 'x' || g || '@bench.example', 'scope', 'team:team' || (g % 100),
          'timezone', 'UTC')) FILTER (WHERE g > 0), '[]'::jsonb)) AS p
          FROM generate_series(0, ${BENCH_DIGEST_EXTRAS:-0}) g" \
      -c "DELETE FROM mail_queue WHERE kind = 'digest'" -c "DELETE FROM digest_runs" \
      -c "DELETE FROM digest_recipients" \
      -c "SELECT cl_digest_plan((SELECT p FROM bench_digest_policy))" \
      -c "UPDATE digest_recipients SET first_seen = now() - interval '30 days'" >/dev/null
policy="(SELECT p FROM bench_digest_policy)"
n=$(psql_ -At -c "SELECT count(*) FROM cl_digest_recipients($policy)")
s0=$(date +%s.%N)
psql_ -At -c "SELECT sum(length(cl_digest_preview($policy, recipient, NULL)::text))
              FROM cl_digest_recipients($policy)" >/dev/null
s1=$(date +%s.%N)
echo "digest_content_sql_alone: $n recipients in $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.2f", b - a}') s (cl_digest_content of each, one statement)"
s0=$(date +%s.%N)
psql_ -At -c "SELECT cl_digest_plan($policy)" -c "SELECT cl_digest_claim($policy, 100000)" >/dev/null
s1=$(date +%s.%N)
echo "digest_pass_sql: $(psql_ -At -c 'SELECT count(*) FROM digest_runs') digests queued in $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.2f", b - a}') s (planned, then claimed, computed, mail rows queued and runs marked sent in one transaction)"
psql_ -At -c "SELECT payload::text FROM mail_queue WHERE kind = 'digest' ORDER BY id" |
    "$root/build/release/bench/bench_digest"
psql_ -c "DROP TABLE bench_digest_policy" >/dev/null
