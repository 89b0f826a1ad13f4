-- 0020: reminders as comments on the linked tracker issue. An outbox row may be a comment
-- (op 'comment', payload {"body", "marker", "mention", "fallback"}; sql/functions/sync.sql),
-- posted once the issue is in step; a reminder reaches its person by email, by comments on
-- the issues, or both (the items without a live link go by email).
ALTER TABLE outbox DROP CONSTRAINT outbox_op_check,
    ADD CONSTRAINT outbox_op_check CHECK (op IN ('create', 'push', 'comment'));
ALTER TABLE reminders DROP CONSTRAINT reminders_channel_check,
    ADD CONSTRAINT reminders_channel_check CHECK (channel IN ('email', 'tracker', 'both'));
