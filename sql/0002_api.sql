-- 0002: the API's data functions. Each change is one function call, so the row, its
-- events and its outbox rows commit together or not at all. Errors use our SQLSTATEs:
--   CL404 not found, CL409 version conflict, CLTRN invalid transition,
--   CL422 validation (COLUMN names the field). closeloopd maps them to HTTP.

-- JSON renderings -----------------------------------------------------------

CREATE VIEW action_v AS
SELECT a.*, i.key AS incident_key, p.handle AS owner_handle, p.active AS owner_active,
       p.team_id AS owner_team_id
FROM actions a
JOIN incidents i ON i.id = a.incident_id
LEFT JOIN people p ON p.id = a.owner_id;

CREATE FUNCTION action_is_open(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('open', 'in_progress', 'blocked')
$$;

CREATE FUNCTION action_json(v action_v) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', v.id, 'incident', v.incident_key, 'kind', v.kind, 'title', v.title,
        'description', v.description, 'owner', v.owner_handle, 'owner_active', v.owner_active,
        'status', v.status, 'priority', v.priority, 'due_on', v.due_on,
        'overdue', coalesce(action_is_open(v.status) AND v.due_on < current_date, false),
        'version', v.version, 'created_at', v.created_at, 'updated_at', v.updated_at,
        'closed_at', v.closed_at)::text
$$;

CREATE FUNCTION team_json(t teams) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', t.id, 'name', t.name,
        'manager', (SELECT handle FROM people WHERE id = t.manager_id),
        'created_at', t.created_at, 'updated_at', t.updated_at)::text
$$;

CREATE FUNCTION person_json(p people) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', p.id, 'handle', p.handle, 'name', p.name, 'email', p.email,
        'timezone', p.timezone, 'team', (SELECT name FROM teams WHERE id = p.team_id),
        'active', p.active, 'github_login', p.github_login,
        'jira_account_id', p.jira_account_id, 'jira_name', p.jira_name,
        'created_at', p.created_at, 'updated_at', p.updated_at)::text
$$;

CREATE FUNCTION incident_json(i incidents) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', i.id, 'key', i.key, 'title', i.title, 'severity', i.severity,
        'started_at', i.started_at, 'resolved_at', i.resolved_at,
        'postmortem_url', i.postmortem_url,
        'facilitator', (SELECT handle FROM people WHERE id = i.facilitator_id),
        'version', i.version, 'created_at', i.created_at, 'updated_at', i.updated_at,
        'actions', (SELECT json_build_object(
                        'total', count(*),
                        'open', count(*) FILTER (WHERE status = 'open'),
                        'in_progress', count(*) FILTER (WHERE status = 'in_progress'),
                        'blocked', count(*) FILTER (WHERE status = 'blocked'),
                        'done', count(*) FILTER (WHERE status = 'done'),
                        'wont_do', count(*) FILTER (WHERE status = 'wont_do'),
                        'overdue', count(*) FILTER (WHERE action_is_open(status)
                                                    AND due_on < current_date))
                    FROM actions WHERE incident_id = i.id))::text
$$;

-- Lookups that raise CL422 naming the field -----------------------------------

CREATE FUNCTION cl_person_id(handle_in text, field text, must_be_active boolean)
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
    pid bigint;
    is_active boolean;
BEGIN
    IF handle_in IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT id, active INTO pid, is_active FROM people WHERE handle = handle_in;
    IF pid IS NULL THEN
        RAISE EXCEPTION 'unknown person "%"', handle_in USING ERRCODE = 'CL422', COLUMN = field;
    END IF;
    IF must_be_active AND NOT is_active THEN
        RAISE EXCEPTION 'person "%" is inactive', handle_in USING ERRCODE = 'CL422', COLUMN = field;
    END IF;
    RETURN pid;
END $$;

CREATE FUNCTION cl_team_id(name_in text, field text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    tid bigint;
BEGIN
    IF name_in IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT id INTO tid FROM teams WHERE name = name_in;
    IF tid IS NULL THEN
        RAISE EXCEPTION 'unknown team "%"', name_in USING ERRCODE = 'CL422', COLUMN = field;
    END IF;
    RETURN tid;
END $$;

CREATE FUNCTION cl_check_timezone(tz text) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF tz IS NULL OR NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz) THEN
        RAISE EXCEPTION 'unknown time zone "%"', tz USING ERRCODE = 'CL422', COLUMN = 'timezone';
    END IF;
    RETURN tz;
END $$;

CREATE FUNCTION cl_check_version(kind text, key text, current integer, expected integer)
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF expected IS NOT NULL AND expected <> current THEN
        RAISE EXCEPTION '% % is at version %, not %', kind, key, current, expected
            USING ERRCODE = 'CL409', COLUMN = 'version';
    END IF;
