-- Teams, people and incidents: lookups that name the field they check, the JSON the
-- API answers with, and one function per change. Re-created as a whole by `migrate`
-- whenever a file under sql/functions/ changes (see src/migrate.c); schema changes
-- live in the numbered migrations. Errors use our SQLSTATEs:
--   CL404 not found, CL409 version conflict, CLTRN invalid transition,
--   CL422 validation (COLUMN names the field). closeloopd maps them to HTTP.

-- Replaced by the functions below (0003 kept 0002's versions and wrapped them).
DROP FUNCTION IF EXISTS cl_team_create_v2(jsonb);
DROP FUNCTION IF EXISTS cl_team_update_v2(text, jsonb);
DROP FUNCTION IF EXISTS cl_incident_create_v2(jsonb);
DROP FUNCTION IF EXISTS cl_incident_update_v2(text, integer, jsonb);

-- Actions ----------------------------------------------------------------------

CREATE OR REPLACE FUNCTION cl_event(aid bigint, src text, actor text, field text, old text, new text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO events (action_id, source, actor, field, old, new)
    VALUES (aid, src, actor, field, old, new)
$$;

-- Lookups that raise CL422 naming the field -----------------------------------

CREATE OR REPLACE FUNCTION cl_person_id(handle_in text, field text, must_be_active boolean)
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

CREATE OR REPLACE FUNCTION cl_team_id(name_in text, field text) RETURNS bigint
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

CREATE OR REPLACE FUNCTION cl_check_timezone(tz text) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF tz IS NULL OR NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz) THEN
        RAISE EXCEPTION 'unknown time zone "%"', tz USING ERRCODE = 'CL422', COLUMN = 'timezone';
    END IF;
    RETURN tz;
END $$;

CREATE OR REPLACE FUNCTION cl_check_version(kind text, key text, current integer, expected integer)
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF expected IS NOT NULL AND expected <> current THEN
        RAISE EXCEPTION '% % is at version %, not %', kind, key, current, expected
            USING ERRCODE = 'CL409', COLUMN = 'version';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION person_json(p people) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', p.id, 'handle', p.handle, 'name', p.name, 'email', p.email,
        'timezone', p.timezone, 'team', (SELECT name FROM teams WHERE id = p.team_id),
        'active', p.active, 'github_login', p.github_login,
        'jira_account_id', p.jira_account_id, 'jira_name', p.jira_name,
        'review_hour', p.review_hour, 'digest_cadence', p.digest_cadence,
        'created_at', p.created_at, 'updated_at', p.updated_at)::text
$$;

-- People -----------------------------------------------------------------------

