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
-- recorded in its history (a due_on event, then a reason event naming the due policy);
-- an explicit null keeps it undated.
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
    IF EXISTS (SELECT 1 FROM incidents WHERE key = upper(p->>'incident')
               AND archived_at IS NOT NULL) THEN
        RAISE EXCEPTION 'incident "%" is archived: unarchive it first', p->>'incident'
            USING ERRCODE = 'CL422', COLUMN = 'incident';
    END IF;
    IF NOT p ? 'due_on' THEN
        days := cl_due_policy_days(policy, p->>'kind', prio);
        IF days IS NOT NULL THEN
            p := p || jsonb_build_object('due_on', current_date + days);
        END IF;
    END IF;
    action := cl_action_create(p, src, actor, routes);
    aid := (action::jsonb->>'id')::bigint;
    IF days IS NOT NULL THEN  -- the date, and why (a reason event, as a person's has)
        PERFORM cl_event(aid, src, actor, 'due_on', NULL, p->>'due_on');
        PERFORM cl_event(aid, src, actor, 'reason', NULL,
                         format('the due policy: %s days for a %s %s action', days, prio,
                                p->>'kind'));
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

-- How messages name a batch's row (1-based), with its file's line when the client gave it:
-- "row 3 (line 7)".
CREATE OR REPLACE FUNCTION cl_batch_row(n bigint, r jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'row ' || n || CASE WHEN r ? 'line' THEN ' (line ' || (r->>'line') || ')' ELSE '' END
$$;

-- Many actions of one incident in one transaction, each created as cl_action_add_one()
-- creates one (events, tracker outbox rows, the due policy). A row that fails fails the
-- whole batch, its error naming the row: nothing is created. Returns
-- {"items": [action, ...], "warnings": ["row 2 (line 3): action 12 has no owner...", ...]}.
CREATE OR REPLACE FUNCTION cl_action_batch(incident text, rows jsonb, src text, actor text,
                                           routes jsonb, policy jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    one record;
    items text[] := '{}';
    warnings text[] := '{}';
    st text;
    msg text;
    col text;
    con text;
    tbl text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM incidents WHERE key = upper(incident)) THEN
        RAISE EXCEPTION 'incident "%" not found', incident USING ERRCODE = 'CL404';
    END IF;
    FOR r IN SELECT e.value, e.n FROM jsonb_array_elements(rows) WITH ORDINALITY AS e (value, n)
    LOOP
        BEGIN
            SELECT * INTO one FROM cl_action_add_one(
                (r.value - 'line') || jsonb_build_object('incident', incident), src, actor,
                routes, policy);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                col = COLUMN_NAME, con = CONSTRAINT_NAME, tbl = TABLE_NAME;
            RAISE EXCEPTION USING ERRCODE = st, MESSAGE = cl_batch_row(r.n, r.value) || ': ' || msg,
                COLUMN = coalesce(col, ''), CONSTRAINT = coalesce(con, ''),
                TABLE = coalesce(tbl, '');
        END;
        items := items || one.action;
        warnings := warnings || ARRAY(SELECT cl_batch_row(r.n, r.value) || ': ' || w
                                      FROM unnest(one.warnings) AS w);
    END LOOP;
    RETURN '{"items": [' || array_to_string(items, ', ') || '], "warnings": '
           || to_json(warnings)::text || '}';
END $$;
