-- Actions: the view and JSON the API reads, the status machine, and one function per
-- change, so that the row, its events and its outbox rows commit together. Re-created
-- as a whole by `migrate` when a file under sql/functions/ changes.

CREATE OR REPLACE FUNCTION action_is_open(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('open', 'in_progress', 'blocked')
$$;

-- Dropped and made again each time: its columns are not only ever appended to
-- (action_json, which takes its row type, goes with it and follows below).
DROP VIEW IF EXISTS action_v CASCADE;
CREATE VIEW action_v AS
SELECT a.*, i.key AS incident_key, p.handle AS owner_handle, p.active AS owner_active,
       p.team_id AS owner_team_id, l.id AS link_id, l.tracker AS link_tracker,
       l.connection AS link_connection, l.scope AS link_scope, l.remote_key AS link_key,
       l.url AS link_url, l.state AS link_state, l.last_error AS link_error,
       l.error_at AS link_error_at, l.warning AS link_warning, l.synced_at AS link_synced_at
FROM actions a
JOIN incidents i ON i.id = a.incident_id
LEFT JOIN people p ON p.id = a.owner_id
LEFT JOIN links l ON l.action_id = a.id;

-- The API's view of sync: every action says whether and how it is linked. The link's
-- columns join into the action view; the outbox counts come from a PL/pgSQL function
-- called only for linked actions. No subquery may appear in action_json or the view:
-- it makes every execution set up sub-plans (a GET went from 42k to 8k per second).
-- Pushes waiting for an action, and pushes that failed for good since the last success.
CREATE OR REPLACE FUNCTION link_pending(aid bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM outbox WHERE action_id = aid AND done_at IS NULL
            AND failed_at IS NULL);
END $$;

CREATE OR REPLACE FUNCTION link_failed(aid bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM outbox o WHERE o.action_id = aid AND o.failed_at IS NOT NULL
            AND o.id > coalesce((SELECT max(d.id) FROM outbox d WHERE d.action_id = aid
                                 AND d.done_at IS NOT NULL), 0));
END $$;

CREATE OR REPLACE FUNCTION action_json(v action_v) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', v.id, 'incident', v.incident_key, 'kind', v.kind, 'title', v.title,
        'description', v.description, 'owner', v.owner_handle, 'owner_active', v.owner_active,
        'status', v.status, 'priority', v.priority, 'due_on', v.due_on,
        'overdue', cl_action_overdue(v.status, v.due_on),
        'version', v.version, 'created_at', v.created_at, 'updated_at', v.updated_at,
        'closed_at', v.closed_at, 'archived_at', v.archived_at,
        -- done is not closed: a review's outcome or `action verify` confirms it worked
        'verified', v.verified_at IS NOT NULL, 'verified_at', v.verified_at,
        'verified_by', v.verified_by, 'evidence', v.verify_evidence,
        'follow_up_of', v.follow_up_of,
        'sync', CASE WHEN v.link_id IS NOT NULL THEN json_build_object(
            'tracker', v.link_tracker, 'connection', v.link_connection, 'scope', v.link_scope,
            'key', v.link_key, 'display', cl_sync_display(v.link_scope, v.link_key),
            -- the names of the first API, kept: repo and number
            'repo', v.link_scope,
            'number', CASE WHEN v.link_key ~ '^[0-9]{1,9}$' THEN v.link_key::int END,
            'url', v.link_url, 'state', v.link_state,
            'last_error', v.link_error, 'error_at', v.link_error_at, 'warning', v.link_warning,
            'synced_at', v.link_synced_at, 'pending', link_pending(v.id),
            'failed', link_failed(v.id)) END)::text
$$;

CREATE OR REPLACE FUNCTION cl_action_lock(aid bigint, expected integer) RETURNS actions
LANGUAGE plpgsql AS $$
DECLARE
    r actions;
BEGIN
    SELECT * INTO r FROM actions WHERE id = aid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'action % not found', aid USING ERRCODE = 'CL404';
    END IF;
    PERFORM cl_check_version('action', aid::text, r.version, expected);
    RETURN r;
END $$;

