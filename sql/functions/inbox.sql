-- The inbox: webhook deliveries stored before the answer, applied afterwards by the
-- inbox worker, dead letters, retention. Re-created as a whole by `migrate` when a
-- file under sql/functions/ changes.

-- A delivery whose application keeps failing stays unprocessed with its error after five
-- attempts (a dead letter, visible in sync status), instead of being retried forever.
-- An apply that failed in SQL (not a lost connection: that changes nothing here) counts
-- as an attempt; after five the delivery stays as a dead letter.
CREATE OR REPLACE FUNCTION cl_inbox_failed(inbox_id bigint, err text) RETURNS void
LANGUAGE sql AS $$
    UPDATE inbox SET last_error = err, attempts = attempts + 1, claimed_until = NULL,
                     claimed_by = NULL
    WHERE id = inbox_id
$$;

-- Inbox: store a verified delivery once (the delivery id deduplicates redeliveries),
-- and only when it can matter: it is about a linked issue (remote_id) or a repository
-- that is reconciled (scope). A malformed one (dead, its reason) is kept as a dead
-- letter, never applied, shown by sync status. Returns {"accepted","stored",
-- "duplicate","delivery"}.
DROP FUNCTION IF EXISTS cl_inbox_put(text, text, text, text, text);
CREATE OR REPLACE FUNCTION cl_inbox_put(tracker_in text, conn text, delivery text, event_in text,
                                        body text, remote_id_in text, scope_in text, dead text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    wanted boolean := dead IS NOT NULL
        OR EXISTS (SELECT 1 FROM links WHERE tracker = tracker_in AND connection = conn
                   AND remote_id = remote_id_in)
        OR EXISTS (SELECT 1 FROM sync_scopes WHERE tracker = tracker_in AND connection = conn
                   AND lower(scope) = lower(scope_in));
    new_id bigint;
BEGIN
    IF wanted THEN
        INSERT INTO inbox (tracker, connection, delivery_id, event, payload, attempts, last_error)
        VALUES (tracker_in, conn, delivery, event_in, body,
                CASE WHEN dead IS NULL THEN 0 ELSE 5 END, dead)
        ON CONFLICT (tracker, connection, delivery_id) DO NOTHING
        RETURNING id INTO new_id;
    END IF;
    RETURN json_build_object('accepted', true, 'stored', new_id IS NOT NULL,
                             'duplicate', wanted AND new_id IS NULL,
                             'delivery', delivery)::text;
END $$;

-- Claims deliveries to apply, oldest first, held by this process (cl_claim_held).
-- Claiming is not an attempt: a database outage never uses up a delivery's tries.
CREATE OR REPLACE FUNCTION cl_inbox_claim(lim integer, lease_seconds double precision)
RETURNS TABLE (id bigint, tracker text, connection text, event text, payload text)
LANGUAGE sql AS $$
    UPDATE inbox i SET claimed_until = now() + make_interval(secs => lease_seconds),
                       claimed_by = current_setting('application_name')
    WHERE i.id IN (SELECT x.id FROM inbox x
                   WHERE x.processed_at IS NULL AND x.attempts < 5
                     AND (x.not_before IS NULL OR x.not_before <= now())
                     AND NOT cl_claim_held(x.claimed_by, x.claimed_until)
                   ORDER BY x.id LIMIT lim FOR UPDATE SKIP LOCKED)
    RETURNING i.id, i.tracker, i.connection, i.event, i.payload
$$;

-- Applies one parsed delivery and marks it processed, together. A delivery that could
-- not be parsed (err) becomes a dead letter at once: parsing it again will not help.
-- `at` is the remote's updated_at the delivery carries (staleness of moves and deletes).
-- `replaced` is what an edit reports it replaced (see cl_sync_recover).
DROP FUNCTION IF EXISTS cl_inbox_apply(bigint, text, jsonb, text, text, text);
DROP FUNCTION IF EXISTS cl_inbox_apply(bigint, text, jsonb, text, text, text, timestamptz);
CREATE OR REPLACE FUNCTION cl_inbox_apply(inbox_id bigint, kind text, remote jsonb, old_id text,
                                          actor text, err text, at timestamptz,
                                          replaced jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    b inbox;
    res jsonb := '{}'::jsonb;
BEGIN
    SELECT * INTO b FROM inbox WHERE id = inbox_id FOR UPDATE;
    IF b.processed_at IS NOT NULL THEN
        RETURN '{"duplicate": true}'::jsonb;   -- another instance got there first
    END IF;
    IF err IS NOT NULL THEN
        UPDATE inbox SET attempts = greatest(attempts, 5), last_error = err, claimed_until = NULL,
                         claimed_by = NULL
        WHERE id = inbox_id;
        RETURN '{"dead": true}'::jsonb;
    END IF;
    IF cl_sync_busy(b.tracker, b.connection, coalesce(remote->>'remote_id', old_id)) THEN
        UPDATE inbox SET claimed_until = NULL, claimed_by = NULL,
                         not_before = now() + interval '300 milliseconds'
        WHERE id = inbox_id;
        RETURN '{"deferred": true}'::jsonb;   -- after the push in flight (see not_before)
    END IF;
    IF kind = 'apply' THEN
        res := cl_sync_apply(b.tracker, b.connection, remote, b.tracker, actor, true, false,
                             replaced);
    ELSIF kind = 'moved' THEN
        PERFORM cl_link_moved(b.tracker, b.connection, old_id, remote, at);
    ELSIF kind = 'reread' THEN   -- something changed that the delivery cannot tell: read it
        PERFORM cl_sync_enqueue(l.action_id, 'push')
        FROM links l WHERE l.tracker = b.tracker AND l.connection = b.connection
                       AND l.remote_id = old_id AND l.state = 'linked';
    ELSIF kind = 'deleted' THEN
        PERFORM cl_link_gone(b.tracker, b.connection, old_id, 'deleted on ' || b.tracker, at);
    END IF;
    UPDATE inbox SET processed_at = now(), claimed_until = NULL, claimed_by = NULL,
                     last_error = NULL
    WHERE id = inbox_id;
    RETURN res;
END $$;

-- Retention: processed deliveries older than `keep_seconds` go, dead letters a month
-- later than that (they are shown until then), at most `batch` rows per call.
CREATE OR REPLACE FUNCTION cl_inbox_prune(keep_seconds double precision, batch integer)
RETURNS integer LANGUAGE sql AS $$
    WITH old AS (
        SELECT id FROM inbox
        WHERE (processed_at IS NOT NULL
               AND processed_at < now() - make_interval(secs => keep_seconds))
           OR (processed_at IS NULL AND attempts >= 5
               AND received_at < now() - make_interval(secs => keep_seconds)
                                       - interval '30 days')
        LIMIT batch FOR UPDATE SKIP LOCKED),
    gone AS (DELETE FROM inbox i USING old WHERE i.id = old.id RETURNING 1)
    SELECT count(*)::int FROM gone
$$;
