-- 0004: repository names that can only be repository names, and what the webhook fixes
-- need: the digest of the remote state a link last applied, and pruning the inbox.

-- GitHub's owner/repo: owner 1..39 and name 1..100 characters of letters, digits, '-',
-- '_' and '.', neither "." nor ".." (a URL would collapse a dot segment). The same rule
-- as valid_github_repo() in C; CHECK constraints use it, so it lives with the schema.
CREATE FUNCTION cl_github_repo_valid(r text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT r ~ '^[A-Za-z0-9_.-]{1,39}/[A-Za-z0-9_.-]{1,100}$'
       AND r !~ '(^|/)\.\.?(/|$)'
$$;

-- Values stored before the rule existed: a default that is not a repository is
-- dropped (it could only send requests elsewhere), a link to one is broken (and kept,
-- with the reason), a reconciliation cursor for one is forgotten.
UPDATE teams SET github_repo = NULL WHERE NOT cl_github_repo_valid(github_repo);
UPDATE incidents SET github_repo = NULL WHERE NOT cl_github_repo_valid(github_repo);
INSERT INTO events (action_id, source, actor, field, old, new)
SELECT action_id, 'github', 'closeloop', 'sync_link', state,
       'broken: ' || left(repo, 150) || ' is not a valid owner/repo'
FROM links
WHERE tracker = 'github' AND state <> 'broken' AND NOT cl_github_repo_valid(repo);
UPDATE links
SET state = 'broken', last_error = left(repo, 150) || ' is not a valid owner/repo',
    error_at = now(), updated_at = now()
WHERE tracker = 'github' AND state <> 'broken' AND NOT cl_github_repo_valid(repo);
UPDATE outbox o SET done_at = now(), claimed_until = NULL,
                    last_error = 'link broken: not a valid owner/repo'
FROM links l
WHERE l.action_id = o.action_id AND l.state = 'broken' AND o.done_at IS NULL
  AND o.failed_at IS NULL;
DELETE FROM sync_repos WHERE tracker = 'github' AND NOT cl_github_repo_valid(repo);

ALTER TABLE teams ADD CONSTRAINT teams_github_repo_valid
    CHECK (cl_github_repo_valid(github_repo));
ALTER TABLE incidents ADD CONSTRAINT incidents_github_repo_valid
    CHECK (cl_github_repo_valid(github_repo));
ALTER TABLE links ADD CONSTRAINT links_repo_valid
    CHECK (state = 'broken' OR tracker <> 'github' OR cl_github_repo_valid(repo));
ALTER TABLE sync_repos ADD CONSTRAINT sync_repos_repo_valid
    CHECK (tracker <> 'github' OR cl_github_repo_valid(repo));

-- The digest (cl_sync_digest) of the remote state last applied at remote_updated_at.
ALTER TABLE links ADD COLUMN remote_digest text;

-- Retention deletes processed deliveries by age.
CREATE INDEX inbox_processed_idx ON inbox (processed_at) WHERE processed_at IS NOT NULL;
