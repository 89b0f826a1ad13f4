-- 0012: correcting mistakes. An archived action or incident is kept, with its history,
-- and hidden from lists, reports and counts (archived_at is set); archiving an incident
-- archives its actions with it, at the same instant. Incidents get their own append-only
-- history (archiving, re-keying), as actions have theirs in events.
ALTER TABLE actions ADD COLUMN archived_at timestamptz;
ALTER TABLE incidents ADD COLUMN archived_at timestamptz;

CREATE TABLE incident_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    at           timestamptz NOT NULL DEFAULT now(),
    source       text NOT NULL CHECK (source IN ('cli', 'api', 'github', 'jira', 'scheduler')),
    actor        text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    field        text NOT NULL CHECK (length(field) BETWEEN 1 AND 64),
    old          text,
    new          text
);
CREATE INDEX incident_events_incident_idx ON incident_events (incident_id, id);
CREATE TRIGGER incident_events_no_update BEFORE UPDATE OR DELETE ON incident_events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
