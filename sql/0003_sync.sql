-- 0003: two-way sync with trackers (GitHub now, Jira next). Tracker-neutral: a remote
-- issue reaches these functions as a neutral snapshot (jsonb):
--   {"remote_id","node_id","number","repo","url","updated_at","title","description",
--    "due_on" (absent when the issue carries no due section),"status" (open|done|wont_do),
--    "assignees" [logins or account ids]}
-- Statuses are compared in remote terms: open, in_progress and blocked are all "open".

-- A random id for this installation, written into the markers it puts on remote issues,
-- so two installations sharing a repository never claim each other's issues.
CREATE TABLE settings (
    key    text PRIMARY KEY,
    value  text NOT NULL
);
INSERT INTO settings (key, value) VALUES ('instance_id', replace(gen_random_uuid()::text, '-', ''));

-- Default repositories: an action's repository is its own, else its incident's, else its
-- owner's team's.
ALTER TABLE teams ADD COLUMN github_repo text
    CHECK (github_repo ~ '^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$');
ALTER TABLE incidents ADD COLUMN github_repo text
    CHECK (github_repo ~ '^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$');

CREATE TABLE links (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action_id          bigint NOT NULL UNIQUE REFERENCES actions (id),
    tracker            text NOT NULL CHECK (tracker IN ('github', 'jira')),
    connection         text NOT NULL CHECK (connection ~ '^[a-z0-9_-]{1,32}$'),
    repo               text NOT NULL CHECK (length(repo) BETWEEN 3 AND 201),
    state              text NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'creating', 'linked', 'broken')),
    remote_id          text,              -- GitHub's immutable issue id; Jira's issue id
    remote_node_id     text,
    remote_number      integer,           -- GitHub issue number (changes on transfer)
    url                text,
    base               jsonb NOT NULL DEFAULT '{}'::jsonb, -- the values both sides last agreed on
    remote_updated_at  timestamptz,
    creating_since     timestamptz,       -- first create attempt: the marker search starts here
    last_error         text,
    error_at           timestamptz,
    warning            text,
    synced_at          timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'linked' OR remote_id IS NOT NULL)
);
CREATE UNIQUE INDEX links_remote_key ON links (tracker, connection, remote_id)
    WHERE remote_id IS NOT NULL;
CREATE INDEX links_repo_idx ON links (tracker, connection, repo);

-- Webhook deliveries, stored before answering 202 and applied afterwards.
CREATE TABLE inbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tracker       text NOT NULL CHECK (tracker IN ('github', 'jira')),
    connection    text NOT NULL,
    delivery_id   text NOT NULL CHECK (length(delivery_id) BETWEEN 1 AND 200),
    event         text NOT NULL CHECK (length(event) BETWEEN 1 AND 100),
    payload       text NOT NULL,          -- the raw body, exactly as signed
    received_at   timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    processed_at  timestamptz,
    last_error    text,
    UNIQUE (tracker, connection, delivery_id)
);
CREATE INDEX inbox_pending_idx ON inbox (id) WHERE processed_at IS NULL;

-- A delivery whose application keeps failing stays unprocessed with its error after five
-- attempts (a dead letter, visible in sync status), instead of being retried forever.
CREATE FUNCTION cl_inbox_failed(inbox_id bigint, err text) RETURNS void LANGUAGE sql AS $$
    UPDATE inbox SET last_error = err, claimed_until = NULL WHERE id = inbox_id
$$;

-- Reconciliation state per connection and repository.
CREATE TABLE sync_repos (
    tracker          text NOT NULL,
    connection       text NOT NULL,
    repo             text NOT NULL,
    cursor           timestamptz,         -- newest remote updated_at seen
    etag             text,                -- of the listing at `cursor`
    next_poll_at     timestamptz NOT NULL DEFAULT now(),
    claimed_until    timestamptz,
    last_success_at  timestamptz,
    last_attempt_at  timestamptz,
    last_error       text,
    requests         bigint NOT NULL DEFAULT 0,  -- listing requests made
    not_modified     bigint NOT NULL DEFAULT 0,  -- of which answered 304 (free)
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tracker, connection, repo)
);

ALTER TABLE outbox ADD COLUMN claimed_until timestamptz;
CREATE INDEX outbox_action_idx ON outbox (action_id, id);
ALTER TABLE outbox DROP CONSTRAINT outbox_op_check,
    ADD CONSTRAINT outbox_op_check CHECK (op IN ('create', 'push'));

