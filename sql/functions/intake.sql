-- intake: recording actions as the product promises them, one owner and a due date. The
-- due-date policy (closeloopd's [due] section, passed in as JSON by the API:
-- {"corrective": {"P0": 7, ..., "P4": null}, "preventive": {...}}) dates an action
-- created without one, and what is still missing comes back as warnings. Every path
-- that creates actions from people's input goes through cl_action_add_one().

-- The days the policy gives an action of this kind and priority, or NULL.
CREATE OR REPLACE FUNCTION cl_due_policy_days(policy jsonb, kind text, priority text)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT (policy->kind->>priority)::integer
$$;

-- Creates one action (cl_action_create): a body without "due_on" gets the policy's date,
-- recorded in its history as the policy's doing; an explicit null keeps it undated.
-- Returns the action's JSON and what it still lacks (owner, due date), in words.
CREATE OR REPLACE FUNCTION cl_action_add_one(p jsonb, src text, actor text, routes jsonb,
                                             policy jsonb, OUT action text,
                                             OUT warnings text[])
LANGUAGE plpgsql AS $$
DECLARE
    prio text := coalesce(p->>'priority', 'P2');
    days integer;
    aid bigint;
BEGIN
    warnings := '{}';
    IF NOT p ? 'due_on' THEN
        days := cl_due_policy_days(policy, p->>'kind', prio);
        IF days IS NOT NULL THEN
            p := p || jsonb_build_object('due_on', current_date + days);
        END IF;
    END IF;
    action := cl_action_create(p, src, actor, routes);
    aid := (action::jsonb->>'id')::bigint;
    IF days IS NOT NULL THEN
        PERFORM cl_event(aid, src, format('due policy (%s %s: %s days)', prio, p->>'kind', days),
                         'due_on', NULL, p->>'due_on');
    END IF;
    IF p->>'owner' IS NULL THEN
        warnings := warnings || format('action %s has no owner: give it one person who answers '
                                       'for it', aid);
    END IF;
    IF p->>'due_on' IS NULL THEN
        warnings := warnings || CASE WHEN p ? 'due_on'
            THEN format('action %s has no due date', aid)
            ELSE format('action %s has no due date: the due policy gives none to %s %s actions',
                        aid, prio, p->>'kind') END;
    END IF;
END $$;

-- One action, as POST /api/v1/actions answers it: the action and its "warnings".
CREATE OR REPLACE FUNCTION cl_action_add(p jsonb, src text, actor text, routes jsonb,
                                         policy jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM cl_action_add_one(p, src, actor, routes, policy);
    RETURN substr(r.action, 1, length(r.action) - 1) || ', "warnings": '
           || to_json(r.warnings)::text || '}';
END $$;
