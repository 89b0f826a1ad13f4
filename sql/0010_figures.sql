-- 0010: what the stale and slipped reports and the figures read, kept on the action row
-- so that they need no walk through its history:
--   last_event_at  when its history last grew (stale: no event for N days)
--   first_due_on   the first due date it was given (on-time rate against the first date)
--   slips, slip_days  how often its due date moved later, and by how many days in all
-- Kept by the triggers of sql/functions/figures.sql; filled here from the history.

ALTER TABLE actions
    ADD COLUMN last_event_at timestamptz,
    ADD COLUMN first_due_on date,
    ADD COLUMN slips integer NOT NULL DEFAULT 0 CHECK (slips >= 0),
    ADD COLUMN slip_days integer NOT NULL DEFAULT 0 CHECK (slip_days >= 0);

UPDATE actions a SET last_event_at = coalesce(e.last_at, a.updated_at)
FROM (SELECT a2.id, (SELECT max(x.at) FROM events x WHERE x.action_id = a2.id) AS last_at
      FROM actions a2) e
WHERE e.id = a.id;

UPDATE actions a SET first_due_on = coalesce(s.first_due, a.due_on),
                     slips = coalesce(s.moves, 0), slip_days = coalesce(s.days, 0)
FROM (SELECT x.action_id,
             (array_agg(coalesce(x.old, x.new) ORDER BY x.id))[1]::date AS first_due,
             count(*) FILTER (WHERE x.new::date > x.old::date) AS moves,
             sum(x.new::date - x.old::date) FILTER (WHERE x.new::date > x.old::date) AS days
      FROM events x WHERE x.field = 'due_on' GROUP BY x.action_id) s
WHERE s.action_id = a.id;
UPDATE actions SET first_due_on = due_on WHERE first_due_on IS NULL AND due_on IS NOT NULL;

ALTER TABLE actions ALTER COLUMN last_event_at SET DEFAULT now();
UPDATE actions SET last_event_at = updated_at WHERE last_event_at IS NULL;
ALTER TABLE actions ALTER COLUMN last_event_at SET NOT NULL;

-- stale: open work by when it last changed
CREATE INDEX actions_open_quiet_idx ON actions (last_event_at)
    WHERE status IN ('open', 'in_progress', 'blocked');
-- slipped: the few whose date moved, in due order
CREATE INDEX actions_slipped_due_idx ON actions ((coalesce(due_on, 'infinity'::date)), id)
    WHERE slips > 0;
-- (the figures of a team or an owner read an index made in 0012, which holds archived_at;
-- the snapshot of all work reads the table once: it needs no index by date)

-- The figures of all open work and of each team, as of computed_at: what the unfiltered
-- figures, the dashboard and the /metrics gauges read instead of a walk through every
-- action. One row; cl_figures_refresh() replaces it (closeloopd calls it every
-- figures_interval seconds; of several instances one computes, the others skip).
CREATE TABLE figure_snapshot (
    id           integer PRIMARY KEY CHECK (id = 1),
    computed_at  timestamptz NOT NULL,
    took_ms      integer NOT NULL,
    days         integer NOT NULL,  -- the window of closed work the figures cover
    total        jsonb NOT NULL,    -- cl_figure_cols() of every action
    teams        jsonb NOT NULL,    -- [{"team": name or null, ...cl_figure_cols()}]
    team_trends  jsonb NOT NULL,    -- {"week": {team: trend}, "month": {team: trend}}
    trend_week   jsonb NOT NULL,    -- cl_figure_trend() of every action, by week
    trend_month  jsonb NOT NULL     -- and by month
);
