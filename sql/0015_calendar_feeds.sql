-- 0015: calendar feeds. A feed is a secret URL (/calendar/<token>.ics) a calendar app
-- subscribes to without a bearer token: the reviews one person is invited to, or those of
-- one team. Only the SHA-256 of the token is kept (as for api_tokens); the token is shown
-- once, when the feed is made. A revoked feed answers 404, as an unknown one does.
CREATE TABLE calendar_feeds (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    person_id   bigint REFERENCES people (id),
    team_id     bigint REFERENCES teams (id),
    label       text CHECK (length(btrim(label)) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 200),
    revoked_at  timestamptz,
    CONSTRAINT calendar_feeds_owner_check CHECK ((person_id IS NULL) <> (team_id IS NULL))
);
CREATE INDEX calendar_feeds_person_idx ON calendar_feeds (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX calendar_feeds_team_idx ON calendar_feeds (team_id) WHERE team_id IS NOT NULL;
