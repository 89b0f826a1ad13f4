# make bench, reminder part (sourced by tests/bench/run.sh after review.sh, with its psql_
# and $root, closeloopd stopped): the reminder pass over 100,000 open actions.
# 100,000 open actions get due dates around 2000-01-05 (a Wednesday), 7 days before to 6
# days after it (committed, so that the pass runs in a transaction of its own as in
# closeloopd; their dates are put back afterwards), and the pass runs at noon UTC that
# day: nothing else is in its window. Timed, each rolled back: the SQL that finds what is
# due (cl_reminder_due) alone; one pass of the whole (budget, quiet hours, one batched mail
# per person, an event per item); and the same work as closeloopd does it, in passes of
# 1,000 people (REMINDER_BATCH) until none is left, in one transaction.
remind_policy='{"default":{"before_days":3,"overdue_every_days":7,"escalate_after_days":7,"budget":3,"quiet_from":20,"quiet_to":8,"working_days":[1,2,3,4,5],"where":"email"},"teams":{}}'
psql_ <<SQL >/dev/null
CREATE TABLE bench_remind_saved AS
SELECT id, due_on FROM actions WHERE status IN ('open', 'in_progress', 'blocked')
    AND archived_at IS NULL ORDER BY id LIMIT 100000;
UPDATE actions a SET due_on = date '2000-01-05' + (a.id % 14)::int - 7
FROM bench_remind_saved s WHERE s.id = a.id;
VACUUM ANALYZE actions;
SQL
psql_ -At <<SQL | sed -n 's/^REMIND //p'
SET client_min_messages = warning;
SELECT 'REMIND open actions in the window: ' || count(*) FROM actions
WHERE due_on BETWEEN date '2000-01-01' - 30 AND date '2000-01-20'
  AND status IN ('open', 'in_progress', 'blocked');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS due FROM cl_reminder_due('$remind_policy', '2000-01-05 12:00+00') \gset
SELECT 'REMIND reminder_due_sql: ' || :due || ' due items in '
       || round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2) || ' s';
BEGIN;
SELECT clock_timestamp() AS t0 \gset
SELECT cl_reminder_pass('$remind_policy', 1000000, '2000-01-05 12:00+00') AS r \gset
SELECT 'REMIND reminder_pass (one pass): ' || (:'r'::jsonb->>'people') || ' messages listing '
       || (:'r'::jsonb->>'items') || ' items in '
       || round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2)
       || ' s (' || (:'r'::jsonb->>'held') || ' people held)';
ROLLBACK;
BEGIN;
SELECT clock_timestamp() AS t0 \gset
DO \$\$
DECLARE r jsonb; n integer := 0; people integer := 0;
BEGIN
    LOOP
        r := cl_reminder_pass('$remind_policy', 1000, '2000-01-05 12:00+00');
        n := n + 1;
        people := people + (r->>'people')::int;
        EXIT WHEN (r->>'people')::int < 1000 OR n > 1000;
    END LOOP;
    PERFORM set_config('bench.remind', n || ' passes, ' || people || ' messages', true);
END \$\$;
SELECT 'REMIND reminder_pass (batches of 1,000 as closeloopd): ' || current_setting('bench.remind')
       || ' in ' || round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2)
       || ' s';
ROLLBACK;
SQL
psql_ <<SQL >/dev/null
UPDATE actions a SET due_on = s.due_on FROM bench_remind_saved s WHERE s.id = a.id;
DROP TABLE bench_remind_saved;
TRUNCATE review_replan;
VACUUM ANALYZE actions;
SQL
