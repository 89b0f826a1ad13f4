-- The mail queue (sql/0014_mail.sql): enqueue inside the caller's transaction, claim
-- under a lease with SKIP LOCKED, record the outcome, list for the operator. Re-created
-- as a whole by `migrate` when this file changes.

-- Whether addr is one plain address (local@domain, no display name, no spaces, no
-- characters that would need quoting in a header).
CREATE OR REPLACE FUNCTION cl_mail_addr_ok(addr text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT addr IS NOT NULL AND length(addr) BETWEEN 3 AND 254
       AND addr ~ '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$'
$$;

-- The sender, written by closeloopd's mail worker when it starts: its address (mail_from:
-- the ORGANIZER of invitations that have no facilitator) and its domain (mail_domain: the
-- domain of the Message-IDs enqueued from now on).
DROP FUNCTION IF EXISTS cl_mail_set_domain(text);
CREATE OR REPLACE FUNCTION cl_mail_set_sender(addr text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO settings (key, value)
    VALUES ('mail_from', addr), ('mail_domain', split_part(addr, '@', 2))
    ON CONFLICT (key) DO UPDATE SET value = excluded.value
    WHERE settings.value IS DISTINCT FROM excluded.value
$$;

-- Queues one message to one recipient and returns its id. Idempotent on dedup_key: a
-- second call with the same key returns the first row's id and queues nothing. The
-- worker is woken by NOTIFY closeloop_mail, which PostgreSQL delivers at commit, so a
-- caller's rolled-back transaction sends nothing. The kind names the renderer closeloopd
-- builds the message with from the payload; the Message-ID is fixed here.
CREATE OR REPLACE FUNCTION cl_mail_enqueue(kind text, to_addr text, to_name text, subject text,
                                           payload jsonb, dedup_key text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
    domain text := coalesce((SELECT value FROM settings WHERE key = 'mail_domain'),
                            'closeloop.invalid');
BEGIN
    IF NOT cl_mail_addr_ok(to_addr) THEN
        RAISE EXCEPTION 'not an e-mail address: "%"', left(to_addr, 254)
            USING ERRCODE = 'CL422', COLUMN = 'to_addr';
    END IF;
    IF to_name ~ '[\r\n]' OR subject ~ '[\r\n]' THEN
        RAISE EXCEPTION 'a mail''s name and subject are one line each' USING ERRCODE = 'CL422';
    END IF;
    IF dedup_key IS NOT NULL THEN
        SELECT q.id INTO new_id FROM mail_queue q WHERE q.dedup_key = cl_mail_enqueue.dedup_key;
        IF FOUND THEN
            RETURN new_id;
        END IF;
    END IF;
    INSERT INTO mail_queue (kind, to_addr, to_name, subject, payload, message_id, dedup_key)
    VALUES (kind, to_addr, nullif(to_name, ''), subject, coalesce(payload, '{}'::jsonb),
            '<' || gen_random_uuid() || '@' || domain || '>', dedup_key)
    ON CONFLICT ON CONSTRAINT mail_queue_dedup_key_key DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN   -- a concurrent transaction queued the same key first
        SELECT q.id INTO new_id FROM mail_queue q WHERE q.dedup_key = cl_mail_enqueue.dedup_key;
    END IF;
    PERFORM pg_notify('closeloop_mail', '');
    RETURN new_id;
END $$;

-- Claims up to lim messages that are due, oldest first, for this process
-- (application_name) under a lease. A row whose claim is held by another live closeloopd
-- (cl_claim_held), or by this one and not expired (a send of ours in flight), is skipped;
-- one whose holder died is taken over. Each claim is an attempt.
CREATE OR REPLACE FUNCTION cl_mail_claim(lim integer, lease_seconds double precision)
RETURNS TABLE (id bigint, kind text, to_addr text, to_name text, subject text, payload jsonb,
               message_id text, attempts integer)
LANGUAGE sql AS $$
    UPDATE mail_queue m SET status = 'sending', attempts = m.attempts + 1,
                            claimed_until = now() + make_interval(secs => lease_seconds),
                            claimed_by = current_setting('application_name')
    WHERE m.id IN (SELECT x.id FROM mail_queue x
                   WHERE x.status IN ('queued', 'sending') AND x.next_attempt_at <= now()
                     AND NOT cl_claim_held(x.claimed_by, x.claimed_until)
                     AND NOT coalesce(x.claimed_by = current_setting('application_name')
                                      AND x.claimed_until >= now(), false)
                   ORDER BY x.next_attempt_at, x.id LIMIT lim FOR UPDATE SKIP LOCKED)
    RETURNING m.id, m.kind, m.to_addr, m.to_name, m.subject, m.payload, m.message_id, m.attempts
$$;

-- The server accepted the message (reply code, 250 usually).
CREATE OR REPLACE FUNCTION cl_mail_sent(mail_id bigint, code integer) RETURNS void
LANGUAGE sql AS $$
    UPDATE mail_queue SET status = 'sent', sent_at = now(), last_code = code, last_error = NULL,
                          claimed_by = NULL, claimed_until = NULL
    WHERE id = mail_id AND status <> 'sent'
$$;

-- A send failed. permanent (a 5xx reply, a message that cannot be rendered) or the
-- attempts used up: failed, with the server's reply kept. Otherwise queued again after a
-- back-off of base * 2^(attempts-1) seconds, capped at cap, times a jitter in
-- [0.75, 1.25]. A row another attempt already sent is left alone.
CREATE OR REPLACE FUNCTION cl_mail_failed(mail_id bigint, code integer, err text,
                                          permanent boolean, base double precision,
                                          cap double precision, max_attempts integer)
RETURNS text
LANGUAGE sql AS $$
    UPDATE mail_queue
    SET status = CASE WHEN permanent OR attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
        last_code = code, last_error = left(err, 1000), claimed_by = NULL, claimed_until = NULL,
        next_attempt_at = now() + make_interval(secs =>
            least(cap, base * power(2, least(attempts, 30) - 1)) * (0.75 + random() * 0.5))
    WHERE id = mail_id AND status <> 'sent'
    RETURNING status
$$;

-- The operator's view: messages newest first, optionally of one status, `lim` at a time
-- after the id `before` (keyset). {"items": [...], "next_cursor": the last id as text when
-- the page is full, else null, "counts": {status: n}}.
CREATE OR REPLACE FUNCTION cl_mail_list(status_in text, before bigint, lim integer)
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
    FROM (SELECT m.id, m.kind, m.to_addr, m.to_name, m.subject, m.message_id, m.status,
                 m.attempts, m.next_attempt_at, m.sent_at, m.last_code, m.last_error,
                 m.created_at
          FROM mail_queue m
          WHERE (status_in IS NULL OR m.status = status_in)
            AND (before IS NULL OR m.id < before)
          ORDER BY m.id DESC LIMIT lim) r;
    RETURN jsonb_build_object(
        'items', rows,
        'next_cursor', CASE WHEN n = lim THEN (rows -> (n - 1) ->> 'id') END,
        'counts', (SELECT jsonb_object_agg(s, (SELECT count(*) FROM mail_queue WHERE status = s))
                   FROM unnest(ARRAY['queued', 'sending', 'sent', 'failed']) s));
END $$;

-- Messages still to send (queued or sending), every instance's: the /metrics gauge.
CREATE OR REPLACE FUNCTION cl_mail_pending() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM mail_queue WHERE status IN ('queued', 'sending')
$$;
