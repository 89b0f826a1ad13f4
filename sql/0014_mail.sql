-- 0014: the mail queue. One row per message and recipient, enqueued inside the
-- transaction of whatever caused it (cl_mail_enqueue), claimed by closeloopd's mail
-- worker with SKIP LOCKED under a lease, sent by SMTP, retried with back-off on
-- transient failures, failed at once on a permanent (5xx) reply. The Message-ID is fixed
-- at enqueue time: a resend after a crash between "sent" and "recorded" carries the same
-- one, so a recipient sees at most one duplicate, which mail clients recognise.
CREATE TABLE mail_queue (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,31}$'),
    to_addr         text NOT NULL CHECK (length(to_addr) BETWEEN 3 AND 254),
    to_name         text CHECK (length(to_name) <= 200 AND to_name !~ '[\r\n]'),
    subject         text NOT NULL CHECK (length(subject) <= 998 AND subject !~ '[\r\n]'),
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    message_id      text NOT NULL UNIQUE CHECK (message_id ~ '^<[^<>\s]+@[^<>\s]+>$'),
    dedup_key       text UNIQUE CHECK (length(dedup_key) BETWEEN 1 AND 500),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    claimed_until   timestamptz,
    sent_at         timestamptz,
    last_error      text,
    last_code       integer,           -- the SMTP reply code of the last attempt, if any
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);

-- The claim: rows still to send, by due time.
CREATE INDEX mail_queue_due_idx ON mail_queue (next_attempt_at, id)
    WHERE status IN ('queued', 'sending');
-- The operator's list: by status, newest first (keyset on id).
CREATE INDEX mail_queue_status_idx ON mail_queue (status, id);