-- Work for the outbox worker, woken by NOTIFY at commit.
CREATE FUNCTION cl_sync_enqueue(aid bigint, op_in text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    l links;
BEGIN
    SELECT * INTO l FROM links WHERE action_id = aid;
    IF NOT FOUND OR l.state = 'broken' THEN
        RETURN;
    END IF;
    INSERT INTO outbox (action_id, tracker, op) VALUES (aid, l.tracker, op_in);
    PERFORM pg_notify('closeloop_outbox', l.tracker);
END $$;

-- Local changes push; changes that came from a tracker were merged by cl_sync_apply,
-- which enqueues a push itself when the merge leaves closeloop ahead.
CREATE OR REPLACE FUNCTION cl_sync_after_change(aid bigint, src text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF src NOT IN ('github', 'jira') THEN
        PERFORM cl_sync_enqueue(aid, 'push');
    END IF;
END $$;

-- The action in the terms the sync compares: status collapsed to remote terms, trailing
-- blanks of the description dropped (trackers trim them; keeping them would ping-pong).
CREATE FUNCTION cl_sync_local(aid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'title', a.title, 'description', rtrim(a.description, E' \t\r\n'), 'due_on', a.due_on,
        'owner', p.handle,
        'status', CASE WHEN action_is_open(a.status) THEN 'open' ELSE a.status END)
    FROM actions a LEFT JOIN people p ON p.id = a.owner_id
    WHERE a.id = aid
$$;

-- What a push sends: the sync fields plus what rendering needs.
CREATE FUNCTION cl_sync_push_view(aid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT cl_sync_local(a.id) || jsonb_build_object(
        'id', a.id, 'kind', a.kind, 'owner_login', p.github_login,
        'owner_jira', p.jira_account_id, 'incident', i.key, 'incident_title', i.title,
        'postmortem_url', i.postmortem_url)
    FROM actions a JOIN incidents i ON i.id = a.incident_id
    LEFT JOIN people p ON p.id = a.owner_id
    WHERE a.id = aid
$$;

-- Maps remote assignees to an owner handle. Returns {"owner": handle|null} when exactly
-- one assignee maps to an active person (or there is none), else {"warning": text}:
-- several assignees, or one that maps to nobody, never changes the owner.
CREATE FUNCTION cl_sync_owner(tracker_in text, assignees jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    who text;
    handle_out text;
BEGIN
    IF assignees IS NULL OR jsonb_typeof(assignees) <> 'array' THEN
        RETURN '{"skip": true}'::jsonb;
    END IF;
    IF jsonb_array_length(assignees) = 0 THEN
        RETURN '{"owner": null}'::jsonb;
    END IF;
    IF jsonb_array_length(assignees) > 1 THEN
        RETURN jsonb_build_object('warning', format('%s has %s assignees (%s); closeloop keeps one owner',
                                  tracker_in, jsonb_array_length(assignees), assignees::text));
    END IF;
    who := assignees->>0;
    SELECT handle INTO handle_out FROM people
    WHERE active AND CASE tracker_in WHEN 'github' THEN lower(github_login) = lower(who)
                                     ELSE jira_account_id = who OR jira_name = who END;
    IF handle_out IS NULL THEN
        RETURN jsonb_build_object('warning',
                                  format('%s assignee "%s" maps to no active person', tracker_in, who));
    END IF;
    RETURN jsonb_build_object('owner', handle_out);
END $$;

-- Which side wins when both changed a field since they last agreed: the tracker for
-- what owners edit there (title, description, status), closeloop for the facilitator's
-- commitments (owner, due date). The losing value is kept in a conflict event.
CREATE FUNCTION cl_sync_remote_wins(field text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT field IN ('title', 'description', 'status')
$$;

-- Three-way merge of one remote snapshot into its action. Returns
-- {"linked": bool, "stale": bool, "changed": [...], "conflicts": [...], "push": bool}.
-- Fields whose remote value equals the base are unchanged remotely, so our own writes
-- coming back never change anything (no echo).
CREATE FUNCTION cl_sync_apply(tracker_in text, conn text, remote jsonb, src text, actor text,
                              enqueue boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    l links;
    o actions;
    n actions;
    loc jsonb;
    own jsonb;
    r jsonb := '{}'::jsonb;
    merged jsonb;
    f text;
    changed text[] := '{}';
    conflicts text[] := '{}';
    push boolean := false;
    remote_changed boolean;
    local_changed boolean;
    warning_text text;
BEGIN
    SELECT * INTO l FROM links
    WHERE tracker = tracker_in AND connection = conn AND remote_id = remote->>'remote_id'
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN '{"linked": false}'::jsonb;
    END IF;
    IF l.remote_updated_at IS NOT NULL
       AND (remote->>'updated_at')::timestamptz < l.remote_updated_at THEN
        RETURN jsonb_build_object('linked', true, 'stale', true);
    END IF;
    o := cl_action_lock(l.action_id, NULL);
    n := o;
    loc := cl_sync_local(o.id);
    -- remote values in closeloop terms; a field the remote cannot tell is taken as base
    r := jsonb_build_object('title', remote->'title', 'description', remote->'description',
                            'status', remote->'status');
    IF remote ? 'due_on' THEN
        r := r || jsonb_build_object('due_on', remote->'due_on');
    ELSE
        r := r || jsonb_build_object('due_on', coalesce(l.base->'due_on', loc->'due_on'));
    END IF;
    own := cl_sync_owner(tracker_in, remote->'assignees');
    IF loc->>'owner' IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM people WHERE handle = loc->>'owner'
           AND CASE tracker_in WHEN 'github' THEN github_login IS NOT NULL
                               ELSE jira_account_id IS NOT NULL END) THEN
        -- closeloop cannot express this owner remotely: the assignees are left alone
        -- and do not count as a change either way
        warning_text := format('owner "%s" has no %s account mapped; the assignee is left alone',
                               loc->>'owner', tracker_in);
        own := '{"skip": true}'::jsonb;
    END IF;
    IF own ? 'owner' THEN
        r := r || jsonb_build_object('owner', own->'owner');
    ELSIF own ? 'skip' AND warning_text IS NOT NULL THEN
        r := r || jsonb_build_object('owner', loc->'owner');
        l.base := l.base || jsonb_build_object('owner', loc->'owner');
    ELSE
        r := r || jsonb_build_object('owner', coalesce(l.base->'owner', loc->'owner'));
        warning_text := own->>'warning';
    END IF;
    merged := l.base;
    FOREACH f IN ARRAY ARRAY['title', 'description', 'status', 'owner', 'due_on'] LOOP
        -- with no base yet (an existing issue just linked) both sides count as changed
        remote_changed := NOT (l.base ? f) OR r->f IS DISTINCT FROM l.base->f;
        local_changed := NOT (l.base ? f) OR loc->f IS DISTINCT FROM l.base->f;
        IF NOT remote_changed THEN
            push := push OR local_changed;                    -- only closeloop changed it
            CONTINUE;
        END IF;
        merged := merged || jsonb_build_object(f, r->f);      -- base: what the remote holds
        IF loc->f IS NOT DISTINCT FROM r->f THEN
            CONTINUE;                                          -- both hold the same value
        END IF;
        IF local_changed THEN                                  -- both changed it: conflict
            conflicts := conflicts || f;
            PERFORM cl_event(o.id, src, actor, 'conflict.' || f, loc->>f, r->>f);
            IF NOT cl_sync_remote_wins(f) THEN
                push := true;                                  -- closeloop's value goes back
                CONTINUE;
            END IF;
        END IF;
        changed := changed || f;
        CASE f
            WHEN 'title' THEN n.title := r->>'title';
            WHEN 'description' THEN n.description := coalesce(r->>'description', '');
            WHEN 'due_on' THEN n.due_on := (r->>'due_on')::date;
            WHEN 'owner' THEN n.owner_id := (SELECT id FROM people WHERE handle = r->>'owner');
            WHEN 'status' THEN n.status := r->>'status';
        END CASE;
    END LOOP;
    IF warning_text IS DISTINCT FROM l.warning AND warning_text IS NOT NULL THEN
        PERFORM cl_event(o.id, src, actor, 'sync_warning', l.warning, warning_text);
    END IF;
    IF cardinality(changed) > 0 THEN
        PERFORM cl_action_apply(o, n, src, actor);
    END IF;
    UPDATE links
    SET base = merged, remote_updated_at = greatest(remote_updated_at,
                                                    (remote->>'updated_at')::timestamptz),
        remote_node_id = coalesce(remote->>'node_id', remote_node_id),
        remote_number = coalesce((remote->>'number')::int, remote_number),
        repo = coalesce(remote->>'repo', repo), url = coalesce(remote->>'url', url),
        state = 'linked', warning = warning_text, synced_at = now(), updated_at = now()
    WHERE id = l.id;
    IF push AND enqueue THEN   -- a running push sends it anyway: no second job
        PERFORM cl_sync_enqueue(o.id, 'push');
    END IF;
    RETURN jsonb_build_object('linked', true, 'stale', false, 'action', o.id,
                              'changed', to_jsonb(changed), 'conflicts', to_jsonb(conflicts),
                              'push', push, 'local', cl_sync_push_view(o.id));
END $$;

-- Outbox claims: one action at a time, all its pending rows together, under a lease so
-- that other instances skip it and a crashed worker's claim expires.
CREATE FUNCTION cl_outbox_claim(tracker_in text, conn text, lease_seconds double precision)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    head outbox;
    ids bigint[];
    ops text[];
    job jsonb;
BEGIN
    SELECT * INTO head FROM outbox o
    WHERE o.tracker = tracker_in AND o.done_at IS NULL AND o.failed_at IS NULL
      AND EXISTS (SELECT 1 FROM links k WHERE k.action_id = o.action_id AND k.connection = conn)
      AND o.available_at <= now() AND (o.claimed_until IS NULL OR o.claimed_until < now())
      AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.action_id = o.action_id
                      AND x.done_at IS NULL AND x.claimed_until >= now())
    ORDER BY o.available_at, o.id
    LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND OR NOT pg_try_advisory_xact_lock(7354202, (head.action_id % 2147483647)::int)
    THEN
        RETURN NULL;
    END IF;
    WITH c AS (
        UPDATE outbox SET claimed_until = now() + make_interval(secs => lease_seconds),
                          attempts = attempts + 1
        WHERE action_id = head.action_id AND done_at IS NULL AND failed_at IS NULL
          AND available_at <= now()
        RETURNING id, op)
    SELECT array_agg(id ORDER BY id), array_agg(op) INTO ids, ops FROM c;
    SELECT jsonb_build_object(
        'outbox', to_jsonb(ids),
        'op', CASE WHEN 'create' = ANY (ops) THEN 'create' ELSE 'push' END,
        'attempts', (SELECT max(attempts) FROM outbox WHERE id = ANY (ids)),
        'instance', (SELECT value FROM settings WHERE key = 'instance_id'),
        'link', jsonb_build_object('id', l.id, 'connection', l.connection, 'repo', l.repo,
                                   'state', l.state, 'remote_id', l.remote_id,
                                   'number', l.remote_number, 'base', l.base,
                                   'creating_since', l.creating_since),
        'action', cl_sync_push_view(l.action_id))
    INTO job
    FROM links l
    WHERE l.action_id = head.action_id;
    RETURN job;
END $$;

CREATE FUNCTION cl_outbox_done(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    UPDATE outbox SET done_at = now(), claimed_until = NULL, last_error = NULL
    WHERE id = ANY (ids)
$$;

-- A transient failure: try again after `delay` seconds (the caller adds jitter).
CREATE FUNCTION cl_outbox_retry(ids bigint[], err text, delay double precision) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE outbox SET claimed_until = NULL, last_error = err,
                      available_at = now() + make_interval(secs => delay)
    WHERE id = ANY (ids);
    UPDATE links SET last_error = err, error_at = now(), updated_at = now()
    WHERE action_id = (SELECT action_id FROM outbox WHERE id = ids[1]);
END $$;

-- A permanent rejection (e.g. GitHub's 422): never retried, visible on the action.
CREATE FUNCTION cl_outbox_fail(ids bigint[], err text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE outbox SET claimed_until = NULL, failed_at = now(), last_error = err
    WHERE id = ANY (ids);
    UPDATE links SET last_error = err, error_at = now(), updated_at = now()
    WHERE action_id = (SELECT action_id FROM outbox WHERE id = ids[1]);
END $$;

-- Marks the link as being created, once: the first attempt's time bounds the marker
-- search after a crash.
CREATE FUNCTION cl_link_creating(link_id bigint) RETURNS timestamptz LANGUAGE sql AS $$
    UPDATE links SET state = 'creating', creating_since = coalesce(creating_since, now()),
                     updated_at = now()
    WHERE id = link_id RETURNING creating_since
$$;

-- Records what the remote now holds after closeloop wrote it: the snapshot becomes the
-- base (in closeloop terms, from `agreed`), so the echo changes nothing.
CREATE FUNCTION cl_link_pushed(link_id bigint, remote jsonb, agreed jsonb) RETURNS void
LANGUAGE sql AS $$
    UPDATE links
    SET state = 'linked', remote_id = coalesce(remote->>'remote_id', remote_id),
        remote_node_id = coalesce(remote->>'node_id', remote_node_id),
        remote_number = coalesce((remote->>'number')::int, remote_number),
        repo = coalesce(remote->>'repo', repo), url = coalesce(remote->>'url', url),
        base = base || jsonb_build_object('title', agreed->'title',
                                          'description', agreed->'description',
                                          'status', agreed->'status', 'owner', agreed->'owner',
                                          'due_on', agreed->'due_on'),
        remote_updated_at = greatest(remote_updated_at, (remote->>'updated_at')::timestamptz),
        last_error = NULL, error_at = NULL, synced_at = now(), updated_at = now()
    WHERE id = link_id
$$;

CREATE FUNCTION cl_link_broken(link_id bigint, err text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    aid bigint;
BEGIN
    UPDATE links SET state = 'broken', last_error = err, error_at = now(), updated_at = now()
    WHERE id = link_id AND state <> 'broken' RETURNING action_id INTO aid;
    IF aid IS NOT NULL THEN
        PERFORM cl_event(aid, (SELECT tracker FROM links WHERE id = link_id), 'closeloop',
                         'sync_link', 'linked', 'broken: ' || err);
        UPDATE outbox SET done_at = now(), claimed_until = NULL,
                          last_error = 'link broken: ' || err
        WHERE action_id = aid AND done_at IS NULL AND failed_at IS NULL;
    END IF;
END $$;


-- A fetched remote for a link: attach its ids (first fetch of a linked reference, or a
-- transfer that gave the issue a new id), then merge.
CREATE FUNCTION cl_sync_fetched(link_id bigint, remote jsonb, actor text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    l links;
BEGIN
    UPDATE links SET remote_id = remote->>'remote_id',
                     remote_number = coalesce((remote->>'number')::int, remote_number),
                     repo = coalesce(remote->>'repo', repo), url = coalesce(remote->>'url', url),
                     updated_at = now()
    WHERE id = link_id RETURNING * INTO l;
    -- a transfer followed here moves the link to a repository that must be polled too
    INSERT INTO sync_repos (tracker, connection, repo, cursor)
    VALUES (l.tracker, l.connection, l.repo, now() - interval '5 minutes')
    ON CONFLICT DO NOTHING;
    RETURN cl_sync_apply(l.tracker, l.connection, remote, l.tracker, actor, false);
END $$;

-- The connection serving a repository, from the routing the service passes in:
-- {"default": "github" | null, "owners": {"acme": "ghe", ...}}.
CREATE FUNCTION cl_sync_connection(routes jsonb, repo text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(routes->'owners'->>lower(split_part(repo, '/', 1)), routes->>'default')
$$;

CREATE FUNCTION cl_link_new(aid bigint, repo_in text, number_in integer, routes jsonb,
                            op_in text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    conn text := cl_sync_connection(routes, repo_in);
BEGIN
    IF conn IS NULL THEN
        RAISE EXCEPTION 'no GitHub connection is configured for %', repo_in
            USING ERRCODE = 'CL422', COLUMN = 'github';
    END IF;
    INSERT INTO links (action_id, tracker, connection, repo, remote_number)
    VALUES (aid, 'github', conn, repo_in, number_in);
    INSERT INTO sync_repos (tracker, connection, repo, cursor)
    VALUES ('github', conn, repo_in, now() - interval '5 minutes')
    ON CONFLICT DO NOTHING;
    PERFORM cl_sync_enqueue(aid, op_in);
END $$;

-- Creates the action and, when it has a repository (its own "github", else its
-- incident's, else its owner's team's), its link and the outbox row, in one transaction.
-- The defaults come from the lookups the creation makes anyway. It replaces 0002's
-- cl_action_create, which knew no repositories.
DROP FUNCTION cl_action_create(jsonb, text, text);
CREATE FUNCTION cl_action_create(p jsonb, src text, actor text, routes jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    inc_id bigint;
    repo_in text;
    own_handle text := p->>'owner';
    own_id bigint;
    own_active boolean;
    own_team bigint;
    r actions;
    v action_v;
BEGIN
    SELECT id, github_repo INTO inc_id, repo_in FROM incidents WHERE key = p->>'incident';
    IF inc_id IS NULL THEN
        RAISE EXCEPTION 'unknown incident "%"', p->>'incident'
            USING ERRCODE = 'CL422', COLUMN = 'incident';
    END IF;
    IF own_handle IS NOT NULL THEN
        SELECT pe.id, pe.active, pe.team_id, coalesce(repo_in, t.github_repo)
        INTO own_id, own_active, own_team, repo_in
        FROM people pe LEFT JOIN teams t ON t.id = pe.team_id WHERE pe.handle = own_handle;
        IF own_id IS NULL THEN
            RAISE EXCEPTION 'unknown person "%"', own_handle
                USING ERRCODE = 'CL422', COLUMN = 'owner';
        ELSIF NOT own_active THEN
            RAISE EXCEPTION 'person "%" is inactive', own_handle
                USING ERRCODE = 'CL422', COLUMN = 'owner';
        END IF;
    END IF;
    IF p ? 'github' THEN
        repo_in := p->>'github';
    END IF;
    INSERT INTO actions (incident_id, kind, title, description, owner_id, priority, due_on)
    VALUES (inc_id, p->>'kind', p->>'title', coalesce(p->>'description', ''), own_id,
            coalesce(p->>'priority', 'P2'), (p->>'due_on')::date)
    RETURNING * INTO r;
    INSERT INTO events (action_id, source, actor, field, old, new)
    SELECT r.id, src, actor, e.field, NULL, e.new
    FROM (VALUES ('created', r.title), ('owner', own_handle)) AS e (field, new)
    WHERE e.new IS NOT NULL;
    IF repo_in IS NOT NULL THEN
        PERFORM cl_link_new(r.id, repo_in, NULL, routes, 'create');
        RETURN (SELECT action_json(x) FROM action_v x WHERE x.id = r.id);
    END IF;
    SELECT r.*, p->>'incident', own_handle, own_active, own_team INTO v;
    RETURN action_json(v);
END $$;

CREATE FUNCTION cl_action_link(aid bigint, ref text, routes jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    m text[] := regexp_match(ref, '^([A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100})#([0-9]{1,9})$');
BEGIN
    PERFORM cl_action_lock(aid, NULL);
    IF m IS NULL THEN
        RAISE EXCEPTION 'expected owner/repo#number, not "%"', ref
            USING ERRCODE = 'CL422', COLUMN = 'github';
    END IF;
    IF EXISTS (SELECT 1 FROM links WHERE action_id = aid) THEN
        RAISE EXCEPTION 'action % is already linked', aid
            USING ERRCODE = '23505', CONSTRAINT = 'links_action_id_key', TABLE = 'links';
    END IF;
    IF EXISTS (SELECT 1 FROM links WHERE tracker = 'github' AND repo = m[1]
               AND remote_number = m[2]::int AND state <> 'broken') THEN
        RAISE EXCEPTION '%#% is already linked to another action', m[1], m[2]
            USING ERRCODE = '23505', CONSTRAINT = 'links_github_key', TABLE = 'links';
    END IF;
    PERFORM cl_link_new(aid, m[1], m[2]::int, routes, 'push');
    RETURN (SELECT action_json(v) FROM action_v v WHERE v.id = aid);
END $$;

-- Webhooks: a transferred issue (new id, number, repository) and a deleted one.
CREATE FUNCTION cl_link_moved(tracker_in text, conn text, old_id text, remote jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    lid bigint;
BEGIN
    UPDATE links SET remote_id = remote->>'remote_id', remote_node_id = remote->>'node_id',
                     remote_number = (remote->>'number')::int, repo = remote->>'repo',
                     url = remote->>'url', updated_at = now()
    WHERE tracker = tracker_in AND connection = conn AND remote_id = old_id
    RETURNING id INTO lid;
    IF lid IS NOT NULL THEN
        INSERT INTO sync_repos (tracker, connection, repo, cursor)
        VALUES (tracker_in, conn, remote->>'repo', now() - interval '5 minutes')
        ON CONFLICT DO NOTHING;
        PERFORM cl_event(action_id, tracker_in, 'closeloop', 'sync_link', NULL,
                         'moved to ' || (remote->>'repo') || '#' || (remote->>'number'))
        FROM links WHERE id = lid;
    END IF;
END $$;

CREATE FUNCTION cl_link_gone(tracker_in text, conn text, old_id text, why text)
RETURNS void LANGUAGE sql AS $$
    SELECT cl_link_broken(id, why) FROM links
    WHERE tracker = tracker_in AND connection = conn AND remote_id = old_id
$$;

-- Inbox: store a verified delivery once (the delivery id deduplicates redeliveries).
CREATE FUNCTION cl_inbox_put(tracker_in text, conn text, delivery text, event_in text,
                             body text) RETURNS text LANGUAGE sql AS $$
    WITH i AS (
        INSERT INTO inbox (tracker, connection, delivery_id, event, payload)
        VALUES (tracker_in, conn, delivery, event_in, body)
        ON CONFLICT (tracker, connection, delivery_id) DO NOTHING
        RETURNING id)
    SELECT json_build_object('accepted', true, 'duplicate', NOT EXISTS (SELECT 1 FROM i),
                             'delivery', delivery)::text
$$;

CREATE FUNCTION cl_inbox_claim(lim integer, lease_seconds double precision)
RETURNS TABLE (id bigint, tracker text, connection text, event text, payload text)
LANGUAGE sql AS $$
    UPDATE inbox i SET claimed_until = now() + make_interval(secs => lease_seconds),
                       attempts = i.attempts + 1
    WHERE i.id IN (SELECT x.id FROM inbox x
                   WHERE x.processed_at IS NULL AND x.attempts < 5
                     AND (x.claimed_until IS NULL OR x.claimed_until < now())
                   ORDER BY x.id LIMIT lim FOR UPDATE SKIP LOCKED)
    RETURNING i.id, i.tracker, i.connection, i.event, i.payload
$$;

-- Applies one parsed delivery and marks it processed, together.
CREATE FUNCTION cl_inbox_apply(inbox_id bigint, kind text, remote jsonb, old_id text,
                               actor text, err text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    b inbox;
    res jsonb := '{}'::jsonb;
BEGIN
    SELECT * INTO b FROM inbox WHERE id = inbox_id FOR UPDATE;
    IF b.processed_at IS NOT NULL THEN
        RETURN '{"duplicate": true}'::jsonb;   -- another instance got there first
    END IF;
    IF kind = 'apply' THEN
        res := cl_sync_apply(b.tracker, b.connection, remote, b.tracker, actor);
    ELSIF kind = 'moved' THEN
        PERFORM cl_link_moved(b.tracker, b.connection, old_id, remote);
    ELSIF kind = 'deleted' THEN
        PERFORM cl_link_gone(b.tracker, b.connection, old_id, 'deleted on ' || b.tracker);
    END IF;
    UPDATE inbox SET processed_at = now(), claimed_until = NULL, last_error = err
    WHERE id = inbox_id;
    RETURN res;
END $$;

-- Reconciliation: claim a repository that is due, then record how the poll went.
CREATE FUNCTION cl_repo_claim(tracker_in text, conn text, lease_seconds double precision)
RETURNS TABLE (repo text, cursor text, etag text) LANGUAGE sql AS $$
    UPDATE sync_repos r SET claimed_until = now() + make_interval(secs => lease_seconds),
                            last_attempt_at = now()
    WHERE (r.tracker, r.connection, r.repo) IN (
        SELECT x.tracker, x.connection, x.repo FROM sync_repos x
        WHERE x.tracker = tracker_in AND x.connection = conn AND x.next_poll_at <= now()
          AND (x.claimed_until IS NULL OR x.claimed_until < now())
        ORDER BY x.next_poll_at LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING r.repo, to_char(r.cursor AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), r.etag
$$;

-- Merges every snapshot of a listing (oldest first) and records the poll.
-- An issue updated after the listing began (listed_at, the first page's Date) moved to
-- the end of a listing sorted by update time, and may have pushed an issue onto a page
-- already read: then the cursor stays where it was, and the next poll reads the range
-- again (its unchanged pages answer 304).
CREATE FUNCTION cl_repo_polled(tracker_in text, conn text, repo_in text, remotes jsonb,
                               etag_in text, unchanged boolean, err text, nrequests integer,
                               interval_seconds double precision, listed_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    applied integer := 0;
    newest timestamptz;
    old_cursor timestamptz;
BEGIN
    SELECT cursor INTO old_cursor FROM sync_repos
    WHERE tracker = tracker_in AND connection = conn AND repo = repo_in;
    IF err IS NULL AND remotes IS NOT NULL THEN
        FOR r IN SELECT * FROM jsonb_array_elements(remotes) LOOP
            IF (cl_sync_apply(tracker_in, conn, r, tracker_in, 'reconcile')->>'linked')::boolean THEN
                applied := applied + 1;
            END IF;
            newest := greatest(newest, (r->>'updated_at')::timestamptz);
        END LOOP;
    END IF;
    UPDATE sync_repos
    SET claimed_until = NULL,
        cursor = CASE WHEN err IS NOT NULL THEN cursor
                      WHEN listed_at IS NOT NULL AND newest >= listed_at - interval '1 second'
                          THEN cursor
                      ELSE greatest(cursor, newest) END,
        -- an ETag belongs to the URL it came from, and the URL holds the cursor
        etag = CASE WHEN err IS NOT NULL THEN etag
                    WHEN newest IS NOT NULL AND newest > coalesce(old_cursor, '-infinity')
                         AND NOT (listed_at IS NOT NULL
                                  AND newest >= listed_at - interval '1 second')
                        THEN NULL
                    ELSE coalesce(etag_in, etag) END,
        last_success_at = CASE WHEN err IS NULL THEN now() ELSE last_success_at END,
        last_error = err,
        requests = sync_repos.requests + nrequests,
        not_modified = sync_repos.not_modified + CASE WHEN unchanged THEN 1 ELSE 0 END,
        next_poll_at = now() + make_interval(secs => interval_seconds)
    WHERE tracker = tracker_in AND connection = conn AND repo = repo_in;
    RETURN jsonb_build_object('applied', applied);
END $$;

-- Import: every listed issue not linked yet becomes an action of the incident, linked,
-- with the issue's values as the agreed base. One transaction for the whole listing.
CREATE FUNCTION cl_sync_import(tracker_in text, conn text, repo_in text, incident_key text,
                               remotes jsonb, actor text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    inc_id bigint;
    r jsonb;
    own jsonb;
    aid bigint;
    imported integer := 0;
    skipped integer := 0;
BEGIN
    SELECT id INTO inc_id FROM incidents WHERE key = incident_key;
    IF inc_id IS NULL THEN
        RAISE EXCEPTION 'unknown incident "%"', incident_key
            USING ERRCODE = 'CL422', COLUMN = 'incident';
    END IF;
    INSERT INTO sync_repos (tracker, connection, repo) VALUES (tracker_in, conn, repo_in)
    ON CONFLICT DO NOTHING;
    FOR r IN SELECT * FROM jsonb_array_elements(remotes) LOOP
        IF EXISTS (SELECT 1 FROM links WHERE tracker = tracker_in AND connection = conn
                   AND remote_id = r->>'remote_id') THEN
            skipped := skipped + 1;
            CONTINUE;
        END IF;
        own := cl_sync_owner(tracker_in, r->'assignees');
        INSERT INTO actions (incident_id, kind, title, description, owner_id, status, due_on,
                             closed_at)
        VALUES (inc_id,
                CASE WHEN r->'labels' ? 'preventive' THEN 'preventive' ELSE 'corrective' END,
                left(r->>'title', 300), coalesce(r->>'description', ''),
                (SELECT id FROM people WHERE handle = own->>'owner'), r->>'status',
                (r->>'due_on')::date,
                CASE WHEN r->>'status' = 'open' THEN NULL ELSE now() END)
        RETURNING id INTO aid;
        INSERT INTO events (action_id, source, actor, field, old, new)
        VALUES (aid, tracker_in, actor, 'created', NULL,
                'imported from ' || repo_in || '#' || (r->>'number'));
        INSERT INTO links (action_id, tracker, connection, repo, state, remote_id,
                           remote_node_id, remote_number, url, base, remote_updated_at,
                           warning, synced_at)
        VALUES (aid, tracker_in, conn, repo_in, 'linked', r->>'remote_id', r->>'node_id',
                (r->>'number')::int, r->>'url',
                cl_sync_local(aid), (r->>'updated_at')::timestamptz, own->>'warning', now());
        imported := imported + 1;
    END LOOP;
    -- the listing is as good as a reconciliation up to its newest issue: start polling there
    UPDATE sync_repos
    SET cursor = greatest(cursor, (SELECT max((e.value->>'updated_at')::timestamptz)
                                   FROM jsonb_array_elements(remotes) AS e (value))),
        etag = NULL
    WHERE tracker = tracker_in AND connection = conn AND repo = repo_in;
    RETURN jsonb_build_object('imported', imported, 'skipped', skipped);
END $$;

-- The API's view of sync: every action says whether and how it is linked. The link's
-- columns join into the action view; the outbox counts come from a PL/pgSQL function
-- called only for linked actions. No subquery may appear in action_json or the view:
-- it makes every execution set up sub-plans (a GET went from 42k to 8k per second).
-- Pushes waiting for an action, and pushes that failed for good since the last success.
CREATE FUNCTION link_pending(aid bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM outbox WHERE action_id = aid AND done_at IS NULL
            AND failed_at IS NULL);
END $$;

CREATE FUNCTION link_failed(aid bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM outbox o WHERE o.action_id = aid AND o.failed_at IS NOT NULL
            AND o.id > coalesce((SELECT max(d.id) FROM outbox d WHERE d.action_id = aid
                                 AND d.done_at IS NOT NULL), 0));
END $$;

CREATE OR REPLACE VIEW action_v AS
SELECT a.*, i.key AS incident_key, p.handle AS owner_handle, p.active AS owner_active,
       p.team_id AS owner_team_id, l.id AS link_id, l.tracker AS link_tracker,
       l.connection AS link_connection, l.repo AS link_repo, l.remote_number AS link_number,
       l.url AS link_url, l.state AS link_state, l.last_error AS link_error,
       l.error_at AS link_error_at, l.warning AS link_warning, l.synced_at AS link_synced_at
FROM actions a
JOIN incidents i ON i.id = a.incident_id
LEFT JOIN people p ON p.id = a.owner_id
LEFT JOIN links l ON l.action_id = a.id;

CREATE OR REPLACE FUNCTION action_json(v action_v) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', v.id, 'incident', v.incident_key, 'kind', v.kind, 'title', v.title,
        'description', v.description, 'owner', v.owner_handle, 'owner_active', v.owner_active,
        'status', v.status, 'priority', v.priority, 'due_on', v.due_on,
        'overdue', coalesce(action_is_open(v.status) AND v.due_on < current_date, false),
        'version', v.version, 'created_at', v.created_at, 'updated_at', v.updated_at,
        'closed_at', v.closed_at,
        'sync', CASE WHEN v.link_id IS NOT NULL THEN json_build_object(
            'tracker', v.link_tracker, 'connection', v.link_connection, 'repo', v.link_repo,
            'number', v.link_number, 'url', v.link_url, 'state', v.link_state,
            'last_error', v.link_error, 'error_at', v.link_error_at, 'warning', v.link_warning,
            'synced_at', v.link_synced_at, 'pending', link_pending(v.id),
            'failed', link_failed(v.id)) END)::text
$$;

CREATE OR REPLACE FUNCTION team_json(t teams) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', t.id, 'name', t.name,
        'manager', (SELECT handle FROM people WHERE id = t.manager_id),
        'github_repo', t.github_repo,
        'created_at', t.created_at, 'updated_at', t.updated_at)::text
$$;

ALTER FUNCTION incident_json(incidents) RENAME TO incident_json_base;
CREATE FUNCTION incident_json(i incidents) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT (incident_json_base(i)::jsonb || jsonb_build_object('github_repo', i.github_repo))::text
$$;

-- github_repo on create and update of teams and incidents: the functions of 0002 store
-- every other field; these set github_repo in the same statement.
CREATE FUNCTION cl_team_create_v2(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t teams;
BEGIN
    PERFORM cl_team_create(p - 'github_repo');
    UPDATE teams SET github_repo = p->>'github_repo' WHERE name = p->>'name' RETURNING * INTO t;
    RETURN team_json(t);
END $$;

CREATE FUNCTION cl_team_update_v2(name_in text, p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t teams;
    out text := cl_team_update(name_in, p - 'github_repo');
BEGIN
    SELECT * INTO t FROM teams WHERE id = (out::jsonb->>'id')::bigint;
    IF p ? 'github_repo' THEN
        UPDATE teams SET github_repo = p->>'github_repo' WHERE id = t.id RETURNING * INTO t;
    END IF;
    RETURN team_json(t);
END $$;

CREATE FUNCTION cl_incident_create_v2(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r incidents;
BEGIN
    PERFORM cl_incident_create(p - 'github_repo');
    UPDATE incidents SET github_repo = p->>'github_repo' WHERE key = p->>'key' RETURNING * INTO r;
    RETURN incident_json(r);
END $$;

CREATE FUNCTION cl_incident_update_v2(key_in text, expected integer, p jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r incidents;
BEGIN
    PERFORM cl_incident_update(key_in, expected, p - 'github_repo');
    IF p ? 'github_repo' THEN
        UPDATE incidents SET github_repo = p->>'github_repo' WHERE key = key_in;
    END IF;
    SELECT * INTO r FROM incidents WHERE key = key_in;
    RETURN incident_json(r);
END $$;
