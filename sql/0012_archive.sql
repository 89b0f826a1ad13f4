-- 0012: correcting mistakes. An archived action or incident is kept, with its history,
-- and hidden from lists, reports and counts (archived_at is set); archiving an incident
-- archives its actions with it, at the same instant. Archiving and re-keying are recorded
-- in the incidents' append-only history (incident_events, migration 0011).
ALTER TABLE actions ADD COLUMN archived_at timestamptz;
ALTER TABLE incidents ADD COLUMN archived_at timestamptz;

-- The figures of a team or an owner: everything they read, archived_at included, from the
-- index alone (an index-only scan of the owners' entries).
CREATE INDEX actions_owner_figures_idx ON actions (owner_id)
    INCLUDE (incident_id, status, due_on, first_due_on, created_at, closed_at, archived_at);
