-- 0017: managers' digests. Each person may choose how often they get theirs
-- (digest_cadence; NULL: the [digest] default). digest_recipients remembers when each
-- recipient was first seen, so that the first period of a new one is the one starting
-- after that. digest_runs has one row per (recipient, period), written in the same
-- transaction as the mail it queues: exactly once, whatever crashes.
ALTER TABLE people ADD COLUMN digest_cadence text
    CHECK (digest_cadence IN ('daily', 'weekly', 'monthly', 'off'));

CREATE TABLE digest_recipients (
    recipient  text PRIMARY KEY CHECK (length(recipient) BETWEEN 1 AND 300),
    first_seen timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE digest_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient     text NOT NULL CHECK (length(recipient) BETWEEN 1 AND 300),
    period        text NOT NULL CHECK (period ~ '^[0-9]{4}-(W[0-9]{2}|[0-9]{2}(-[0-9]{2})?)$'),
    to_addr       text NOT NULL,
    scope         jsonb NOT NULL,
    mail_id       bigint REFERENCES mail_queue (id),
    chat_id       bigint,
    trigger       text NOT NULL DEFAULT 'schedule' CHECK (trigger IN ('schedule', 'send-now')),
    counts        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (recipient, period)
);
CREATE INDEX digest_runs_created_idx ON digest_runs (id DESC);
