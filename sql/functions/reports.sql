-- reports: the predicates every view of what needs attention shares: the action list's
-- filters and the incident summaries now, the facilitator's reports and the managers'
-- digests later. One definition each. Each is a one-expression SQL function, which the
-- planner inlines: a WHERE clause using one still walks the partial index
-- actions_open_due_idx (tests/bench/overdue_explain.py prints the plan).

-- Still open and past its due date; an action without a due date is never overdue.
CREATE OR REPLACE FUNCTION cl_action_overdue(status text, due_on date) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT action_is_open(status) AND coalesce(due_on, 'infinity'::date) < current_date
$$;

-- Still open with nobody to answer for it: no owner, or an owner who has left
-- (owner_active is NULL when there is no owner).
CREATE OR REPLACE FUNCTION cl_action_unowned(status text, owner_active boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT action_is_open(status) AND NOT coalesce(owner_active, false)
$$;

-- A list's filters name things that exist: a typo in a filter must not look like good
-- news ("no actions"). Raises CL422 naming the filter; true otherwise.
CREATE OR REPLACE FUNCTION cl_list_filters_check(owner text, team text, incident text)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM cl_person_id(owner, 'owner', false);
    PERFORM cl_team_id(team, 'team');
    IF incident IS NOT NULL AND NOT EXISTS (SELECT 1 FROM incidents WHERE key = upper(incident)) THEN
        RAISE EXCEPTION 'unknown incident "%"', incident USING ERRCODE = 'CL422',
            COLUMN = 'incident';
    END IF;
    RETURN true;
END $$;

-- The facilitator's reports: which actions each one lists, and what it says of each
-- (detail, a JSON object). One definition each; the API, the CLI and the digests read them
-- through cl_report(). `days` is the report's horizon where it has one (due-soon: due within
-- it; stale: no change for it); NULL takes the default (7 and 14).
CREATE OR REPLACE FUNCTION cl_report_names() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['overdue', 'unowned', 'undated', 'due-soon', 'stale', 'blocked', 'drift',
                 'slipped']
$$;

CREATE OR REPLACE FUNCTION cl_report(name text, days integer)
RETURNS TABLE (action_id bigint, detail jsonb) LANGUAGE sql STABLE AS $$
    -- open and past its due date: how late
    SELECT v.id, jsonb_build_object('days_late', current_date - v.due_on)
    FROM action_v v WHERE name = 'overdue' AND cl_action_overdue(v.status, v.due_on)
    UNION ALL
    -- open with no owner, or an owner who left
    SELECT v.id, jsonb_build_object('owner_left', v.owner_id IS NOT NULL)
    FROM action_v v WHERE name = 'unowned' AND cl_action_unowned(v.status, v.owner_active)
    UNION ALL
    -- open with no due date: in no other attention list
    SELECT v.id, '{}'::jsonb
    FROM action_v v WHERE name = 'undated' AND action_is_open(v.status) AND v.due_on IS NULL
    UNION ALL
    -- due within `days` and not started
    SELECT v.id, jsonb_build_object('days_left', v.due_on - current_date)
    FROM action_v v
    WHERE name = 'due-soon' AND v.status = 'open'
      AND v.due_on BETWEEN current_date AND current_date + coalesce(days, 7)
    UNION ALL
    -- open and unchanged for `days`
    SELECT v.id, jsonb_build_object('last_change', e.at,
                                    'days_quiet', current_date - e.at::date)
    FROM action_v v
    CROSS JOIN LATERAL (SELECT max(x.at) AS at FROM events x WHERE x.action_id = v.id) e
    WHERE name = 'stale' AND action_is_open(v.status)
      AND e.at < now() - make_interval(days => coalesce(days, 14))
    UNION ALL
    SELECT v.id, jsonb_build_object('since', b.at)
    FROM action_v v
    CROSS JOIN LATERAL (SELECT max(x.at) AS at FROM events x
                        WHERE x.action_id = v.id AND x.field = 'status'
                          AND x.new = 'blocked') b
    WHERE name = 'blocked' AND v.status = 'blocked'
    UNION ALL
    -- the tracker disagrees or cannot be reached: a broken or failing link, a warning, or
    -- an assignee who is not the owner
    SELECT v.id, jsonb_build_object('link', v.link_state, 'error', v.link_error,
                                    'warning', v.link_warning,
                                    'tracker_owner', l.base->'owner')
    FROM action_v v JOIN links l ON l.id = v.link_id
    WHERE name = 'drift' AND action_is_open(v.status)
      AND (v.link_state IN ('broken', 'failed') OR v.link_error IS NOT NULL
           OR v.link_warning IS NOT NULL
           OR (l.base ? 'owner' AND l.base->>'owner' IS DISTINCT FROM v.owner_handle))
    UNION ALL
    -- the due date moved later: how often, and by how many days in all
    SELECT v.id, jsonb_build_object('moves', s.moves, 'days_slipped', s.days,
                                    'first_due', s.first_due)
    FROM action_v v
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE x.new::date > x.old::date) AS moves,
               coalesce(sum(x.new::date - x.old::date)
                        FILTER (WHERE x.new::date > x.old::date), 0) AS days,
               (array_agg(x.old ORDER BY x.id))[1] AS first_due
        FROM events x
        WHERE x.action_id = v.id AND x.field = 'due_on' AND x.old IS NOT NULL
          AND x.new IS NOT NULL) s
    WHERE name = 'slipped' AND s.moves > 0
$$;
