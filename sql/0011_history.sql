-- 0011: the history of incidents (append-only, like an action's events), and tokens that
-- belong to a person.

-- Every change to an incident made through the API or the CLI: its creation, then one row
-- per field an edit changed, with the old and new values as text, in the change's
-- transaction.
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

-- A token may belong to a person (closeloopd token create --person): the events its
-- changes leave name the person's handle instead of the token, and "me" means them. People
-- are never deleted (only made inactive), so the history keeps their handle.
ALTER TABLE api_tokens ADD COLUMN person_id bigint REFERENCES people (id);
