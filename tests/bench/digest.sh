# make bench, digest part (sourced by tests/bench/run.sh, with its psql_ and $root, at
# 1,000,000 actions, closeloopd stopped): 1,000 recipients (the 100 teams' managers and
# 900 extra recipients of one team each), their content computed in PostgreSQL alone,
# the pass that computes it, records the runs and queues the mail, and the rendering of
# the 1,000 queued digests (Markdown, HTML, chart, MIME). The policy (digest_policy_json()'s
# shape, 900 extras) is kept in a table: it is longer than a command line may be.
psql_ -c "DROP TABLE IF EXISTS bench_digest_policy" \
      -c "CREATE TABLE bench_digest_policy AS SELECT jsonb_build_object('cadence', 'weekly',
          'day', 1, 'hour', 9, 'team_chat', '{}'::jsonb, 'extras', jsonb_agg(jsonb_build_object(
          'name', 'x' || g, 'to', 'x' || g || '@bench.example', 'scope', 'team:team' || (g % 100),
          'timezone', 'UTC'))) AS p FROM generate_series(1, 900) g" \
      -c "DELETE FROM mail_queue WHERE kind = 'digest'" -c "DELETE FROM digest_runs" \
      -c "DELETE FROM digest_recipients" \
      -c "SELECT cl_digest_pass((SELECT p FROM bench_digest_policy), 0)" \
      -c "UPDATE digest_recipients SET first_seen = now() - interval '30 days'" >/dev/null
policy="(SELECT p FROM bench_digest_policy)"
n=$(psql_ -At -c "SELECT count(*) FROM cl_digest_recipients($policy)")
s0=$(date +%s.%N)
psql_ -At -c "SELECT sum(length(cl_digest_preview($policy, recipient, NULL)::text))
              FROM cl_digest_recipients($policy)" >/dev/null
s1=$(date +%s.%N)
echo "digest_content_sql_alone: $n recipients in $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.2f", b - a}') s (cl_digest_content of each, one statement)"
s0=$(date +%s.%N)
psql_ -At -c "SELECT cl_digest_pass($policy, 1000)" >/dev/null
s1=$(date +%s.%N)
echo "digest_pass_sql: $(psql_ -At -c 'SELECT count(*) FROM digest_runs') digests queued in $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.2f", b - a}') s (content, runs and mail rows in one transaction)"
psql_ -At -c "SELECT payload::text FROM mail_queue WHERE kind = 'digest' ORDER BY id" |
    "$root/build/release/bench/bench_digest"
psql_ -c "DROP TABLE bench_digest_policy" >/dev/null
