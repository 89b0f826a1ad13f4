-- 0019: the chat queue. One row per message and channel (a [chat.NAME] section of
-- closeloopd's configuration: a Slack or Microsoft Teams incoming webhook), enqueued
-- inside the transaction of whatever caused it (cl_chat_enqueue), claimed by closeloopd's
-- chat worker with SKIP LOCKED under a lease, posted over HTTPS, retried after a 429's
-- Retry-After or with back-off on 5xx and timeouts, failed at once on 400/403/404/410.
-- Webhooks have no idempotency key: a crash between the post and its record posts the
-- message again once.
CREATE TABLE chat_queue (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel         text NOT NULL CHECK (length(channel) BETWEEN 1 AND 64),
    kind            text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,31}$'),
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    dedup_key       text UNIQUE CHECK (length(dedup_key) BETWEEN 1 AND 500),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    claimed_until   timestamptz,
    last_status     integer,           -- the HTTP status of the last attempt, if any
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);

CREATE INDEX chat_queue_due_idx ON chat_queue (next_attempt_at, id)
    WHERE status IN ('queued', 'sending');
CREATE INDEX chat_queue_status_idx ON chat_queue (status, id);
