# make bench, reminder part (sourced by tests/bench/run.sh after review.sh, with its psql_
# and $root, closeloopd stopped): the reminder pass over 100,000 open actions, in one
# transaction rolled back at the end (the figures after it see the database as it was).
# 100,000 open actions get due dates around 2000-01-05 (a Wednesday), 7 days before to 6
# days after it, and the pass runs at noon UTC that day: nothing else is in its window.
# Timed: the SQL that finds what is due (cl_reminder_due) alone, then the whole pass
# (budget, quiet hours, one batched mail per person, an event per item).
remind_policy='{"default":{"before_days":3,"overdue_every_days":7,"escalate_after_days":7,"budget":3,"quiet_from":20,"quiet_to":8,"working_days":[1,2,3,4,5],"where":"email"},"teams":{}}'
psql_ -At <<SQL | sed -n 's/^REMIND //p'
BEGIN;
UPDATE actions SET due_on = date '2000-01-05' + (id % 14)::int - 7
WHERE id IN (SELECT id FROM actions WHERE status IN ('open', 'in_progress', 'blocked')
             AND archived_at IS NULL ORDER BY id LIMIT 100000);
SELECT 'REMIND open actions in the window: ' || count(*) FROM actions
WHERE due_on BETWEEN date '2000-01-01' - 30 AND date '2000-01-20'
  AND status IN ('open', 'in_progress', 'blocked');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS due FROM cl_reminder_due('$remind_policy', '2000-01-05 12:00+00') \gset
SELECT 'REMIND reminder_due_sql: ' || :due || ' due items in '
       || round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2) || ' s';
SELECT clock_timestamp() AS t0 \gset
SELECT cl_reminder_pass('$remind_policy', 1000000, '2000-01-05 12:00+00') AS r \gset
SELECT 'REMIND reminder_pass: ' || (:'r'::jsonb->>'people') || ' messages listing '
       || (:'r'::jsonb->>'items') || ' items in '
       || round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2)
       || ' s (' || (:'r'::jsonb->>'held') || ' people held)';
ROLLBACK;
SQL
