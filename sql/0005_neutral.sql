-- 0005: tracker-neutral words in the sync schema, and claims that die with their owner.
--
-- A *scope* is where issues live (a GitHub owner/repo, a Jira project key); a remote
-- issue has an immutable remote_id and a remote_key people see (GitHub's issue number,
-- "OPS-12"). Teams and incidents name a default (tracker, scope) instead of a GitHub
-- repository. The poll cursor's companion is the provider's opaque poll_state (GitHub
-- keeps its pages' ETags there).

-- The action view joins links' columns: sql/functions/actions.sql re-creates it (and
-- action_json, which takes its row type) in this same transaction.
DROP VIEW action_v CASCADE;

ALTER TABLE links RENAME COLUMN repo TO scope;
ALTER TABLE links RENAME CONSTRAINT links_repo_valid TO links_scope_valid;
ALTER TABLE links DROP CONSTRAINT links_repo_check;
ALTER TABLE links ADD CONSTRAINT links_scope_check CHECK (length(scope) BETWEEN 1 AND 201);
ALTER INDEX links_repo_idx RENAME TO links_scope_idx;
ALTER TABLE links ADD COLUMN remote_key text CHECK (length(remote_key) BETWEEN 1 AND 64);
UPDATE links SET remote_key = remote_number::text WHERE remote_number IS NOT NULL;
ALTER TABLE links DROP COLUMN remote_number;
ALTER TABLE links DROP COLUMN remote_node_id;  -- GitHub's GraphQL id: never read
-- What closeloop's last write replaced, as closeloop had read it: {"at" (the write's
-- updated_at), "title", "description", "due_on"}. The echo of that write reports what
-- it really replaced; a difference is somebody's edit the write overwrote.
ALTER TABLE links ADD COLUMN remote_read jsonb;
-- What the last delivery merged said its edit replaced, with its updated_at ("at"): the
-- echo of closeloop's write can be merged before that write is recorded, and then the
-- write's record (cl_link_pushed) does the comparison.
ALTER TABLE links ADD COLUMN remote_replaced jsonb;

ALTER TABLE sync_repos RENAME TO sync_scopes;
ALTER TABLE sync_scopes RENAME COLUMN repo TO scope;
ALTER TABLE sync_scopes RENAME COLUMN etag TO poll_state;
ALTER TABLE sync_scopes RENAME CONSTRAINT sync_repos_repo_valid TO sync_scopes_scope_valid;
ALTER INDEX sync_repos_pkey RENAME TO sync_scopes_pkey;

-- Defaults: an action's tracker and scope are its own, else its incident's, else its
-- owner's team's.
ALTER TABLE teams
    ADD COLUMN sync_tracker text CHECK (sync_tracker IN ('github', 'jira')),
    ADD COLUMN sync_scope text CHECK (length(sync_scope) BETWEEN 1 AND 201),
    ADD CONSTRAINT teams_sync_pair CHECK ((sync_tracker IS NULL) = (sync_scope IS NULL)),
    ADD CONSTRAINT teams_sync_scope_valid
        CHECK (sync_tracker IS DISTINCT FROM 'github' OR cl_github_repo_valid(sync_scope));
UPDATE teams SET sync_tracker = 'github', sync_scope = github_repo WHERE github_repo IS NOT NULL;
ALTER TABLE teams DROP COLUMN github_repo;

ALTER TABLE incidents
    ADD COLUMN sync_tracker text CHECK (sync_tracker IN ('github', 'jira')),
    ADD COLUMN sync_scope text CHECK (length(sync_scope) BETWEEN 1 AND 201),
    ADD CONSTRAINT incidents_sync_pair CHECK ((sync_tracker IS NULL) = (sync_scope IS NULL)),
    ADD CONSTRAINT incidents_sync_scope_valid
        CHECK (sync_tracker IS DISTINCT FROM 'github' OR cl_github_repo_valid(sync_scope));
UPDATE incidents SET sync_tracker = 'github', sync_scope = github_repo
WHERE github_repo IS NOT NULL;
ALTER TABLE incidents DROP COLUMN github_repo;

-- Claims: who holds one (the claiming session's application_name, unique per closeloopd
-- process). A claim whose holder has no session left died with it and is free at once;
-- claimed_until stays as the backstop for a holder that is alive but hung.
ALTER TABLE outbox ADD COLUMN claimed_by text;
ALTER TABLE inbox ADD COLUMN claimed_by text;
ALTER TABLE sync_scopes ADD COLUMN claimed_by text;
