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
