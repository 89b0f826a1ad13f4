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

-- The facilitator's reports: which actions each one lists (`pred`), what it says of each
-- (`detail`, a JSON object) and what it needs joined (`src`). One definition each, in this
-- table; the API, the CLI and the digests read them through cl_report_page(). `days` ($7)
-- is the report's horizon where it has one (due-soon: due within it, 7; stale: no event
-- for it, 14). Every fragment is a constant of this file: values only ever arrive as
-- parameters.
DROP FUNCTION IF EXISTS cl_report_names();   -- unused: the names are cl_report_def's rows

CREATE OR REPLACE FUNCTION cl_report_def(name text, OUT pred text, OUT detail text,
                                         OUT src text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT d.pred, d.detail, d.src FROM (VALUES
    -- open and past its due date: how late
    ('overdue', 'cl_action_overdue(v.status, v.due_on)',
     'jsonb_build_object(''days_late'', current_date - v.due_on)', ''),
    -- open with no owner, or an owner who left
    ('unowned', 'action_is_open(v.status) AND (v.owner_id IS NULL OR v.owner_id = ANY'
                ' (ARRAY(SELECT id FROM people WHERE NOT active)))',
     'jsonb_build_object(''owner_left'', v.owner_id IS NOT NULL)',
     -- written so that the planner can either walk open work in due order (unowned work
     -- is common) or start from the few unowned rows (actions_unowned_idx, and the
     -- owners who left: actions_owner_idx) when it is rare
     ''),
    -- open with no due date: in no other attention list
    ('undated', 'action_is_open(v.status) AND coalesce(v.due_on, ''infinity''::date)'
                ' = ''infinity''::date', '''{}''::jsonb', ''),
    -- due within the horizon and not started
    ('due-soon', 'v.status = ''open'' AND coalesce(v.due_on, ''infinity''::date)'
                 ' BETWEEN current_date AND current_date + coalesce($7, 7)',
     'jsonb_build_object(''days_left'', v.due_on - current_date)', ''),
    -- open and no event for the horizon (last_event_at: figures.sql keeps it)
    ('stale', 'action_is_open(v.status) AND v.last_event_at < now() - make_interval(days => coalesce($7, 14))',
     'jsonb_build_object(''last_change'', v.last_event_at, ''days_quiet'','
     ' current_date - v.last_event_at::date)', ''),
    -- blocked, and since when
    ('blocked', 'v.status = ''blocked''', 'jsonb_build_object(''since'', e.at)',
     ' CROSS JOIN LATERAL (SELECT max(x.at) AS at FROM events x WHERE x.action_id = v.id'
     ' AND x.field = ''status'' AND x.new = ''blocked'') e'),
    -- the tracker disagrees or cannot be reached: a broken or failing link, a warning, or
    -- an assignee who is not the owner
    ('drift', 'action_is_open(v.status) AND (v.link_state IN (''broken'', ''failed'')'
              ' OR v.link_error IS NOT NULL OR v.link_warning IS NOT NULL'
              ' OR (l.base ? ''owner'' AND l.base->>''owner'' IS DISTINCT FROM v.owner_handle))',
     'jsonb_build_object(''link'', v.link_state, ''error'', v.link_error, ''warning'','
     ' v.link_warning, ''tracker_owner'', l.base->''owner'')',
     ' JOIN links l ON l.id = v.link_id'),
    -- the due date moved later: how often, and by how many days in all (kept on the row)
    ('slipped', 'v.slips > 0',
     'jsonb_build_object(''moves'', v.slips, ''days_slipped'', v.slip_days, ''first_due'','
     ' v.first_due_on)', ''),
    -- done, and nobody confirmed it worked yet (a review's outcome or `action verify`)
    ('unverified', 'v.status = ''done'' AND v.verified_at IS NULL',
     'jsonb_build_object(''done_at'', v.closed_at, ''days_done'','
     ' current_date - v.closed_at::date)', '')
    ) AS d (name, pred, detail, src) WHERE d.name = cl_report_def.name
$$;

-- One page of a report, most urgent first (due date, none last, then id), after the
-- keyset (after_due, after_id), with the list filters: the statement is planned for its
-- report and its values, so a report can walk actions_open_due_idx (or, blocked,
-- actions_blocked_due_idx) in order, from the range its predicate gives, and stop at the
-- page's end. Predicates are written on coalesce(due_on, 'infinity') for that reason.
DROP FUNCTION IF EXISTS cl_report(text, integer);
CREATE OR REPLACE FUNCTION cl_report_page(name text, days integer, owner text, team text,
                                          incident text, after_due date, after_id bigint,
                                          lim integer)
RETURNS TABLE (action_id bigint, detail jsonb) LANGUAGE plpgsql STABLE AS $$
DECLARE
    d record := cl_report_def(name);
    -- the filters resolved to ids first, so that the statement is planned knowing them
    -- (a team of 100 people among 10,000: its owners' rows, not a walk through all open
    -- work); -1 matches nothing, for a name that does not exist
    owner_id bigint := CASE WHEN owner IS NOT NULL THEN
        coalesce((SELECT p.id FROM people p WHERE p.handle = owner), -1) END;
    team_people bigint[] := CASE WHEN team IS NOT NULL THEN
        ARRAY(SELECT p.id FROM people p JOIN teams t ON t.id = p.team_id WHERE t.name = team) END;
    incident_id bigint := CASE WHEN incident IS NOT NULL THEN
        coalesce((SELECT i.id FROM incidents i WHERE i.key = upper(incident)), -1) END;
BEGIN
    IF d.pred IS NULL THEN
        RAISE EXCEPTION 'no report "%"', name USING ERRCODE = 'CL404';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT v.id, %s FROM action_v v%s WHERE %s AND v.archived_at IS NULL'
        ' AND ($1::bigint IS NULL OR v.owner_id = $1)'
        ' AND ($2::bigint[] IS NULL OR v.owner_id = ANY ($2))'
        ' AND ($3::bigint IS NULL OR v.incident_id = $3)'
        ' AND ($4::date IS NULL OR (coalesce(v.due_on, ''infinity''::date), v.id)'
        '      > ($4::date, $5::bigint))'
        ' ORDER BY coalesce(v.due_on, ''infinity''::date), v.id LIMIT $6',
        d.detail, d.src, d.pred)
    USING owner_id, team_people, incident_id, after_due, after_id, lim, days;
END $$;
