-- The chat queue (sql/0019_chat.sql): enqueue inside the caller's transaction, claim
-- under a lease with SKIP LOCKED, record the outcome, list for the operator. Re-created
-- as a whole by `migrate` when this file changes.

-- Queues one message to one channel (a [chat.NAME] name; an unknown one is accepted and
-- the row fails with "no such channel") and returns its id. Idempotent on dedup_key: a
-- second call with the same key returns the first row's id and queues nothing. The
-- worker is woken by NOTIFY closeloop_chat, delivered at commit.
CREATE OR REPLACE FUNCTION cl_chat_enqueue(channel text, kind text, payload jsonb,
                                           dedup_key text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
BEGIN
    IF channel IS NULL OR length(channel) NOT BETWEEN 1 AND 64 THEN
        RAISE EXCEPTION 'a chat channel is a [chat.NAME] name of 1 to 64 characters'
            USING ERRCODE = 'CL422', COLUMN = 'channel';
    END IF;
    IF kind IS NULL OR kind !~ '^[a-z][a-z0-9_]{0,31}$' THEN
        RAISE EXCEPTION 'not a chat kind: "%"', left(kind, 40)
            USING ERRCODE = 'CL422', COLUMN = 'kind';
    END IF;
    IF dedup_key IS NOT NULL THEN
        SELECT q.id INTO new_id FROM chat_queue q WHERE q.dedup_key = cl_chat_enqueue.dedup_key;
        IF FOUND THEN
            RETURN new_id;
        END IF;
    END IF;
    INSERT INTO chat_queue (channel, kind, payload, dedup_key)
    VALUES (channel, kind, coalesce(payload, '{}'::jsonb), dedup_key)
    ON CONFLICT ON CONSTRAINT chat_queue_dedup_key_key DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN   -- a concurrent transaction queued the same key first
        SELECT q.id INTO new_id FROM chat_queue q WHERE q.dedup_key = cl_chat_enqueue.dedup_key;
    END IF;
    PERFORM pg_notify('closeloop_chat', '');
    RETURN new_id;
END $$;

-- Claims up to lim messages that are due, oldest first, for this process
-- (application_name) under a lease; as cl_mail_claim. Each claim is an attempt.
CREATE OR REPLACE FUNCTION cl_chat_claim(lim integer, lease_seconds double precision)
RETURNS TABLE (id bigint, channel text, kind text, payload jsonb, attempts integer)
LANGUAGE sql AS $$
    UPDATE chat_queue m SET status = 'sending', attempts = m.attempts + 1,
                            claimed_until = now() + make_interval(secs => lease_seconds),
                            claimed_by = current_setting('application_name')
    WHERE m.id IN (SELECT x.id FROM chat_queue x
                   WHERE x.status IN ('queued', 'sending') AND x.next_attempt_at <= now()
                     AND NOT cl_claim_held(x.claimed_by, x.claimed_until)
                     AND NOT coalesce(x.claimed_by = current_setting('application_name')
                                      AND x.claimed_until >= now(), false)
                   ORDER BY x.next_attempt_at, x.id LIMIT lim FOR UPDATE SKIP LOCKED)
    RETURNING m.id, m.channel, m.kind, m.payload, m.attempts
$$;

-- The webhook answered 2xx.
CREATE OR REPLACE FUNCTION cl_chat_sent(chat_id bigint, http_status integer) RETURNS void
LANGUAGE sql AS $$
    UPDATE chat_queue SET status = 'sent', sent_at = now(), last_status = http_status,
                          last_error = NULL, claimed_by = NULL, claimed_until = NULL
    WHERE id = chat_id AND status <> 'sent'
$$;

-- A post failed. permanent (400/403/404/410, no such channel, a payload that does not
-- render) or the attempts used up: failed, with the reply kept. Otherwise queued again:
-- after retry_after seconds when the server said so (a 429), else after a back-off of
-- base * 2^(attempts-1) seconds, capped at cap, times a jitter in [0.75, 1.25]. Returns
-- the new status; a row another attempt already sent is left alone (NULL).
CREATE OR REPLACE FUNCTION cl_chat_failed(chat_id bigint, http_status integer, err text,
                                          permanent boolean, retry_after double precision,
                                          base double precision, cap double precision,
                                          max_attempts integer)
RETURNS text
LANGUAGE sql AS $$
    UPDATE chat_queue
    SET status = CASE WHEN permanent OR attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
        last_status = http_status, last_error = left(err, 1000),
        claimed_by = NULL, claimed_until = NULL,
        next_attempt_at = now() + make_interval(secs => coalesce(retry_after,
            least(cap, base * power(2, least(attempts, 30) - 1)) * (0.75 + random() * 0.5)))
    WHERE id = chat_id AND status <> 'sent'
    RETURNING status
$$;

-- The operator's view: messages newest first, optionally of one status, `lim` at a time
-- after the id `before` (keyset). {"items": [...], "next_cursor", "counts": {status: n}}.
CREATE OR REPLACE FUNCTION cl_chat_list(status_in text, before bigint, lim integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    rows jsonb;
    n integer;
BEGIN
    IF status_in IS NOT NULL AND status_in NOT IN ('queued', 'sending', 'sent', 'failed') THEN
        RAISE EXCEPTION 'status must be queued, sending, sent or failed'
            USING ERRCODE = 'CL422', COLUMN = 'status';
    END IF;
    SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id DESC), '[]'::jsonb), count(*)
    INTO rows, n
    FROM (SELECT m.id, m.channel, m.kind, m.dedup_key, m.status, m.attempts,
                 m.next_attempt_at, m.sent_at, m.last_status, m.last_error, m.created_at
          FROM chat_queue m
          WHERE (status_in IS NULL OR m.status = status_in)
            AND (before IS NULL OR m.id < before)
          ORDER BY m.id DESC LIMIT lim) r;
    RETURN jsonb_build_object(
        'items', rows,
        'next_cursor', CASE WHEN n = lim THEN (rows -> (n - 1) ->> 'id') END,
        'counts', (SELECT jsonb_object_agg(s, (SELECT count(*) FROM chat_queue WHERE status = s))
                   FROM unnest(ARRAY['queued', 'sending', 'sent', 'failed']) s));
END $$;

-- Messages still to post (queued or sending), every instance's: the /metrics gauge.
CREATE OR REPLACE FUNCTION cl_chat_pending() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM chat_queue WHERE status IN ('queued', 'sending')
$$;
