-- 0013: close the loop. A review meeting per incident (and a recurring backlog review per
-- team), its append-only history, the outcome recorded per action when it is held, and
-- verification: done is not closed until a review (or `action verify`) confirms it with
-- evidence.

-- The facilitator's preferred hour for reviews, in their own time zone (people.timezone);
-- NULL: the policy's hour.
ALTER TABLE people ADD COLUMN review_hour smallint CHECK (review_hour BETWEEN 0 AND 23);

-- Done and verified: set together, by a review's outcome or by `action verify`; cleared
-- when the action leaves `done`. Reports tell done-unverified from verified by it.
ALTER TABLE actions ADD COLUMN verified_at timestamptz,
    ADD COLUMN verified_by text CHECK (length(verified_by) <= 200),
    ADD COLUMN verify_evidence text CHECK (length(btrim(verify_evidence)) BETWEEN 1 AND 2000),
    ADD COLUMN follow_up_of bigint REFERENCES actions (id),
    ADD CONSTRAINT actions_verified_check
        CHECK (verified_at IS NULL OR (status = 'done' AND verify_evidence IS NOT NULL));
CREATE INDEX actions_follow_up_of_idx ON actions (follow_up_of) WHERE follow_up_of IS NOT NULL;

CREATE TABLE reviews (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('incident', 'backlog')),
    incident_id      bigint REFERENCES incidents (id),   -- kind incident
    team_id          bigint REFERENCES teams (id),       -- kind backlog; for incident reviews,
                                                         -- the facilitator's team when scheduled
    uid              text NOT NULL UNIQUE CHECK (length(uid) BETWEEN 1 AND 255),  -- iCalendar UID
    sequence         integer NOT NULL DEFAULT 0 CHECK (sequence >= 0),            -- iCalendar SEQUENCE
    status           text NOT NULL DEFAULT 'scheduled'
                     CHECK (status IN ('scheduled', 'held', 'cancelled')),
    starts_at        timestamptz NOT NULL,
    timezone         text NOT NULL CHECK (length(timezone) BETWEEN 1 AND 64),  -- IANA zone of
                                                         -- the meeting (TZID, VTIMEZONE)
    duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    rrule            text CHECK (length(rrule) <= 200),  -- backlog: e.g. FREQ=WEEKLY;INTERVAL=2
    pinned           boolean NOT NULL DEFAULT false,     -- a person chose the time: the
                                                         -- scheduler never moves it
    source           text NOT NULL CHECK (source IN ('scheduler', 'cli', 'api')),
    facilitator_id   bigint REFERENCES people (id),
    extra_attendees  text[] NOT NULL DEFAULT '{}',       -- e-mail addresses
    summary_to       text[] NOT NULL DEFAULT '{}',       -- the incident's summary list
    attended         text[] NOT NULL DEFAULT '{}',       -- handles or addresses, when held
    notes            text NOT NULL DEFAULT '' CHECK (length(notes) <= 65536),
    held_at          timestamptz,
    held_by          text CHECK (length(held_by) <= 200),
    summary_md       text,
    summary_html     text,
    version          integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'incident') = (incident_id IS NOT NULL)),
    CHECK (kind = 'incident' OR (team_id IS NOT NULL AND rrule IS NOT NULL)),
    CHECK ((status = 'held') = (held_at IS NOT NULL))
);
-- One review per incident (a cancelled one is revived by `review schedule`, with the same
-- UID and a higher SEQUENCE); one backlog review per team.
CREATE UNIQUE INDEX reviews_incident_key ON reviews (incident_id) WHERE kind = 'incident';
CREATE UNIQUE INDEX reviews_backlog_key ON reviews (team_id) WHERE kind = 'backlog';
CREATE INDEX reviews_starts_idx ON reviews (starts_at) WHERE status = 'scheduled';
CREATE INDEX reviews_team_idx ON reviews (team_id, starts_at);

-- Append-only history of a review: scheduled, moved, cancelled, pinned, held, summary...
CREATE TABLE review_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    review_id  bigint NOT NULL REFERENCES reviews (id),
    at         timestamptz NOT NULL DEFAULT now(),
    source     text NOT NULL CHECK (source IN ('cli', 'api', 'scheduler', 'github', 'jira')),
    actor      text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    what       text NOT NULL CHECK (what ~ '^[a-z_]{1,32}$'),
    old        jsonb,
    new        jsonb,
    reason     text CHECK (length(reason) <= 2000)
);
CREATE INDEX review_events_review_idx ON review_events (review_id, id);

-- The outcome of each action at the review that held it; recorded together, in one
-- transaction, when the review is held.
CREATE TABLE review_items (
    review_id    bigint NOT NULL REFERENCES reviews (id),
    action_id    bigint NOT NULL REFERENCES actions (id),
    outcome      text NOT NULL
                 CHECK (outcome IN ('effective', 'not_effective', 'not_done', 'dropped')),
    note         text NOT NULL DEFAULT '' CHECK (length(note) <= 65536),
    new_due_on   date,                                   -- not_done: the new due date
    reason       text CHECK (length(reason) <= 2000),    -- dropped: why
    evidence     text CHECK (length(evidence) <= 2000),  -- effective/not_effective
    follow_up_id bigint REFERENCES actions (id),
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    recorded_by  text NOT NULL CHECK (length(recorded_by) BETWEEN 1 AND 200),
    PRIMARY KEY (review_id, action_id),
    CHECK (outcome <> 'not_done' OR new_due_on IS NOT NULL),
    CHECK (outcome <> 'dropped' OR reason IS NOT NULL)
);
CREATE INDEX review_items_action_idx ON review_items (action_id);

-- Incidents whose review the scheduler must look at again: an action was added, moved,
-- closed or archived (sql/functions/reviews.sql's trigger), or the incident is new to it.
-- The scheduler pass takes rows with SKIP LOCKED and deletes them in its transaction.
CREATE TABLE review_replan (
    incident_id bigint PRIMARY KEY REFERENCES incidents (id),
    since       timestamptz NOT NULL DEFAULT now()
);
-- Incidents of the last 60 days (the default policy's bound) that already have actions
-- when this migration runs: the scheduler decides which of them want a review. Older ones
-- are left alone, so that an upgrade does not send invitations for work long past; their
-- facilitators can `closeloop review schedule` them, and any change to their actions
-- brings them to the scheduler.
INSERT INTO review_replan (incident_id)
SELECT DISTINCT a.incident_id FROM actions a JOIN incidents i ON i.id = a.incident_id
WHERE a.archived_at IS NULL AND i.archived_at IS NULL
  AND coalesce(i.started_at, i.created_at) > now() - interval '60 days';
