-- 0012: correcting mistakes. An archived action or incident is kept, with its history,
-- and hidden from lists, reports and counts (archived_at is set); archiving an incident
-- archives its actions with it, at the same instant. Archiving and re-keying are recorded
-- in the incidents' append-only history, incident_events: made here unless 0011 (the
-- incident history, written in parallel) made it already, with the same columns.
ALTER TABLE actions ADD COLUMN archived_at timestamptz;
ALTER TABLE incidents ADD COLUMN archived_at timestamptz;

CREATE TABLE IF NOT EXISTS incident_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    at           timestamptz NOT NULL DEFAULT now(),
    source       text NOT NULL CHECK (source IN ('cli', 'api', 'github', 'jira', 'scheduler')),
    actor        text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    field        text NOT NULL CHECK (length(field) BETWEEN 1 AND 64),
    old          text,
    new          text
);
CREATE INDEX IF NOT EXISTS incident_events_incident_idx ON incident_events (incident_id, id);
CREATE OR REPLACE TRIGGER incident_events_no_update BEFORE UPDATE OR DELETE ON incident_events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
