-- corrections: undoing mistakes without losing them. Archiving hides an action or an
-- incident (and an incident's actions with it) from lists, reports and counts; it stays
-- readable by id and its history says who archived it. A tracker issue of an archived
-- action is left as it is. Re-keying renames an incident; its actions and links follow
-- (they hold its id), and its history records the old key.

-- The actions that count: not archived (an archived incident's actions are archived with
-- it). What the figures read (sql/functions/figures.sql); the planner inlines it. Made
-- again each time, as action_v is: its columns follow the table's.
DROP VIEW IF EXISTS actions_live;
CREATE VIEW actions_live AS
SELECT * FROM actions WHERE archived_at IS NULL;

CREATE OR REPLACE FUNCTION cl_incident_event(iid bigint, src text, actor text, field text,
                                             old text, new text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO incident_events (incident_id, source, actor, field, old, new)
    VALUES (iid, src, actor, field, old, new)
$$;

-- Archives (arch) or restores one action. An action of an archived incident comes back
-- with its incident, not alone.
CREATE OR REPLACE FUNCTION cl_action_archive(aid bigint, arch boolean, src text, actor text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o actions := cl_action_lock(aid, NULL);
    inc incidents;
BEGIN
    IF arch = (o.archived_at IS NOT NULL) THEN
        RAISE EXCEPTION 'action % is %', aid, CASE WHEN arch THEN 'already archived'
                                                   ELSE 'not archived' END
            USING ERRCODE = 'CLTRN';
    END IF;
    SELECT * INTO inc FROM incidents WHERE id = o.incident_id;
    IF NOT arch AND inc.archived_at IS NOT NULL THEN
        RAISE EXCEPTION 'incident % is archived: unarchive it, and its actions come back with it',
                        inc.key USING ERRCODE = 'CLTRN';
    END IF;
    UPDATE actions SET archived_at = CASE WHEN arch THEN now() END, version = version + 1,
                       updated_at = now()
    WHERE id = aid;
    PERFORM cl_event(aid, src, actor, 'archived', (NOT arch)::text, arch::text);
    RETURN (SELECT action_json(v) FROM action_v v WHERE v.id = aid);
END $$;

-- Archives or restores an incident and, with it, its actions: archiving takes those not
-- archived already; restoring brings back those it took (archived at the same instant).
CREATE OR REPLACE FUNCTION cl_incident_archive(key_in text, arch boolean, src text, actor text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r incidents := cl_incident_lock(key_in);
    was timestamptz := r.archived_at;
    t timestamptz := CASE WHEN arch THEN now() END;
BEGIN
    IF arch = (was IS NOT NULL) THEN
        RAISE EXCEPTION 'incident % is %', r.key, CASE WHEN arch THEN 'already archived'
                                                       ELSE 'not archived' END
            USING ERRCODE = 'CLTRN';
    END IF;
    INSERT INTO events (action_id, source, actor, field, old, new)
    SELECT a.id, src, actor, 'archived', (NOT arch)::text, arch::text || ' (with incident '
           || r.key || ')'
    FROM actions a
    WHERE a.incident_id = r.id AND a.archived_at IS NOT DISTINCT FROM was
    ORDER BY a.id;
    UPDATE actions SET archived_at = t, version = version + 1, updated_at = now()
    WHERE incident_id = r.id AND archived_at IS NOT DISTINCT FROM was;
    PERFORM cl_incident_event(r.id, src, actor, 'archived', (NOT arch)::text, arch::text);
    UPDATE incidents SET archived_at = t, version = version + 1, updated_at = now()
    WHERE id = r.id RETURNING * INTO r;
    RETURN incident_json(r);
END $$;

-- Gives an incident a new key (the key rule: cl_incident_key). A key another incident
-- holds is refused (23505, 409).
CREATE OR REPLACE FUNCTION cl_incident_rekey(key_in text, new_key text, src text, actor text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r incidents := cl_incident_lock(key_in);
    k text := cl_incident_key(new_key);
BEGIN
    IF k = r.key THEN
        RAISE EXCEPTION 'incident % already has the key %', r.key, k
            USING ERRCODE = 'CL422', COLUMN = 'key';
    END IF;
    IF EXISTS (SELECT 1 FROM incidents WHERE key = k) THEN
        RAISE EXCEPTION 'incident key % is taken by another incident', k
            USING ERRCODE = '23505', CONSTRAINT = 'incidents_key_key', TABLE = 'incidents';
    END IF;
    PERFORM cl_incident_event(r.id, src, actor, 'key', r.key, k);
    UPDATE incidents SET key = k, version = version + 1, updated_at = now()
    WHERE id = r.id RETURNING * INTO r;
    -- linked issues name the incident: push them again (an archived action's stays)
    PERFORM cl_sync_enqueue(a.id, 'push')
    FROM actions a JOIN links l ON l.action_id = a.id
    WHERE a.incident_id = r.id AND a.archived_at IS NULL;
    RETURN incident_json(r);
END $$;