CREATE OR REPLACE FUNCTION cl_person_create(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r people;
BEGIN
    INSERT INTO people (handle, name, email, timezone, team_id, active, github_login,
                        jira_account_id, jira_name, review_hour, digest_cadence)
    VALUES (p->>'handle', p->>'name', p->>'email',
            cl_check_timezone(coalesce(p->>'timezone', 'UTC')),
            cl_team_id(p->>'team', 'team'), coalesce((p->>'active')::boolean, true),
            p->>'github_login', p->>'jira_account_id', p->>'jira_name',
            (p->>'review_hour')::smallint, p->>'digest_cadence')
    RETURNING * INTO r;
    RETURN person_json(r);
END $$;

CREATE OR REPLACE FUNCTION cl_person_update(handle_in text, p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r people;
    old people;
BEGIN
    SELECT * INTO r FROM people WHERE handle = handle_in FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'person "%" not found', handle_in USING ERRCODE = 'CL404';
    END IF;
    old := r;
    IF p ? 'name' THEN r.name := p->>'name'; END IF;
    IF p ? 'email' THEN r.email := p->>'email'; END IF;
    IF p ? 'timezone' THEN r.timezone := cl_check_timezone(p->>'timezone'); END IF;
    IF p ? 'team' THEN r.team_id := cl_team_id(p->>'team', 'team'); END IF;
    IF p ? 'active' THEN r.active := (p->>'active')::boolean; END IF;
    IF p ? 'github_login' THEN r.github_login := p->>'github_login'; END IF;
    IF p ? 'jira_account_id' THEN r.jira_account_id := p->>'jira_account_id'; END IF;
    IF p ? 'jira_name' THEN r.jira_name := p->>'jira_name'; END IF;
    IF p ? 'review_hour' THEN r.review_hour := (p->>'review_hour')::smallint; END IF;
    IF p ? 'digest_cadence' THEN r.digest_cadence := p->>'digest_cadence'; END IF;
    IF r IS NOT DISTINCT FROM old THEN   -- nothing changes: no new updated_at
        RETURN person_json(r);
    END IF;
    UPDATE people
    SET name = r.name, email = r.email, timezone = r.timezone, team_id = r.team_id,
        active = r.active, github_login = r.github_login, jira_account_id = r.jira_account_id,
        jira_name = r.jira_name, review_hour = r.review_hour,
        digest_cadence = r.digest_cadence, updated_at = now()
    WHERE id = r.id RETURNING * INTO r;
    RETURN person_json(r);
END $$;

-- A team's or incident's default tracker and scope for its actions, or null.
CREATE OR REPLACE FUNCTION cl_sync_default(tracker_in text, scope_in text) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN scope_in IS NOT NULL
                THEN json_build_object('tracker', tracker_in, 'scope', scope_in) END
$$;

CREATE OR REPLACE FUNCTION team_json(t teams) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', t.id, 'name', t.name,
        'manager', (SELECT handle FROM people WHERE id = t.manager_id),
        'sync', cl_sync_default(t.sync_tracker, t.sync_scope),
        'github_repo', CASE WHEN t.sync_tracker = 'github' THEN t.sync_scope END,
        'jira_project', CASE WHEN t.sync_tracker = 'jira' THEN t.sync_scope END,
        'created_at', t.created_at, 'updated_at', t.updated_at)::text
$$;

CREATE OR REPLACE FUNCTION cl_team_create(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t teams;
BEGIN
    INSERT INTO teams (name, manager_id, sync_tracker, sync_scope)
    VALUES (p->>'name', cl_person_id(p->>'manager', 'manager', false),
            CASE WHEN p->'sync'->>'scope' IS NOT NULL THEN p->'sync'->>'tracker' END,
            p->'sync'->>'scope')
    RETURNING * INTO t;
    RETURN team_json(t);
END $$;

CREATE OR REPLACE FUNCTION cl_team_update(name_in text, p jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t teams;
    old teams;
BEGIN
    SELECT * INTO t FROM teams WHERE name = name_in FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'team "%" not found', name_in USING ERRCODE = 'CL404';
    END IF;
    old := t;
    IF p ? 'name' THEN t.name := p->>'name'; END IF;
    IF p ? 'manager' THEN t.manager_id := cl_person_id(p->>'manager', 'manager', false); END IF;
    IF p ? 'sync' THEN
        t.sync_tracker := CASE WHEN p->'sync'->>'scope' IS NOT NULL THEN p->'sync'->>'tracker' END;
        t.sync_scope := p->'sync'->>'scope';
    END IF;
    IF t IS NOT DISTINCT FROM old THEN   -- nothing changes: no new updated_at
        RETURN team_json(t);
    END IF;
    UPDATE teams SET name = t.name, manager_id = t.manager_id, sync_tracker = t.sync_tracker,
                     sync_scope = t.sync_scope, updated_at = now()
    WHERE id = t.id RETURNING * INTO t;
    RETURN team_json(t);
END $$;

CREATE OR REPLACE FUNCTION incident_json(i incidents) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', i.id, 'key', i.key, 'title', i.title, 'severity', i.severity,
        'started_at', i.started_at, 'resolved_at', i.resolved_at,
        'postmortem_url', i.postmortem_url,
        'facilitator', (SELECT handle FROM people WHERE id = i.facilitator_id),
        'version', i.version, 'created_at', i.created_at, 'updated_at', i.updated_at,
        'actions', (SELECT json_build_object(
                        'total', count(*),
                        'open', count(*) FILTER (WHERE a.status = 'open'),
                        'in_progress', count(*) FILTER (WHERE a.status = 'in_progress'),
                        'blocked', count(*) FILTER (WHERE a.status = 'blocked'),
                        'done', count(*) FILTER (WHERE a.status = 'done'),
                        'wont_do', count(*) FILTER (WHERE a.status = 'wont_do'),
                        'overdue', count(*) FILTER (WHERE cl_action_overdue(a.status, a.due_on)),
                        'unowned', count(*) FILTER (WHERE cl_action_unowned(a.status, p.active)))
                    FROM actions a LEFT JOIN people p ON p.id = a.owner_id
                    WHERE a.incident_id = i.id AND a.archived_at IS NULL),
        'archived_at', i.archived_at,
        'sync', cl_sync_default(i.sync_tracker, i.sync_scope),
        'github_repo', CASE WHEN i.sync_tracker = 'github' THEN i.sync_scope END,
        'jira_project', CASE WHEN i.sync_tracker = 'jira' THEN i.sync_scope END)::text
$$;
DROP FUNCTION IF EXISTS incident_json_base(incidents);

-- An incident key as stored: trimmed, upper-case, in the shape 0007 allows; CL422 naming
-- the rule otherwise. Lookups compare with upper(), so any case finds the incident.
CREATE OR REPLACE FUNCTION cl_incident_key(k text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    n text := upper(btrim(k));
BEGIN
    IF n IS NULL OR length(n) > 40 OR n !~ '^[A-Z][A-Z0-9]{0,15}(-[A-Z0-9]{1,16}){1,3}$' THEN
        RAISE EXCEPTION 'incident key "%" is not valid: 2 to 4 parts of letters and digits '
                        'joined by "-", the first starting with a letter, at most 40 characters '
                        '(e.g. INC-117 or INC-2026-117; any case)', k
            USING ERRCODE = 'CL422', COLUMN = 'key';
    END IF;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION cl_incident_create(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r incidents;
BEGIN
    INSERT INTO incidents (key, title, severity, started_at, resolved_at, postmortem_url,
                           facilitator_id, sync_tracker, sync_scope)
    VALUES (cl_incident_key(p->>'key'), p->>'title', p->>'severity',
            (p->>'started_at')::timestamptz,
            (p->>'resolved_at')::timestamptz, p->>'postmortem_url',
            cl_person_id(p->>'facilitator', 'facilitator', false),
            CASE WHEN p->'sync'->>'scope' IS NOT NULL THEN p->'sync'->>'tracker' END,
            p->'sync'->>'scope')
    RETURNING * INTO r;
    RETURN incident_json(r);
END $$;

-- The incident of a key (any case), locked for a change; CL404 when there is none.
CREATE OR REPLACE FUNCTION cl_incident_lock(key_in text) RETURNS incidents
LANGUAGE plpgsql AS $$
DECLARE
    r incidents;
BEGIN
    SELECT * INTO r FROM incidents WHERE key = upper(key_in) FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incident "%" not found', key_in USING ERRCODE = 'CL404';
    END IF;
    RETURN r;
END $$;

CREATE OR REPLACE FUNCTION cl_incident_update(key_in text, expected integer, p jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r incidents := cl_incident_lock(key_in);
    old incidents;
BEGIN
    PERFORM cl_check_version('incident', key_in, r.version, expected);
    old := r;
    IF p ? 'title' THEN r.title := p->>'title'; END IF;
    IF p ? 'severity' THEN r.severity := p->>'severity'; END IF;
    IF p ? 'started_at' THEN r.started_at := (p->>'started_at')::timestamptz; END IF;
    IF p ? 'resolved_at' THEN r.resolved_at := (p->>'resolved_at')::timestamptz; END IF;
    IF p ? 'postmortem_url' THEN r.postmortem_url := p->>'postmortem_url'; END IF;
    IF p ? 'facilitator' THEN
        r.facilitator_id := cl_person_id(p->>'facilitator', 'facilitator', false);
    END IF;
    IF p ? 'sync' THEN
        r.sync_tracker := CASE WHEN p->'sync'->>'scope' IS NOT NULL THEN p->'sync'->>'tracker' END;
        r.sync_scope := p->'sync'->>'scope';
    END IF;
    IF r IS NOT DISTINCT FROM old THEN   -- nothing changes: no new version (as for actions)
        RETURN incident_json(r);
    END IF;
    UPDATE incidents
    SET title = r.title, severity = r.severity, started_at = r.started_at,
        resolved_at = r.resolved_at, postmortem_url = r.postmortem_url,
        facilitator_id = r.facilitator_id, sync_tracker = r.sync_tracker,
        sync_scope = r.sync_scope,
        version = r.version + 1, updated_at = now()
    WHERE id = r.id RETURNING * INTO r;
    RETURN incident_json(r);
END $$;