-- The status machine, shared by PATCH and the verbs: start (open/blocked ->
-- in_progress), block (open/in_progress -> blocked), done and drop (any open state ->
-- done/wont_do), reopen (done/wont_do -> open). Anything else is CLTRN.
CREATE OR REPLACE FUNCTION cl_status_check(aid bigint, from_status text, to_status text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF from_status = to_status
       OR (to_status = 'in_progress' AND from_status IN ('open', 'blocked'))
       OR (to_status = 'blocked' AND from_status IN ('open', 'in_progress'))
       OR (to_status IN ('done', 'wont_do') AND action_is_open(from_status))
       OR (to_status = 'open' AND from_status IN ('done', 'wont_do')) THEN
        RETURN;
    END IF;
    RAISE EXCEPTION 'action % is %: it cannot move to %', aid, from_status, to_status
        USING ERRCODE = 'CLTRN', COLUMN = 'status';
END $$;

-- Work in progress has an owner: starting an unowned action, or taking the owner off one
-- in progress, is refused (CLTRN). An action a tracker reports in progress without an
-- owner is taken as it is, with a sync warning (cl_sync_apply): no owner is invented.
CREATE OR REPLACE FUNCTION cl_owner_check(o actions, n actions) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF n.status = 'in_progress' AND n.owner_id IS NULL
       AND (o.status <> 'in_progress' OR o.owner_id IS NOT NULL) THEN
        RAISE EXCEPTION 'action % has no owner: work in progress needs one, assign it first', o.id
            USING ERRCODE = 'CLTRN', COLUMN = 'owner';
    END IF;
END $$;

-- Writes `n` over `o` (same id), records one event per changed field, bumps the version.
-- Returns the action's JSON. A change that changes nothing bumps nothing.
CREATE OR REPLACE FUNCTION cl_action_apply(o actions, n actions, src text, actor text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    changed boolean := false;
BEGIN
    IF n.title IS DISTINCT FROM o.title THEN
        PERFORM cl_event(o.id, src, actor, 'title', o.title, n.title);
        changed := true;
    END IF;
    IF n.description IS DISTINCT FROM o.description THEN
        PERFORM cl_event(o.id, src, actor, 'description', o.description, n.description);
        changed := true;
    END IF;
    IF n.kind IS DISTINCT FROM o.kind THEN
        PERFORM cl_event(o.id, src, actor, 'kind', o.kind, n.kind);
        changed := true;
    END IF;
    IF n.owner_id IS DISTINCT FROM o.owner_id THEN
        PERFORM cl_event(o.id, src, actor, 'owner',
                         (SELECT handle FROM people WHERE id = o.owner_id),
                         (SELECT handle FROM people WHERE id = n.owner_id));
        changed := true;
    END IF;
    IF n.status IS DISTINCT FROM o.status THEN
        PERFORM cl_event(o.id, src, actor, 'status', o.status, n.status);
        changed := true;
    END IF;
    IF n.priority IS DISTINCT FROM o.priority THEN
        PERFORM cl_event(o.id, src, actor, 'priority', o.priority, n.priority);
        changed := true;
    END IF;
    IF n.due_on IS DISTINCT FROM o.due_on THEN
        PERFORM cl_event(o.id, src, actor, 'due_on', o.due_on::text, n.due_on::text);
        changed := true;
    END IF;
    -- Every status change passes here (the API, the verbs, a tracker's sync): an action
    -- that leaves done loses its verification, and its history says so.
    IF o.verified_at IS NOT NULL AND n.status <> 'done' THEN
        PERFORM cl_event(o.id, src, actor, 'verified', o.verify_evidence, NULL);
    END IF;
    IF changed THEN
        UPDATE actions
        SET title = n.title, description = n.description, kind = n.kind, owner_id = n.owner_id,
            status = n.status, priority = n.priority, due_on = n.due_on,
            closed_at = CASE WHEN action_is_open(n.status) THEN NULL
                             ELSE coalesce(o.closed_at, now()) END,
            verified_at = CASE WHEN n.status = 'done' THEN o.verified_at END,
            verified_by = CASE WHEN n.status = 'done' THEN o.verified_by END,
            verify_evidence = CASE WHEN n.status = 'done' THEN o.verify_evidence END,
            version = o.version + 1, updated_at = now()
        WHERE id = o.id;
        PERFORM cl_sync_after_change(o.id, src);
    END IF;
    RETURN (SELECT action_json(v) FROM action_v v WHERE v.id = o.id);
END $$;

CREATE OR REPLACE FUNCTION cl_action_update(aid bigint, expected integer, p jsonb, src text, actor text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o actions := cl_action_lock(aid, expected);
    n actions := o;
BEGIN
    IF p ? 'title' THEN n.title := p->>'title'; END IF;
    IF p ? 'description' THEN n.description := coalesce(p->>'description', ''); END IF;
    IF p ? 'kind' THEN n.kind := p->>'kind'; END IF;
    IF p ? 'owner' THEN n.owner_id := cl_person_id(p->>'owner', 'owner', true); END IF;
    IF p ? 'status' THEN n.status := p->>'status'; END IF;
    IF p ? 'priority' THEN n.priority := p->>'priority'; END IF;
    IF p ? 'due_on' THEN n.due_on := (p->>'due_on')::date; END IF;
    PERFORM cl_status_check(aid, o.status, n.status);
    PERFORM cl_owner_check(o, n);
    RETURN cl_action_apply(o, n, src, actor);
END $$;

-- Status verbs: start, block, done, drop, reopen. A verb that would not change the
-- status (done on a done action) is refused too: the caller asked for a move.
CREATE OR REPLACE FUNCTION cl_action_transition(aid bigint, expected integer, verb text, src text,
                                     actor text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o actions := cl_action_lock(aid, expected);
    n actions := o;
BEGIN
    n.status := CASE verb WHEN 'start' THEN 'in_progress' WHEN 'block' THEN 'blocked'
                          WHEN 'done' THEN 'done' WHEN 'drop' THEN 'wont_do'
                          WHEN 'reopen' THEN 'open' END;
    IF n.status IS NULL THEN
        RAISE EXCEPTION 'unknown verb "%"', verb USING ERRCODE = 'CL422';
    END IF;
    IF n.status = o.status THEN
        RAISE EXCEPTION 'action % is already %', aid, o.status
            USING ERRCODE = 'CLTRN', COLUMN = 'status';
    END IF;
    PERFORM cl_status_check(aid, o.status, n.status);
    PERFORM cl_owner_check(o, n);
    RETURN cl_action_apply(o, n, src, actor);
END $$;

CREATE OR REPLACE FUNCTION cl_action_history(aid bigint) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM actions WHERE id = aid) THEN
        RAISE EXCEPTION 'action % not found', aid USING ERRCODE = 'CL404';
    END IF;
    RETURN (SELECT json_build_object('items', coalesce(json_agg(json_build_object(
                'id', e.id, 'action', e.action_id, 'at', e.at, 'source', e.source,
                'actor', e.actor, 'field', e.field, 'old', e.old, 'new', e.new) ORDER BY e.id),
                '[]'::json))::text
            FROM events e WHERE e.action_id = aid);
END $$;

-- Creates the action and, when it has a tracker scope (its own p->'sync', else its
-- incident's, else its owner's team's), its link and the outbox row, in one transaction.
CREATE OR REPLACE FUNCTION cl_action_create(p jsonb, src text, actor text, routes jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    inc_id bigint;
    trk text;
    scope_in text;
    own_handle text := p->>'owner';
    own_id bigint;
    own_active boolean;
    own_team bigint;
    r actions;
    v action_v;
BEGIN
    SELECT id, sync_tracker, sync_scope INTO inc_id, trk, scope_in
    FROM incidents WHERE key = upper(p->>'incident');
    IF inc_id IS NULL THEN
        RAISE EXCEPTION 'unknown incident "%"', p->>'incident'
            USING ERRCODE = 'CL422', COLUMN = 'incident';
    END IF;
    IF own_handle IS NOT NULL THEN
        SELECT pe.id, pe.active, pe.team_id, coalesce(trk, t.sync_tracker),
               CASE WHEN trk IS NULL THEN t.sync_scope ELSE scope_in END
        INTO own_id, own_active, own_team, trk, scope_in
        FROM people pe LEFT JOIN teams t ON t.id = pe.team_id WHERE pe.handle = own_handle;
        IF own_id IS NULL THEN
            RAISE EXCEPTION 'unknown person "%"', own_handle
                USING ERRCODE = 'CL422', COLUMN = 'owner';
        ELSIF NOT own_active THEN
            RAISE EXCEPTION 'person "%" is inactive', own_handle
                USING ERRCODE = 'CL422', COLUMN = 'owner';
        END IF;
    END IF;
    IF p ? 'sync' THEN  -- the action's own tracker and scope (a null scope opts out)
        trk := p->'sync'->>'tracker';
        scope_in := p->'sync'->>'scope';
    END IF;
    INSERT INTO actions (incident_id, kind, title, description, owner_id, priority, due_on)
    VALUES (inc_id, p->>'kind', p->>'title', coalesce(p->>'description', ''), own_id,
            coalesce(p->>'priority', 'P2'), (p->>'due_on')::date)
    RETURNING * INTO r;
    INSERT INTO events (action_id, source, actor, field, old, new)
    SELECT r.id, src, actor, e.field, NULL, e.new
    FROM (VALUES ('created', r.title), ('owner', own_handle)) AS e (field, new)
    WHERE e.new IS NOT NULL;
    IF scope_in IS NOT NULL THEN
        PERFORM cl_link_new(r.id, trk, scope_in, NULL, routes, 'create');
        RETURN (SELECT action_json(x) FROM action_v x WHERE x.id = r.id);
    END IF;
    SELECT r.*, upper(p->>'incident'), own_handle, own_active, own_team INTO v;
    RETURN action_json(v);
END $$;
