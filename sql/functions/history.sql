-- History that people write: the reason a change needs, and progress notes. Both are
-- events of the action (field 'reason' or 'note'), written in the transaction of the
-- change they explain. The API and the CLI call these functions; a tracker's sync goes
-- through cl_action_apply and needs no reason.

-- A reason as stored: trimmed, NULL when absent or blank; CL422 past the bound.
CREATE OR REPLACE FUNCTION cl_reason(r text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    n text := nullif(btrim(r), '');
BEGIN
    IF length(n) > 500 THEN
        RAISE EXCEPTION 'reason must hold at most 500 characters'
            USING ERRCODE = 'CL422', COLUMN = 'reason';
    END IF;
    RETURN n;
END $$;

-- The rule, checked on the action as it was (o) and as it is now (n): blocking,
-- dropping, or moving a due date later (or clearing it) through the API or the CLI
-- needs a reason. A first due date, an earlier one, or a tracker's change needs none.
CREATE OR REPLACE FUNCTION cl_reason_check(o actions, n actions, src text, reason text)
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    why text;
BEGIN
    IF reason IS NOT NULL OR src NOT IN ('cli', 'api') THEN
        RETURN;
    END IF;
    IF n.status IS DISTINCT FROM o.status AND n.status = 'blocked' THEN
        why := 'blocking an action needs a reason: say what it waits for';
    ELSIF n.status IS DISTINCT FROM o.status AND n.status = 'wont_do' THEN
        why := 'dropping an action needs a reason: say why it will not be done';
    ELSIF o.due_on IS NOT NULL AND (n.due_on IS NULL OR n.due_on > o.due_on) THEN
        why := format('moving the due date of action %s later (from %s to %s) needs a reason',
                      o.id, o.due_on, coalesce(n.due_on::text, 'none'));
    END IF;
    IF why IS NOT NULL THEN
        RAISE EXCEPTION '%', why || ' (reason, at most 500 characters)'
            USING ERRCODE = 'CL422', COLUMN = 'reason';
    END IF;
END $$;

-- After a change made by `f` (cl_action_update or cl_action_transition, already run):
-- checks the rule and records the reason when something changed.
CREATE OR REPLACE FUNCTION cl_reason_record(o actions, src text, actor text, reason text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n actions;
BEGIN
    SELECT * INTO n FROM actions WHERE id = o.id;
    PERFORM cl_reason_check(o, n, src, reason);
    IF reason IS NOT NULL AND n.version <> o.version THEN
        PERFORM cl_event(o.id, src, actor, 'reason', NULL, reason);
    END IF;
END $$;

-- PATCH (verb NULL, the change in p) or a status verb, with a reason: the change, then
-- the rule and the reason's event, in one transaction.
CREATE OR REPLACE FUNCTION cl_action_change_why(aid bigint, expected integer, verb text, p jsonb,
                                                src text, actor text, reason text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o actions := cl_action_lock(aid, expected);
    j text := CASE WHEN verb IS NULL THEN cl_action_update(aid, expected, p, src, actor)
                   ELSE cl_action_transition(aid, expected, verb, src, actor) END;
BEGIN
    PERFORM cl_reason_record(o, src, actor, cl_reason(reason));
    RETURN j;
END $$;

-- A progress note: an event of the action (field 'note', the text trimmed in 'new') with
-- its author and time. It changes neither the action nor its version. Returns the
-- event's JSON, as the history shows it.
CREATE OR REPLACE FUNCTION cl_action_note(aid bigint, note text, src text, actor text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t text := btrim(note, E' \t\r\n');
    e events;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM actions WHERE id = aid) THEN
        RAISE EXCEPTION 'action % not found', aid USING ERRCODE = 'CL404';
    END IF;
    IF t IS NULL OR t = '' OR length(t) > 4000 THEN
        RAISE EXCEPTION 'text must hold 1 to 4000 characters' USING ERRCODE = 'CL422',
            COLUMN = 'text';
    END IF;
    INSERT INTO events (action_id, source, actor, field, old, new)
    VALUES (aid, src, actor, 'note', NULL, t) RETURNING * INTO e;
    RETURN json_build_object('id', e.id, 'action', e.action_id, 'at', e.at, 'source', e.source,
                             'actor', e.actor, 'field', e.field, 'old', e.old, 'new', e.new)::text;
END $$;

-- Incidents -----------------------------------------------------------------------

-- What an incident's history follows, as text by field (NULL when unset): times in
-- RFC 3339, the facilitator by handle, the default tracker as "tracker:scope".
CREATE OR REPLACE FUNCTION cl_incident_state(i incidents) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'title', i.title, 'severity', i.severity,
        'started_at', i.started_at, 'resolved_at', i.resolved_at,
        'postmortem_url', i.postmortem_url,
        'facilitator', (SELECT handle FROM people WHERE id = i.facilitator_id),
        'sync', CASE WHEN i.sync_scope IS NOT NULL THEN i.sync_tracker || ':' || i.sync_scope END)
$$;

-- One event per field whose value differs between the states o and n, in a fixed order.
CREATE OR REPLACE FUNCTION cl_incident_record(iid bigint, o jsonb, n jsonb, src text, actor text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO incident_events (incident_id, source, actor, field, old, new)
    SELECT iid, src, actor, f.k, o->>f.k, n->>f.k
    FROM unnest(ARRAY['title', 'severity', 'started_at', 'resolved_at', 'postmortem_url',
                      'facilitator', 'sync']) WITH ORDINALITY AS f (k, ord)
    WHERE (o->>f.k) IS DISTINCT FROM (n->>f.k)
    ORDER BY f.ord
$$;

-- cl_incident_create, then its history: 'created' (the title), then each field it set.
CREATE OR REPLACE FUNCTION cl_incident_create_by(p jsonb, src text, actor text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    j text := cl_incident_create(p);
    r incidents;
BEGIN
    SELECT * INTO r FROM incidents WHERE key = (j::json->>'key');
    INSERT INTO incident_events (incident_id, source, actor, field, old, new)
    VALUES (r.id, src, actor, 'created', NULL, r.title);
    PERFORM cl_incident_record(r.id, jsonb_build_object('title', r.title), cl_incident_state(r),
                               src, actor);
    RETURN j;
END $$;

-- cl_incident_update, then one event per field it changed (none when nothing changed).
CREATE OR REPLACE FUNCTION cl_incident_update_by(key_in text, expected integer, p jsonb, src text,
                                                 actor text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o incidents;
    n incidents;
    j text;
BEGIN
    SELECT * INTO o FROM incidents WHERE key = upper(key_in) FOR UPDATE;
    j := cl_incident_update(key_in, expected, p);  -- 404, 409 and 422 come from here
    SELECT * INTO n FROM incidents WHERE id = o.id;
    PERFORM cl_incident_record(o.id, cl_incident_state(o), cl_incident_state(n), src, actor);
    RETURN j;
END $$;

-- One page of an incident's history, oldest first: (json, cursor) rows after the event id
-- `after`, at most lim. CL404 when there is no such incident.
CREATE OR REPLACE FUNCTION cl_incident_history(key_in text, after bigint, lim integer)
RETURNS TABLE (j text, c text) LANGUAGE plpgsql STABLE AS $$
DECLARE
    i incidents;
BEGIN
    SELECT * INTO i FROM incidents WHERE key = upper(key_in);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incident "%" not found', key_in USING ERRCODE = 'CL404';
    END IF;
    RETURN QUERY
    SELECT json_build_object('id', e.id, 'incident', i.key, 'at', e.at, 'source', e.source,
                             'actor', e.actor, 'field', e.field, 'old', e.old,
                             'new', e.new)::text,
           e.id::text
    FROM incident_events e
    WHERE e.incident_id = i.id AND (after IS NULL OR e.id > after)
    ORDER BY e.id LIMIT lim;
END $$;
