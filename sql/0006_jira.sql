-- 0006: Jira as a second tracker. A Jira scope is a project key, optionally followed by
-- an issue type ("OPS", "OPS/Bug"); the same rule as jira_map_scope_split() in C, kept
-- here for the CHECK constraints.
CREATE FUNCTION cl_jira_scope_valid(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT s ~ '^[A-Z][A-Z0-9_]{0,254}(/[^/[:cntrl:]]{1,60})?$'
$$;

ALTER TABLE teams ADD CONSTRAINT teams_jira_scope_valid
    CHECK (sync_tracker IS DISTINCT FROM 'jira' OR cl_jira_scope_valid(sync_scope));
ALTER TABLE incidents ADD CONSTRAINT incidents_jira_scope_valid
    CHECK (sync_tracker IS DISTINCT FROM 'jira' OR cl_jira_scope_valid(sync_scope));
ALTER TABLE links ADD CONSTRAINT links_jira_scope_valid
    CHECK (state = 'broken' OR tracker <> 'jira' OR cl_jira_scope_valid(scope));
-- Reconciliation runs per project: the issue type is only for creating issues.
ALTER TABLE sync_scopes ADD CONSTRAINT sync_scopes_jira_scope_valid
    CHECK (tracker <> 'jira' OR scope ~ '^[A-Z][A-Z0-9_]{0,254}$');

-- A delivery about an issue whose push is under way waits for the push to be recorded:
-- merged in between, the echo of a write in progress (a Jira workflow walked through an
-- intermediate status) would look like somebody's change. not_before is when it is tried
-- again.
ALTER TABLE inbox ADD COLUMN not_before timestamptz;
