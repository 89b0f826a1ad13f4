-- 0021: digests rendered by several closeloopd in parallel. A planning statement
-- (cl_digest_plan) inserts a 'pending' digest_runs row for each due (recipient, latest
-- period), with the recipient as planned (plan); workers claim pending rows FOR UPDATE SKIP
-- LOCKED (cl_digest_claim) and, in the claim's transaction, compute the content, queue the
-- mail (and chat message) and mark the row 'sent': a worker killed mid-render leaves the
-- row pending (its transaction rolls back), a committed row is never rendered again.
-- 'superseded': a pending row whose period is no longer its recipient's latest when
-- claimed (a period missed while down is sent once); 'failed': its content could not be
-- computed (error says why; the others go on).
ALTER TABLE digest_runs
    ADD COLUMN state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sent', 'superseded', 'failed')),
    ADD COLUMN plan jsonb,
    ADD COLUMN sent_at timestamptz,
    ADD COLUMN sent_by text CHECK (length(sent_by) <= 64),
    ADD COLUMN error text CHECK (length(error) <= 1000);
UPDATE digest_runs SET state = 'sent', sent_at = created_at;
ALTER TABLE digest_runs ADD CHECK ((state = 'sent') = (sent_at IS NOT NULL));
CREATE INDEX digest_runs_pending_idx ON digest_runs (id) WHERE state = 'pending';

-- The digest's SQL at scale (sql/functions/digests.sql): the incidents that have a
-- facilitator (the recipients), and the due date moves of a period (what slipped).
CREATE INDEX incidents_facilitator_idx ON incidents (facilitator_id)
    WHERE facilitator_id IS NOT NULL;
CREATE INDEX events_due_moves_idx ON events (at, action_id) WHERE field = 'due_on';
-- A team's open work by owner (index-only: its closed actions are not read), what got done
-- and verified in a period.
CREATE INDEX actions_open_owner_idx ON actions (owner_id, due_on, id) INCLUDE (status)
    WHERE status IN ('open', 'in_progress', 'blocked') AND archived_at IS NULL;
CREATE INDEX actions_done_owner_idx ON actions (owner_id, closed_at) WHERE status = 'done';
CREATE INDEX actions_verified_idx ON actions (verified_at) WHERE verified_at IS NOT NULL;
