-- 0018: owner reminders. reminder_state holds, per action, its snooze and where the
-- ladder stands (the last reminder to the owner and to the facilitator, and the due date
-- each was about: a moved due date starts the ladder again). reminders holds one row per
-- message sent to one person (all their due items batched), with the ISO week in the
-- person's zone: the weekly budget counts these rows. Each item of a message is also an
-- event of its action (field 'reminder', source 'scheduler').
CREATE TABLE reminder_state (
    action_id      bigint PRIMARY KEY REFERENCES actions (id),
    snoozed_until  date,
    snooze_reason  text CHECK (length(snooze_reason) <= 4000),
    owner_at       timestamptz,
    owner_step     text CHECK (owner_step IN ('before', 'overdue')),
    owner_due      date,
    escalated_at   timestamptz,
    escalated_due  date
);

CREATE TABLE reminders (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id  bigint NOT NULL REFERENCES people (id),
    week       text NOT NULL CHECK (week ~ '^[0-9]{4}-W[0-9]{2}$'),
    at         timestamptz NOT NULL DEFAULT now(),
    channel    text NOT NULL CHECK (channel IN ('email', 'tracker')),
    mail_id    bigint REFERENCES mail_queue (id),
    items      jsonb NOT NULL
);
CREATE INDEX reminders_person_week_idx ON reminders (person_id, week);
