-- Two-way sync with trackers: the merge, the outbox, links, reconciliation and import.
-- Tracker-neutral: a remote issue reaches these functions as a neutral snapshot (jsonb):
--   {"remote_id","key","scope","url","updated_at","title","description",
--    "due_on" (absent when the issue does not say),"status" (open|done|wont_do),
--    "assignees" [tracker user ids] (absent: unknown)}
-- A scope is where issues live (owner/repo, a project key); key is what people see.
-- Statuses are compared in remote terms: open, in_progress and blocked are all "open".
-- Re-created as a whole by `migrate` when a file under sql/functions/ changes.

-- Work for the outbox worker, woken by NOTIFY at commit.
CREATE OR REPLACE FUNCTION cl_sync_enqueue(aid bigint, op_in text) RETURNS void LANGUAGE plpgsql AS $$
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

-- Local changes push; changes that came from the link's own tracker were merged by
-- cl_sync_apply, which enqueues a push itself when the merge leaves closeloop ahead.
CREATE OR REPLACE FUNCTION cl_sync_after_change(aid bigint, src text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM links WHERE action_id = aid AND tracker = src) THEN
        PERFORM cl_sync_enqueue(aid, 'push');
    END IF;
END $$;

-- How a remote issue is named to people: owner/repo#123, OPS-12.
CREATE OR REPLACE FUNCTION cl_sync_display(scope text, key text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN key ~ '^[0-9]+$' THEN scope || '#' || key ELSE key END
$$;

-- What a scope is reconciled as: Jira's issue type ("OPS/Bug") is for creating issues;
-- its project is what is searched. Other trackers' scopes are searched as they are.
CREATE OR REPLACE FUNCTION cl_sync_poll_scope(tracker_in text, scope_in text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE tracker_in WHEN 'jira' THEN split_part(scope_in, '/', 1) ELSE scope_in END
$$;

-- Whether the issue's push is under way: its action's outbox rows are claimed by a live
-- holder (this process included). Its echoes wait until the push is recorded.
CREATE OR REPLACE FUNCTION cl_sync_busy(tracker_in text, conn text, rid text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM links l JOIN outbox o ON o.action_id = l.action_id
        WHERE l.tracker = tracker_in AND l.connection = conn AND l.remote_id = rid
          AND o.done_at IS NULL AND o.failed_at IS NULL AND o.claimed_by IS NOT NULL
          AND o.claimed_until >= now()
          AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = o.claimed_by))
$$;

-- Starts reconciling a scope (a no-op when it already is), from `cursor`.
CREATE OR REPLACE FUNCTION cl_scope_add(tracker_in text, conn text, scope_in text,
                                        cursor_in timestamptz) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO sync_scopes (tracker, connection, scope, cursor)
    VALUES (tracker_in, conn, cl_sync_poll_scope(tracker_in, scope_in), cursor_in)
    ON CONFLICT DO NOTHING
$$;

-- Who may hold a claim: nobody when it expired (the backstop for a holder that is
-- alive but hung), when the claiming process has no session left (it died: its claims
-- are free at once, not after a lease), or when the caller is the holder itself (each
-- worker claims only when it holds nothing, so its own claims are leftovers, e.g. of
-- a database outage).
CREATE OR REPLACE FUNCTION cl_claim_held(holder text, until timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT until IS NOT NULL AND until >= now()
       AND holder IS DISTINCT FROM current_setting('application_name')
       AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = holder)
$$;

-- A status in the words a tracker can say: GitHub has open and closed (done, not
-- planned); Jira's status categories also tell "in progress" (blocked is in progress).
CREATE OR REPLACE FUNCTION cl_sync_status_term(tracker_in text, status text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN NOT action_is_open(status) THEN status
                WHEN tracker_in = 'jira' AND status <> 'open' THEN 'in_progress'
                ELSE 'open' END
$$;

-- The action in the terms the sync compares: status in its link's tracker's words,
-- trailing blanks of the description dropped (trackers trim them; keeping them would
-- ping-pong). tracker_in: when the link does not exist yet.
DROP FUNCTION IF EXISTS cl_sync_local(bigint);
CREATE OR REPLACE FUNCTION cl_sync_local(aid bigint, tracker_in text DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'title', a.title, 'description', rtrim(a.description, E' \t\r\n'), 'due_on', a.due_on,
        'owner', p.handle,
        'status', cl_sync_status_term(
                      coalesce(tracker_in, (SELECT tracker FROM links WHERE action_id = a.id)),
                      a.status))
    FROM actions a LEFT JOIN people p ON p.id = a.owner_id
    WHERE a.id = aid
$$;

-- What a push sends: the sync fields plus what rendering needs.
CREATE OR REPLACE FUNCTION cl_sync_push_view(aid bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT cl_sync_local(a.id) || jsonb_build_object(
        'id', a.id, 'kind', a.kind, 'owner_github', p.github_login,
        'owner_jira_account_id', p.jira_account_id, 'owner_jira_name', p.jira_name,
        'incident', i.key, 'incident_title', i.title,
        'postmortem_url', i.postmortem_url)
    FROM actions a JOIN incidents i ON i.id = a.incident_id
    LEFT JOIN people p ON p.id = a.owner_id
    WHERE a.id = aid
$$;

-- Maps remote assignees to an owner handle. Returns {"owner": handle|null} when exactly
-- one assignee maps to an active person (or there is none), else {"warning": text}:
-- several assignees, or one that maps to nobody, never changes the owner.
CREATE OR REPLACE FUNCTION cl_sync_owner(tracker_in text, assignees jsonb) RETURNS jsonb
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
CREATE OR REPLACE FUNCTION cl_sync_remote_wins(field text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT field IN ('title', 'description', 'status')
$$;

-- The id a person has on a tracker (NULL when none is mapped).
CREATE OR REPLACE FUNCTION cl_person_account(handle_in text, tracker_in text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE tracker_in WHEN 'github' THEN github_login
                           ELSE coalesce(jira_account_id, jira_name) END
    FROM people WHERE handle = handle_in
$$;

-- The echo of closeloop's own write (the state closeloop just agreed on) reporting
-- that the write replaced values closeloop never saw: somebody edited the issue between
-- closeloop's read and its write (trackers have no conditional update), and the write
-- overwrote it. Each such value is recovered as a conflict under the field policy: the
-- tracker's side (title, description) is restored and pushed again; closeloop's side
-- (the due date) stays, and the overwritten value is kept in the conflict event.
CREATE OR REPLACE FUNCTION cl_sync_recover(l links, replaced jsonb, src text, actor text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    o actions := cl_action_lock(l.action_id, NULL);
    n actions := o;
    loc jsonb := cl_sync_local(o.id);
    f text;
    lost text[] := '{}';
BEGIN
    IF l.remote_read IS NULL
       OR (l.remote_read->>'at')::timestamptz IS DISTINCT FROM l.remote_updated_at THEN
        RETURN jsonb_build_object('linked', true, 'stale', true);  -- not the echo of our write
    END IF;
    FOREACH f IN ARRAY ARRAY['title', 'description', 'due_on'] LOOP
        IF NOT (replaced ? f) OR NOT (l.remote_read ? f)
           OR replaced->f IS NOT DISTINCT FROM l.remote_read->f
           OR replaced->f IS NOT DISTINCT FROM loc->f THEN
            CONTINUE;    -- what the write replaced is what closeloop read, or holds now
        END IF;
        lost := lost || f;
        -- who made the lost edit is unknown: the echo's sender is closeloop's own writer
        PERFORM cl_event(o.id, src, 'closeloop', 'conflict.' || f, loc->>f, replaced->>f);
        IF cl_sync_remote_wins(f) THEN
            CASE f
                WHEN 'title' THEN n.title := replaced->>'title';
                WHEN 'description' THEN n.description := coalesce(replaced->>'description', '');
            END CASE;
        END IF;
    END LOOP;
    IF n.title IS DISTINCT FROM o.title OR n.description IS DISTINCT FROM o.description THEN
        PERFORM cl_action_apply(o, n, src, 'closeloop');
    END IF;
    IF cardinality(lost) > 0 THEN
        PERFORM cl_sync_enqueue(o.id, 'push');       -- what closeloop holds goes back
    END IF;
    RETURN jsonb_build_object('linked', true, 'stale', true, 'recovered', to_jsonb(lost));
END $$;

-- What a remote snapshot says about the fields the merge compares: two snapshots with
-- the same updated_at and the same digest are the same state of the issue.
CREATE OR REPLACE FUNCTION cl_sync_digest(remote jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT md5(jsonb_build_object(
        'title', remote->'title', 'description', remote->'description',
        'due_on', CASE WHEN remote ? 'due_on' THEN remote->'due_on' ELSE '"?"'::jsonb END,
        'status', remote->'status', 'assignees', remote->'assignees')::text)
$$;

-- Three-way merge of one remote snapshot into its action. Returns
-- {"linked": bool, "stale": bool, "changed": [...], "conflicts": [...], "push": bool}.
-- Fields whose remote value equals the base are unchanged remotely, so our own writes
-- coming back never change anything (no echo).
-- A snapshot older than the last one applied is stale. One with the same updated_at
-- (a second's resolution) is the same state when its digest matches; otherwise two
-- states share that second and which is the later cannot be told from the snapshot
-- (a replayed delivery looks like that): the issue itself is read again (a push job
-- fetches it first) and nothing is applied here. `fresh` snapshots were just read by
-- id and are applied at an equal updated_at.
-- `replaced` (a delivery's own report of the values an edit replaced, e.g. GitHub's
-- changes.body.from) lets the echo of closeloop's own write tell when that write
-- overwrote an edit closeloop never saw: see cl_sync_recover().
DROP FUNCTION IF EXISTS cl_sync_apply(text, text, jsonb, text, text, boolean);
DROP FUNCTION IF EXISTS cl_sync_apply(text, text, jsonb, text, text, boolean, boolean);
CREATE OR REPLACE FUNCTION cl_sync_apply(tracker_in text, conn text, remote jsonb, src text,
                                         actor text, enqueue boolean DEFAULT true,
                                         fresh boolean DEFAULT false,
                                         replaced jsonb DEFAULT NULL)
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
    ts timestamptz := (remote->>'updated_at')::timestamptz;
    dig text := cl_sync_digest(remote);
BEGIN
    SELECT * INTO l FROM links
    WHERE tracker = tracker_in AND connection = conn AND remote_id = remote->>'remote_id'
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN '{"linked": false}'::jsonb;
    END IF;
    IF ts < l.remote_updated_at THEN
        RETURN jsonb_build_object('linked', true, 'stale', true);
    END IF;
    IF ts = l.remote_updated_at AND NOT fresh THEN
        IF dig IS DISTINCT FROM l.remote_digest THEN
            PERFORM cl_sync_enqueue(l.action_id, 'push');
        ELSIF replaced IS NOT NULL THEN
            RETURN cl_sync_recover(l, replaced, src, actor);
        END IF;
        RETURN jsonb_build_object('linked', true, 'stale', true,
                                  'reread', dig IS DISTINCT FROM l.remote_digest);
    END IF;
    o := cl_action_lock(l.action_id, NULL);
    n := o;
    loc := cl_sync_local(o.id);
    -- remote values in closeloop terms; a field the remote cannot tell is taken as base
    FOREACH f IN ARRAY ARRAY['title', 'description', 'status', 'due_on'] LOOP
        r := r || jsonb_build_object(f, CASE WHEN remote ? f THEN remote->f
                                             ELSE coalesce(l.base->f, loc->f) END);
    END LOOP;
    own := cl_sync_owner(tracker_in, remote->'assignees');
    IF loc->>'owner' IS NOT NULL AND cl_person_account(loc->>'owner', tracker_in) IS NULL THEN
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
    IF warning_text IS NULL AND n.status = 'in_progress' AND n.owner_id IS NULL THEN
        warning_text := format('in progress in %s but nobody owns it: assign an owner', tracker_in);
    END IF;
    IF warning_text IS DISTINCT FROM l.warning AND warning_text IS NOT NULL THEN
        PERFORM cl_event(o.id, src, actor, 'sync_warning', l.warning, warning_text);
    END IF;
    IF cardinality(changed) > 0 THEN
        PERFORM cl_action_apply(o, n, src, actor);
    END IF;
    UPDATE links
    SET base = merged, remote_updated_at = greatest(remote_updated_at, ts), remote_digest = dig,
        remote_key = coalesce(remote->>'key', remote_key),
        scope = coalesce(remote->>'scope', scope), url = coalesce(remote->>'url', url),
        state = 'linked', warning = warning_text, synced_at = now(), updated_at = now(),
        remote_replaced = CASE WHEN replaced IS NULL THEN NULL
                               ELSE replaced || jsonb_build_object('at', remote->'updated_at') END
    WHERE id = l.id;
    IF push AND enqueue THEN   -- a running push sends it anyway: no second job
        PERFORM cl_sync_enqueue(o.id, 'push');
    END IF;
    RETURN jsonb_build_object('linked', true, 'stale', false, 'action', o.id,
                              'changed', to_jsonb(changed), 'conflicts', to_jsonb(conflicts),
                              'push', push, 'local', cl_sync_push_view(o.id));
END $$;

-- Outbox claims: one action at a time, all its pending rows together, held by this
-- process (cl_claim_held) under a lease, so that other instances skip it. Comments wait
-- for the issue to be in step: while create or push rows are available those are claimed
-- (op 'create' or 'push'); then one comment at a time (op 'comment', with the row as
-- "comment": {"id", "attempts", "since", "payload"}).
CREATE OR REPLACE FUNCTION cl_outbox_claim(tracker_in text, conn text, lease_seconds double precision)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    head outbox;
    ids bigint[];
    ops text[];
    job jsonb;
    note jsonb;
BEGIN
    SELECT * INTO head FROM outbox o
    WHERE o.tracker = tracker_in AND o.done_at IS NULL AND o.failed_at IS NULL
      AND EXISTS (SELECT 1 FROM links k WHERE k.action_id = o.action_id AND k.connection = conn)
      AND o.available_at <= now() AND NOT cl_claim_held(o.claimed_by, o.claimed_until)
      AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.action_id = o.action_id
                      AND x.done_at IS NULL AND cl_claim_held(x.claimed_by, x.claimed_until))
    ORDER BY o.available_at, o.id
    LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND OR NOT pg_try_advisory_xact_lock(7354202, (head.action_id % 2147483647)::int)
    THEN
        RETURN NULL;
    END IF;
    WITH c AS (
        UPDATE outbox SET claimed_until = now() + make_interval(secs => lease_seconds),
                          claimed_by = current_setting('application_name'),
                          attempts = attempts + 1
        WHERE action_id = head.action_id AND done_at IS NULL AND failed_at IS NULL
          AND available_at <= now() AND op <> 'comment'
        RETURNING id, op)
    SELECT array_agg(id ORDER BY id), array_agg(op) INTO ids, ops FROM c;
    IF ids IS NULL THEN
        UPDATE outbox SET claimed_until = now() + make_interval(secs => lease_seconds),
                          claimed_by = current_setting('application_name'),
                          attempts = attempts + 1
        WHERE id = (SELECT id FROM outbox
                    WHERE action_id = head.action_id AND done_at IS NULL AND failed_at IS NULL
                      AND available_at <= now() AND op = 'comment'
                    ORDER BY id LIMIT 1)
        RETURNING jsonb_build_object('id', id, 'attempts', attempts, 'since', created_at,
                                     'payload', payload), ARRAY[id], ARRAY[op]
        INTO note, ids, ops;
        IF ids IS NULL THEN
            RETURN NULL;
        END IF;
    END IF;
    SELECT jsonb_build_object(
        'outbox', to_jsonb(ids),
        'op', CASE WHEN 'create' = ANY (ops) THEN 'create' WHEN 'push' = ANY (ops) THEN 'push'
                   ELSE 'comment' END,
        'comment', note,
        'attempts', (SELECT max(attempts) FROM outbox WHERE id = ANY (ids)),
        'instance', (SELECT value FROM settings WHERE key = 'instance_id'),
        'link', jsonb_build_object('id', l.id, 'connection', l.connection, 'scope', l.scope,
                                   'state', l.state, 'remote_id', l.remote_id,
                                   'remote_key', l.remote_key, 'base', l.base,
                                   'creating_since', l.creating_since),
        'action', cl_sync_push_view(l.action_id))
    INTO job
    FROM links l
    WHERE l.action_id = head.action_id;
    RETURN job;
END $$;

-- A comment posted (or found posted by an earlier attempt): its row is done, with the
-- comment's {"id", "url"} kept in the payload as "posted", and the action's history says
-- where it is.
CREATE OR REPLACE FUNCTION cl_outbox_commented(oid bigint, posted jsonb, was_found boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    aid bigint;
BEGIN
    UPDATE outbox SET done_at = now(), claimed_until = NULL, claimed_by = NULL, last_error = NULL,
                      payload = payload || jsonb_build_object('posted', posted)
    WHERE id = oid AND done_at IS NULL
    RETURNING action_id INTO aid;
    IF aid IS NOT NULL THEN
        INSERT INTO events (action_id, source, actor, field, old, new)
        VALUES (aid, 'scheduler', 'closeloop', 'comment', NULL,
                format('%s %s', CASE WHEN was_found THEN 'found posted:' ELSE 'posted:' END,
                       coalesce(posted->>'url', 'comment ' || (posted->>'id'))));
    END IF;
END $$;

-- A comment the tracker will never take (the issue is gone, not created, or the comment
-- refused): its row fails visibly, and its "fallback" mail, when it has one
-- ({"kind", "to_addr", "to_name", "subject", "payload", "dedup_key"}), is queued instead,
-- so that what the comment said still reaches its person.
CREATE OR REPLACE FUNCTION cl_outbox_comment_fail(oid bigint, err text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r outbox;
    f jsonb;
BEGIN
    UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, failed_at = now(), last_error = err
    WHERE id = oid AND done_at IS NULL AND failed_at IS NULL
    RETURNING * INTO r;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    f := r.payload->'fallback';
    INSERT INTO events (action_id, source, actor, field, old, new)
    VALUES (r.action_id, 'scheduler', 'closeloop', 'comment', NULL,
            left(format('not posted: %s%s', err,
                        CASE WHEN f IS NULL THEN '' ELSE '; sent by email instead' END), 4000));
    IF jsonb_typeof(f) = 'object' THEN
        PERFORM cl_mail_enqueue(f->>'kind', f->>'to_addr', f->>'to_name', f->>'subject',
                                f->'payload', f->>'dedup_key');
    END IF;
END $$;

CREATE OR REPLACE FUNCTION cl_outbox_done(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    UPDATE outbox SET done_at = now(), claimed_until = NULL, claimed_by = NULL, last_error = NULL
    WHERE id = ANY (ids)
$$;

-- A transient failure: try again after `delay` seconds (the caller adds jitter).
CREATE OR REPLACE FUNCTION cl_outbox_retry(ids bigint[], err text, delay double precision) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, last_error = err,
                      available_at = now() + make_interval(secs => delay)
    WHERE id = ANY (ids);
    UPDATE links SET last_error = err, error_at = now(), updated_at = now()
    WHERE action_id = (SELECT action_id FROM outbox WHERE id = ids[1]);
END $$;

-- A permanent rejection (e.g. GitHub's 422): never retried, visible on the action.
CREATE OR REPLACE FUNCTION cl_outbox_fail(ids bigint[], err text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE outbox SET claimed_until = NULL, claimed_by = NULL, failed_at = now(), last_error = err
    WHERE id = ANY (ids);
    UPDATE links SET last_error = err, error_at = now(), updated_at = now()
    WHERE action_id = (SELECT action_id FROM outbox WHERE id = ids[1]);
END $$;

-- Marks the link as being created, once: the first attempt's time bounds the marker
-- search after a crash.
CREATE OR REPLACE FUNCTION cl_link_creating(link_id bigint) RETURNS timestamptz LANGUAGE sql AS $$
    UPDATE links SET state = 'creating', creating_since = coalesce(creating_since, now()),
                     updated_at = now()
    WHERE id = link_id RETURNING creating_since
$$;

-- A create refused before any request was sent: the link is pending again (no issue can
-- exist, so the next attempt creates without looking for a marker first).
CREATE OR REPLACE FUNCTION cl_link_not_created(link_id bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE links SET state = 'pending', creating_since = NULL, updated_at = now()
    WHERE id = link_id AND state = 'creating'
$$;

-- Records what the remote now holds after closeloop wrote it: the snapshot becomes the
-- base (in closeloop terms, from `agreed`), so the echo changes nothing. `before` (may be
-- NULL) is the snapshot the write was computed against: kept as what it replaced. When
-- the echo was merged first, what it said it replaced is compared now (cl_sync_recover).
DROP FUNCTION IF EXISTS cl_link_pushed(bigint, jsonb, jsonb);
CREATE OR REPLACE FUNCTION cl_link_pushed(link_id bigint, remote jsonb, agreed jsonb,
                                          before jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    l links;
    ts timestamptz := (remote->>'updated_at')::timestamptz;
BEGIN
    UPDATE links
    SET state = 'linked', remote_id = coalesce(remote->>'remote_id', remote_id),
        remote_key = coalesce(remote->>'key', remote_key),
        scope = coalesce(remote->>'scope', scope), url = coalesce(remote->>'url', url),
        base = base || jsonb_build_object('title', agreed->'title',
                                          'description', agreed->'description',
                                          'status', agreed->'status', 'owner', agreed->'owner',
                                          'due_on', agreed->'due_on'),
        remote_digest = CASE WHEN ts >= coalesce(remote_updated_at, '-infinity')
                             THEN cl_sync_digest(remote) ELSE remote_digest END,
        remote_read = CASE WHEN before IS NULL THEN NULL
                           ELSE jsonb_strip_nulls(jsonb_build_object(
                                    'at', remote->'updated_at', 'title', before->'title',
                                    'description', before->'description'))
                                || CASE WHEN before ? 'due_on'
                                        THEN jsonb_build_object('due_on', before->'due_on')
                                        ELSE '{}'::jsonb END END,
        remote_updated_at = greatest(remote_updated_at, ts),
        last_error = NULL, error_at = NULL, synced_at = now(), updated_at = now()
    WHERE id = link_id
    RETURNING * INTO l;
    IF before IS NOT NULL AND (l.remote_replaced->>'at')::timestamptz = ts THEN
        UPDATE links SET remote_replaced = NULL WHERE id = link_id;
        PERFORM cl_sync_recover(l, l.remote_replaced - 'at', l.tracker, 'closeloop');
    END IF;
END $$;

CREATE OR REPLACE FUNCTION cl_link_broken(link_id bigint, err text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    aid bigint;
BEGIN
    UPDATE links SET state = 'broken', last_error = err, error_at = now(), updated_at = now()
    WHERE id = link_id AND state <> 'broken' RETURNING action_id INTO aid;
    IF aid IS NOT NULL THEN
        PERFORM cl_event(aid, (SELECT tracker FROM links WHERE id = link_id), 'closeloop',
                         'sync_link', 'linked', 'broken: ' || err);
        UPDATE outbox SET done_at = now(), claimed_until = NULL, claimed_by = NULL,
                          last_error = 'link broken: ' || err
        WHERE action_id = aid AND done_at IS NULL AND failed_at IS NULL;
    END IF;
END $$;

-- A fetched remote for a link: attach its ids (first fetch of a linked reference, or a
-- transfer that gave the issue a new id), then merge.
CREATE OR REPLACE FUNCTION cl_sync_fetched(link_id bigint, remote jsonb, actor text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    l links;
BEGIN
    UPDATE links SET remote_id = remote->>'remote_id',
                     remote_key = coalesce(remote->>'key', remote_key),
                     scope = coalesce(remote->>'scope', scope), url = coalesce(remote->>'url', url),
                     updated_at = now()
    WHERE id = link_id RETURNING * INTO l;
    -- a move followed here takes the link to a scope that must be polled too
    PERFORM cl_scope_add(l.tracker, l.connection, l.scope, now() - interval '5 minutes');
    RETURN cl_sync_apply(l.tracker, l.connection, remote, l.tracker, actor, false, true);
END $$;

-- The connection serving a scope, from the routing the service passes in:
-- {"<tracker>": {"default": name | null, "scopes": {"<prefix>": name, ...}}, ...}, where
-- a prefix is the scope up to its first '/' (a GitHub owner, a Jira project key).
DROP FUNCTION IF EXISTS cl_sync_connection(jsonb, text);
CREATE OR REPLACE FUNCTION cl_sync_connection(routes jsonb, tracker_in text, scope_in text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(routes->tracker_in->'scopes'->>lower(split_part(scope_in, '/', 1)),
                    routes->tracker_in->>'default')
$$;

DROP FUNCTION IF EXISTS cl_link_new(bigint, text, integer, jsonb, text);
CREATE OR REPLACE FUNCTION cl_link_new(aid bigint, tracker_in text, scope_in text, key_in text,
                                       routes jsonb, op_in text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    conn text := cl_sync_connection(routes, tracker_in, scope_in);
BEGIN
    IF conn IS NULL THEN
        RAISE EXCEPTION 'no % connection is configured for %',
                        coalesce(routes->tracker_in->>'display', tracker_in), scope_in
            USING ERRCODE = 'CL422', COLUMN = tracker_in;
    END IF;
    INSERT INTO links (action_id, tracker, connection, scope, remote_key)
    VALUES (aid, tracker_in, conn, scope_in, key_in);
    PERFORM cl_scope_add(tracker_in, conn, scope_in, now() - interval '5 minutes');
    PERFORM cl_sync_enqueue(aid, op_in);
END $$;

-- Links an action to an existing issue (its scope and key, checked by the provider).
DROP FUNCTION IF EXISTS cl_action_link(bigint, text, jsonb);
CREATE OR REPLACE FUNCTION cl_action_link(aid bigint, tracker_in text, scope_in text,
                                          key_in text, routes jsonb) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cl_action_lock(aid, NULL);
    IF EXISTS (SELECT 1 FROM links WHERE action_id = aid) THEN
        RAISE EXCEPTION 'action % is already linked', aid
            USING ERRCODE = '23505', CONSTRAINT = 'links_action_id_key', TABLE = 'links';
    END IF;
    IF EXISTS (SELECT 1 FROM links WHERE tracker = tracker_in AND lower(scope) = lower(scope_in)
               AND remote_key = key_in AND state <> 'broken') THEN
        RAISE EXCEPTION '% is already linked to another action',
                        cl_sync_display(scope_in, key_in)
            USING ERRCODE = '23505', CONSTRAINT = 'links_remote_key', TABLE = 'links';
    END IF;
    PERFORM cl_link_new(aid, tracker_in, scope_in, key_in, routes, 'push');
    RETURN (SELECT action_json(v) FROM action_v v WHERE v.id = aid);
END $$;

-- Webhooks: a transferred issue (new id, number, repository) and a deleted one.
-- `at` is the old issue's updated_at in the delivery: older than what the link last
-- applied means a stale (or replayed) delivery, which changes nothing.
DROP FUNCTION IF EXISTS cl_link_moved(text, text, text, jsonb);
CREATE OR REPLACE FUNCTION cl_link_moved(tracker_in text, conn text, old_id text, remote jsonb,
                                         at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    lid bigint;
BEGIN
    UPDATE links SET remote_id = remote->>'remote_id', remote_key = remote->>'key',
                     scope = coalesce(remote->>'scope', scope), url = remote->>'url',
                     updated_at = now()
    WHERE tracker = tracker_in AND connection = conn AND remote_id = old_id
      AND (at IS NULL OR remote_updated_at IS NULL OR at >= remote_updated_at)
    RETURNING id INTO lid;
    IF lid IS NOT NULL THEN
        PERFORM cl_scope_add(tracker, connection, scope, now() - interval '5 minutes')
        FROM links WHERE id = lid;
        PERFORM cl_event(action_id, tracker_in, 'closeloop', 'sync_link', NULL,
                         'moved to ' || cl_sync_display(scope, remote_key))
        FROM links WHERE id = lid;
    END IF;
END $$;

DROP FUNCTION IF EXISTS cl_link_gone(text, text, text, text);
CREATE OR REPLACE FUNCTION cl_link_gone(tracker_in text, conn text, old_id text, why text,
                                        at timestamptz)
RETURNS void LANGUAGE sql AS $$
    SELECT cl_link_broken(id, why) FROM links
    WHERE tracker = tracker_in AND connection = conn AND remote_id = old_id
      AND (at IS NULL OR remote_updated_at IS NULL OR at >= remote_updated_at)
$$;

-- Reconciliation: claim a scope that is due, then record how the poll went.
DROP FUNCTION IF EXISTS cl_repo_claim(text, text, double precision);
CREATE OR REPLACE FUNCTION cl_scope_claim(tracker_in text, conn text,
                                          lease_seconds double precision)
RETURNS TABLE (scope text, cursor text, poll_state text) LANGUAGE sql AS $$
    UPDATE sync_scopes r SET claimed_until = now() + make_interval(secs => lease_seconds),
                             claimed_by = current_setting('application_name'),
                             last_attempt_at = now()
    WHERE (r.tracker, r.connection, r.scope) IN (
        SELECT x.tracker, x.connection, x.scope FROM sync_scopes x
        WHERE x.tracker = tracker_in AND x.connection = conn AND x.next_poll_at <= now()
          AND NOT cl_claim_held(x.claimed_by, x.claimed_until)
        ORDER BY x.next_poll_at LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING r.scope, to_char(r.cursor AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
              r.poll_state
$$;

-- Merges every snapshot of a listing (oldest first) and records the poll.
-- An issue updated after the listing began (listed_at, the first page's Date) moved to
-- the end of a listing sorted by update time, and may have pushed an issue onto a page
-- already read: then the cursor stays where it was, and the next poll reads the range
-- again (its unchanged pages answer 304).
-- next_cursor, when the provider gives one, is where the next listing starts (the provider
-- reaches back from it by its own overlap: Jira's minute-precision JQL); else the cursor
-- follows the newest update listed. A snapshot skipped because its push is under way
-- keeps the cursor where it was.
DROP FUNCTION IF EXISTS cl_repo_polled(text, text, text, jsonb, text, boolean, text, integer,
                                      double precision, timestamptz);
DROP FUNCTION IF EXISTS cl_scope_polled(text, text, text, jsonb, text, boolean, text, integer,
                                        double precision, timestamptz);
CREATE OR REPLACE FUNCTION cl_scope_polled(tracker_in text, conn text, scope_in text,
                                           remotes jsonb, state_in text, unchanged boolean,
                                           err text, nrequests integer,
                                           interval_seconds double precision,
                                           listed_at timestamptz, next_cursor timestamptz)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    applied integer := 0;
    newest timestamptz;
    old_cursor timestamptz;
    busy boolean := false;
BEGIN
    SELECT cursor INTO old_cursor FROM sync_scopes
    WHERE tracker = tracker_in AND connection = conn AND scope = scope_in;
    IF err IS NULL AND remotes IS NOT NULL THEN
        FOR r IN SELECT * FROM jsonb_array_elements(remotes) LOOP
            IF cl_sync_busy(tracker_in, conn, r->>'remote_id') THEN
                busy := true;    -- its push reads it anyway; the cursor stays for the rest
                CONTINUE;
            END IF;
            IF (cl_sync_apply(tracker_in, conn, r, tracker_in, 'reconcile')->>'linked')::boolean THEN
                applied := applied + 1;
            END IF;
            newest := greatest(newest, (r->>'updated_at')::timestamptz);
        END LOOP;
        IF busy THEN
            newest := NULL;
        END IF;
    END IF;
    UPDATE sync_scopes
    SET claimed_until = NULL, claimed_by = NULL,
        cursor = CASE WHEN err IS NOT NULL OR busy THEN cursor
                      WHEN next_cursor IS NOT NULL THEN greatest(cursor, next_cursor)
                      WHEN listed_at IS NOT NULL AND newest >= listed_at - interval '1 second'
                          THEN cursor
                      ELSE greatest(cursor, newest) END,
        -- the provider's state belongs to the cursor it listed from (GitHub: the ETags
        -- of URLs that hold the cursor)
        poll_state = CASE WHEN err IS NOT NULL THEN poll_state
                          WHEN newest IS NOT NULL AND newest > coalesce(old_cursor, '-infinity')
                               AND NOT (listed_at IS NOT NULL
                                        AND newest >= listed_at - interval '1 second')
                              THEN NULL
                          ELSE coalesce(state_in, poll_state) END,
        last_success_at = CASE WHEN err IS NULL THEN now() ELSE last_success_at END,
        last_error = err,
        requests = sync_scopes.requests + nrequests,
        not_modified = sync_scopes.not_modified + CASE WHEN unchanged THEN 1 ELSE 0 END,
        next_poll_at = now() + make_interval(secs => interval_seconds)
    WHERE tracker = tracker_in AND connection = conn AND scope = scope_in;
    RETURN jsonb_build_object('applied', applied);
END $$;

-- Import: every listed issue not linked yet becomes an action of the incident, linked,
-- with the issue's values as the agreed base. One transaction for the whole listing.
DROP FUNCTION IF EXISTS cl_sync_import(text, text, text, text, jsonb, text);
CREATE OR REPLACE FUNCTION cl_sync_import(tracker_in text, conn text, scope_in text,
                                          incident_key text, remotes jsonb, actor text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    inc_id bigint;
    r jsonb;
    own jsonb;
    aid bigint;
    imported integer := 0;
    skipped integer := 0;
BEGIN
    SELECT id INTO inc_id FROM incidents WHERE key = upper(incident_key);
    IF inc_id IS NULL THEN
        RAISE EXCEPTION 'unknown incident "%"', incident_key
            USING ERRCODE = 'CL422', COLUMN = 'incident';
    END IF;
    PERFORM cl_scope_add(tracker_in, conn, scope_in, NULL);
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
                'imported from ' || cl_sync_display(scope_in, r->>'key'));
        INSERT INTO links (action_id, tracker, connection, scope, state, remote_id, remote_key,
                           url, base, remote_updated_at, remote_digest, remote_read, warning,
                           synced_at)
        VALUES (aid, tracker_in, conn, coalesce(r->>'scope', scope_in), 'linked',
                r->>'remote_id', r->>'key', r->>'url', cl_sync_local(aid, tracker_in),
                (r->>'updated_at')::timestamptz, cl_sync_digest(r), NULL,
                own->>'warning', now());
        imported := imported + 1;
    END LOOP;
    -- the listing is as good as a reconciliation up to its newest issue: start polling there
    UPDATE sync_scopes
    SET cursor = greatest(cursor, (SELECT max((e.value->>'updated_at')::timestamptz)
                                   FROM jsonb_array_elements(remotes) AS e (value))),
        poll_state = NULL
    WHERE tracker = tracker_in AND connection = conn AND scope = scope_in;
    RETURN jsonb_build_object('imported', imported, 'skipped', skipped);
END $$;

-- What `sync status` shows: every reconciled scope with its links' state, and the inbox
-- (pending deliveries, dead letters with their reasons).
CREATE OR REPLACE FUNCTION cl_sync_status() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'scopes', (SELECT coalesce(json_agg(json_build_object(
            'tracker', r.tracker, 'connection', r.connection, 'scope', r.scope,
            'repo', r.scope,   -- the name of the first API, kept
            'last_success_at', r.last_success_at, 'last_attempt_at', r.last_attempt_at,
            'next_poll_at', r.next_poll_at, 'last_error', r.last_error,
            'requests', r.requests, 'not_modified', r.not_modified,
            'linked', (SELECT count(*) FROM links l WHERE l.tracker = r.tracker
                       AND l.connection = r.connection AND l.scope = r.scope
                       AND l.state = 'linked'),
            'pending', (SELECT count(*) FROM outbox o JOIN links l ON l.action_id = o.action_id
                        WHERE l.tracker = r.tracker AND l.connection = r.connection
                        AND l.scope = r.scope AND o.done_at IS NULL AND o.failed_at IS NULL),
            'failed', (SELECT count(*) FROM outbox o JOIN links l ON l.action_id = o.action_id
                       WHERE l.tracker = r.tracker AND l.connection = r.connection
                       AND l.scope = r.scope AND o.failed_at IS NOT NULL),
            'failures', (SELECT coalesce(json_agg(json_build_object(
                             'action', f.action_id, 'state', f.state, 'error', f.last_error,
                             'at', f.error_at)), '[]')
                         FROM (SELECT * FROM links l WHERE l.tracker = r.tracker
                               AND l.connection = r.connection AND l.scope = r.scope
                               AND l.last_error IS NOT NULL
                               ORDER BY l.error_at DESC LIMIT 10) f))
            ORDER BY r.tracker, r.connection, r.scope), '[]') FROM sync_scopes r),
        'inbox', json_build_object(
            'pending', (SELECT count(*) FROM inbox WHERE processed_at IS NULL AND attempts < 5),
            'dead', (SELECT count(*) FROM inbox WHERE processed_at IS NULL AND attempts >= 5),
            'dead_letters', (SELECT coalesce(json_agg(json_build_object(
                                 'id', d.id, 'tracker', d.tracker, 'connection', d.connection,
                                 'delivery', d.delivery_id, 'event', d.event,
                                 'received_at', d.received_at, 'error', d.last_error)
                                 ORDER BY d.id DESC), '[]')
                             FROM (SELECT * FROM inbox WHERE processed_at IS NULL
                                   AND attempts >= 5 ORDER BY id DESC LIMIT 20) d)))::text
$$;