END $$;

-- Teams ------------------------------------------------------------------------

CREATE FUNCTION cl_team_create(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t teams;
BEGIN
    INSERT INTO teams (name, manager_id)
    VALUES (p->>'name', cl_person_id(p->>'manager', 'manager', false))
    RETURNING * INTO t;
    RETURN team_json(t);
END $$;

CREATE FUNCTION cl_team_update(name_in text, p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t teams;
BEGIN
    SELECT * INTO t FROM teams WHERE name = name_in FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'team "%" not found', name_in USING ERRCODE = 'CL404';
    END IF;
    IF p ? 'name' THEN
        t.name := p->>'name';
    END IF;
    IF p ? 'manager' THEN
        t.manager_id := cl_person_id(p->>'manager', 'manager', false);
    END IF;
    UPDATE teams SET name = t.name, manager_id = t.manager_id, updated_at = now()
    WHERE id = t.id RETURNING * INTO t;
    RETURN team_json(t);
END $$;

-- People -----------------------------------------------------------------------

CREATE FUNCTION cl_person_create(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r people;
BEGIN
    INSERT INTO people (handle, name, email, timezone, team_id, active, github_login,
                        jira_account_id, jira_name)
    VALUES (p->>'handle', p->>'name', p->>'email',
            cl_check_timezone(coalesce(p->>'timezone', 'UTC')),
            cl_team_id(p->>'team', 'team'), coalesce((p->>'active')::boolean, true),
            p->>'github_login', p->>'jira_account_id', p->>'jira_name')
    RETURNING * INTO r;
    RETURN person_json(r);
END $$;

CREATE FUNCTION cl_person_update(handle_in text, p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r people;
BEGIN
    SELECT * INTO r FROM people WHERE handle = handle_in FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'person "%" not found', handle_in USING ERRCODE = 'CL404';
    END IF;
    IF p ? 'name' THEN r.name := p->>'name'; END IF;
    IF p ? 'email' THEN r.email := p->>'email'; END IF;
    IF p ? 'timezone' THEN r.timezone := cl_check_timezone(p->>'timezone'); END IF;
    IF p ? 'team' THEN r.team_id := cl_team_id(p->>'team', 'team'); END IF;
    IF p ? 'active' THEN r.active := (p->>'active')::boolean; END IF;
    IF p ? 'github_login' THEN r.github_login := p->>'github_login'; END IF;
    IF p ? 'jira_account_id' THEN r.jira_account_id := p->>'jira_account_id'; END IF;
    IF p ? 'jira_name' THEN r.jira_name := p->>'jira_name'; END IF;
    UPDATE people
    SET name = r.name, email = r.email, timezone = r.timezone, team_id = r.team_id,
        active = r.active, github_login = r.github_login, jira_account_id = r.jira_account_id,
        jira_name = r.jira_name, updated_at = now()
    WHERE id = r.id RETURNING * INTO r;
    RETURN person_json(r);
END $$;

-- Incidents --------------------------------------------------------------------

CREATE FUNCTION cl_incident_create(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r incidents;
BEGIN
    INSERT INTO incidents (key, title, severity, started_at, resolved_at, postmortem_url,
                           facilitator_id)
    VALUES (p->>'key', p->>'title', p->>'severity', (p->>'started_at')::timestamptz,
            (p->>'resolved_at')::timestamptz, p->>'postmortem_url',
            cl_person_id(p->>'facilitator', 'facilitator', false))
    RETURNING * INTO r;
    RETURN incident_json(r);
END $$;

CREATE FUNCTION cl_incident_update(key_in text, expected integer, p jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r incidents;
BEGIN
    SELECT * INTO r FROM incidents WHERE key = key_in FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incident "%" not found', key_in USING ERRCODE = 'CL404';
    END IF;
    PERFORM cl_check_version('incident', key_in, r.version, expected);
    IF p ? 'title' THEN r.title := p->>'title'; END IF;
    IF p ? 'severity' THEN r.severity := p->>'severity'; END IF;
    IF p ? 'started_at' THEN r.started_at := (p->>'started_at')::timestamptz; END IF;
    IF p ? 'resolved_at' THEN r.resolved_at := (p->>'resolved_at')::timestamptz; END IF;
    IF p ? 'postmortem_url' THEN r.postmortem_url := p->>'postmortem_url'; END IF;
    IF p ? 'facilitator' THEN
        r.facilitator_id := cl_person_id(p->>'facilitator', 'facilitator', false);
    END IF;
    UPDATE incidents
    SET title = r.title, severity = r.severity, started_at = r.started_at,
        resolved_at = r.resolved_at, postmortem_url = r.postmortem_url,
        facilitator_id = r.facilitator_id, version = r.version + 1, updated_at = now()
    WHERE id = r.id RETURNING * INTO r;
    RETURN incident_json(r);
END $$;

-- Actions ----------------------------------------------------------------------

CREATE FUNCTION cl_event(aid bigint, src text, actor text, field text, old text, new text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO events (action_id, source, actor, field, old, new)
    VALUES (aid, src, actor, field, old, new)
$$;

-- The hottest write: one lookup per reference, one insert per table, and the JSON
-- rendered from values in hand rather than re-read through the view.
CREATE FUNCTION cl_action_create(p jsonb, src text, actor text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    inc_id bigint;
    own_handle text := p->>'owner';
    own_id bigint;
    own_active boolean;
    own_team bigint;
    r actions;
    v action_v;
BEGIN
    SELECT id INTO inc_id FROM incidents WHERE key = p->>'incident';
    IF inc_id IS NULL THEN
        RAISE EXCEPTION 'unknown incident "%"', p->>'incident'
            USING ERRCODE = 'CL422', COLUMN = 'incident';
    END IF;
    IF own_handle IS NOT NULL THEN
        SELECT id, active, team_id INTO own_id, own_active, own_team
        FROM people WHERE handle = own_handle;
        IF own_id IS NULL THEN
            RAISE EXCEPTION 'unknown person "%"', own_handle
                USING ERRCODE = 'CL422', COLUMN = 'owner';
        ELSIF NOT own_active THEN
            RAISE EXCEPTION 'person "%" is inactive', own_handle
                USING ERRCODE = 'CL422', COLUMN = 'owner';
        END IF;
    END IF;
    INSERT INTO actions (incident_id, kind, title, description, owner_id, priority, due_on)
    VALUES (inc_id, p->>'kind', p->>'title', coalesce(p->>'description', ''), own_id,
            coalesce(p->>'priority', 'P2'), (p->>'due_on')::date)
    RETURNING * INTO r;
    INSERT INTO events (action_id, source, actor, field, old, new)
    SELECT r.id, src, actor, e.field, NULL, e.new
    FROM (VALUES ('created', r.title), ('owner', own_handle)) AS e (field, new)
    WHERE e.new IS NOT NULL;
    SELECT r.*, p->>'incident', own_handle, own_active, own_team INTO v;
    RETURN action_json(v);
END $$;

-- Called after every change of an action, in its transaction. The sync (0003) replaces
-- it to queue pushes to trackers; until then there is nothing to do.
CREATE FUNCTION cl_sync_after_change(aid bigint, src text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
END $$;

-- Writes `n` over `o` (same id), records one event per changed field, bumps the version.
-- Returns the action's JSON. A change that changes nothing bumps nothing.
CREATE FUNCTION cl_action_apply(o actions, n actions, src text, actor text) RETURNS text
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
    IF changed THEN
        UPDATE actions
        SET title = n.title, description = n.description, kind = n.kind, owner_id = n.owner_id,
            status = n.status, priority = n.priority, due_on = n.due_on,
            closed_at = CASE WHEN action_is_open(n.status) THEN NULL
                             ELSE coalesce(o.closed_at, now()) END,
            version = o.version + 1, updated_at = now()
        WHERE id = o.id;
        PERFORM cl_sync_after_change(o.id, src);
    END IF;
    RETURN (SELECT action_json(v) FROM action_v v WHERE v.id = o.id);
END $$;

-- The status machine, shared by PATCH and the verbs: start (open/blocked ->
-- in_progress), block (open/in_progress -> blocked), done and drop (any open state ->
-- done/wont_do), reopen (done/wont_do -> open). Anything else is CLTRN.
CREATE FUNCTION cl_status_check(aid bigint, from_status text, to_status text) RETURNS void
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

CREATE FUNCTION cl_action_lock(aid bigint, expected integer) RETURNS actions
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

CREATE FUNCTION cl_action_update(aid bigint, expected integer, p jsonb, src text, actor text)
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
    RETURN cl_action_apply(o, n, src, actor);
END $$;

-- Status verbs: start, block, done, drop, reopen. A verb that would not change the
-- status (done on a done action) is refused too: the caller asked for a move.
CREATE FUNCTION cl_action_transition(aid bigint, expected integer, verb text, src text,
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
    RETURN cl_action_apply(o, n, src, actor);
END $$;

CREATE FUNCTION cl_action_history(aid bigint) RETURNS text LANGUAGE plpgsql STABLE AS $$
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
