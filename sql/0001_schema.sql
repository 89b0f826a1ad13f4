-- 0001: the foundation schema. Tables, constraints and indexes.
-- Applied once, in a transaction, by `closeloopd migrate`.

CREATE TABLE teams (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE
                CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    manager_id  bigint,                       -- FK added after people exists
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE people (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    handle           text NOT NULL UNIQUE
                     CHECK (handle ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    name             text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    email            text NOT NULL
                     CHECK (length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
    timezone         text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) <= 64),
    team_id          bigint REFERENCES teams (id),
    active           boolean NOT NULL DEFAULT true,
    github_login     text CHECK (github_login ~ '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$'),
    jira_account_id  text CHECK (length(jira_account_id) BETWEEN 1 AND 128),
    jira_name        text CHECK (length(jira_name) BETWEEN 1 AND 255),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX people_github_login_key ON people (lower(github_login));
CREATE UNIQUE INDEX people_jira_account_id_key ON people (jira_account_id);
CREATE INDEX people_team_idx ON people (team_id);

ALTER TABLE teams ADD CONSTRAINT teams_manager_fk FOREIGN KEY (manager_id) REFERENCES people (id);

CREATE TABLE incidents (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key             text NOT NULL UNIQUE CHECK (key ~ '^[A-Z][A-Z0-9]{0,15}-[0-9]{1,9}$'),
    title           text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
    severity        text CHECK (severity IN ('SEV1', 'SEV2', 'SEV3', 'SEV4', 'SEV5')),
    started_at      timestamptz,
    resolved_at     timestamptz,
    postmortem_url  text CHECK (length(postmortem_url) <= 2000 AND postmortem_url ~ '^https?://[^[:space:]]+$'),
    facilitator_id  bigint REFERENCES people (id),
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT incidents_resolved_at_check
        CHECK (resolved_at IS NULL OR started_at IS NULL OR resolved_at >= started_at)
);

CREATE TABLE actions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    kind         text NOT NULL CHECK (kind IN ('corrective', 'preventive')),
    title        text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 65536),
    owner_id     bigint REFERENCES people (id),   -- exactly one owner, or none yet
    status       text NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'in_progress', 'blocked', 'done', 'wont_do')),
    priority     text NOT NULL DEFAULT 'P2' CHECK (priority IN ('P0', 'P1', 'P2', 'P3', 'P4')),
    due_on       date,
    version      integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz,
    CHECK ((status IN ('done', 'wont_do')) = (closed_at IS NOT NULL))
);
-- Lists are ordered most urgent first: due date (none last), then id. Keyset pagination
-- walks these indexes; the partial one serves open/overdue/unowned dashboards.
CREATE INDEX actions_due_order_idx ON actions ((coalesce(due_on, 'infinity'::date)), id);
CREATE INDEX actions_open_due_idx ON actions ((coalesce(due_on, 'infinity'::date)), id)
    WHERE status IN ('open', 'in_progress', 'blocked');
CREATE INDEX actions_incident_idx ON actions (incident_id, id);
CREATE INDEX actions_owner_idx ON actions (owner_id, id);

-- Append-only history of every change to an action: the audit trail and the timeline.
CREATE TABLE events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action_id  bigint NOT NULL REFERENCES actions (id),
    at         timestamptz NOT NULL DEFAULT now(),
    source     text NOT NULL CHECK (source IN ('cli', 'api', 'github', 'jira', 'scheduler')),
    actor      text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    field      text NOT NULL CHECK (length(field) BETWEEN 1 AND 64),
    old        text,
    new        text
);
CREATE INDEX events_action_idx ON events (action_id, id);

CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

-- Work to push to trackers, written in the same transaction as the change that caused it.
CREATE TABLE outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action_id     bigint NOT NULL REFERENCES actions (id),
    tracker       text NOT NULL CHECK (tracker IN ('github', 'jira')),
    op            text NOT NULL CHECK (length(op) BETWEEN 1 AND 32),
    payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    available_at  timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    done_at       timestamptz,
    failed_at     timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (available_at, id) WHERE done_at IS NULL AND failed_at IS NULL;

CREATE TABLE api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    hash          text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),   -- SHA-256 of the token
    scope         text NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE UNIQUE INDEX api_tokens_live_name_key ON api_tokens (name) WHERE revoked_at IS NULL;
