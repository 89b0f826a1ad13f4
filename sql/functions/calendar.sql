-- Calendars: who a review invites, the event JSON the iCalendar renderer reads
-- (src/cal/ics.c: the invitations by mail and the feeds both use it), and calendar feeds.
-- Errors: CL404 not found, CL422 validation (COLUMN names the field).

-- Who a review invites, chair first, one row per address (compared in lower case);
-- inactive people are left out. An incident review: its facilitator (chair), the owners
-- of the incident's actions (open or done; not dropped, not archived), the manager of the
-- review's team, then the review's extra addresses. A backlog review: the team's manager
-- (chair), the team's people who own open actions, then the extra addresses. `person` is
-- the handle of the person an address belongs to, or NULL.
CREATE OR REPLACE FUNCTION cl_review_attendees(rid bigint)
RETURNS TABLE (email text, name text, role text, person text)
LANGUAGE sql STABLE AS $$
    WITH r AS (SELECT * FROM reviews WHERE id = rid),
    cand AS (
        SELECT p.email, p.name, 'chair' AS role, p.handle, p.active, 1 AS ord
        FROM r JOIN people p ON p.id = r.facilitator_id
        WHERE r.kind = 'incident'
        UNION ALL
        SELECT p.email, p.name, 'chair', p.handle, p.active, 1
        FROM r JOIN teams t ON t.id = r.team_id JOIN people p ON p.id = t.manager_id
        WHERE r.kind = 'backlog'
        UNION ALL
        SELECT p.email, p.name, 'req', p.handle, p.active, 2
        FROM r JOIN actions a ON a.incident_id = r.incident_id
               JOIN people p ON p.id = a.owner_id
        WHERE r.kind = 'incident' AND a.archived_at IS NULL
          AND a.status IN ('open', 'in_progress', 'blocked', 'done')
        UNION ALL
        SELECT p.email, p.name, 'req', p.handle, p.active, 2
        FROM r JOIN people p ON p.team_id = r.team_id
        WHERE r.kind = 'backlog'
          AND EXISTS (SELECT 1 FROM actions a
                      WHERE a.owner_id = p.id AND a.archived_at IS NULL
                        AND a.status IN ('open', 'in_progress', 'blocked'))
        UNION ALL
        SELECT p.email, p.name, 'req', p.handle, p.active, 3
        FROM r JOIN teams t ON t.id = r.team_id JOIN people p ON p.id = t.manager_id
        WHERE r.kind = 'incident'
        UNION ALL
        SELECT x.addr, p.name, 'req', p.handle, coalesce(p.active, true), 4
        FROM r CROSS JOIN unnest(r.extra_attendees) AS x (addr)
             LEFT JOIN people p ON lower(p.email) = lower(x.addr)
    ),
    one AS (
        SELECT DISTINCT ON (lower(c.email)) c.email, c.name, c.role, c.handle, c.active, c.ord
        FROM cand c
        ORDER BY lower(c.email), c.ord, c.active DESC, c.handle
    )
    SELECT o.email, o.name, o.role, o.handle FROM one o
    WHERE o.active
    ORDER BY o.ord, lower(o.email)
$$;

-- A UTC instant as the renderer reads it: YYYY-MM-DDTHH:MM:SSZ.
CREATE OR REPLACE FUNCTION cl_ics_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- The event of a review, as ics_event_from_json() reads it: uid, sequence, status,
-- starts_at (UTC), timezone, duration_minutes, rrule, summary, description, url (the
-- postmortem), stamp (when the review last changed: DTSTAMP), organizer ({"name","email"}:
-- the given one when not null, else the facilitator, else the team's manager; null when
-- none), attendees (cl_review_attendees: name, email, role, person); also id, kind,
-- incident and team. NULL when there is no such review.
CREATE OR REPLACE FUNCTION cl_review_event_json(rid bigint, organizer jsonb)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', r.id, 'kind', r.kind, 'incident', i.key, 'team', t.name,
        'uid', r.uid, 'sequence', r.sequence, 'status', r.status,
        'starts_at', cl_ics_time(r.starts_at), 'timezone', r.timezone,
        'duration_minutes', r.duration_minutes, 'rrule', r.rrule,
        'summary', CASE WHEN r.kind = 'incident' THEN 'Review: ' || i.key || ' ' || i.title
                        ELSE 'Backlog review: ' || t.name END,
        'description', CASE
            WHEN r.kind = 'incident' THEN
                format(E'Close-the-loop review of incident %s: %s.\n%s%s action%s: %s open, %s done.',
                       i.key, i.title,
                       CASE WHEN i.postmortem_url IS NOT NULL
                            THEN 'Postmortem: ' || i.postmortem_url || E'\n' ELSE '' END,
                       n.total, CASE WHEN n.total = 1 THEN '' ELSE 's' END, n.open, n.done)
            ELSE format(E'Backlog review of team %s: %s open action%s.', t.name, b.open,
                        CASE WHEN b.open = 1 THEN '' ELSE 's' END) END,
        'url', i.postmortem_url,
        'stamp', cl_ics_time(r.updated_at),
        'organizer', coalesce(organizer,
                              (SELECT jsonb_build_object('name', p.name, 'email', p.email)
                               FROM people p
                               WHERE p.id = coalesce(r.facilitator_id, t.manager_id))),
        'attendees', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'name', a.name, 'email', a.email, 'role', a.role,
                                'person', a.person)), '[]'::jsonb)
                      FROM cl_review_attendees(r.id) a))
    FROM reviews r
    LEFT JOIN incidents i ON i.id = r.incident_id
    LEFT JOIN teams t ON t.id = r.team_id
    LEFT JOIN LATERAL (
        SELECT count(*) AS total,
               count(*) FILTER (WHERE a.status IN ('open', 'in_progress', 'blocked')) AS open,
               count(*) FILTER (WHERE a.status = 'done') AS done
        FROM actions a WHERE a.incident_id = r.incident_id AND a.archived_at IS NULL) n ON true
    LEFT JOIN LATERAL (
        SELECT count(*) AS open
        FROM actions a JOIN people p ON p.id = a.owner_id
        WHERE p.team_id = r.team_id AND a.archived_at IS NULL
          AND a.status IN ('open', 'in_progress', 'blocked')) b ON true
    WHERE r.id = rid
$$;

-- Feeds ------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION calendar_feed_json(f calendar_feeds) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', f.id,
        'person', (SELECT handle FROM people WHERE id = f.person_id),
        'team', (SELECT name FROM teams WHERE id = f.team_id),
        'label', f.label, 'created_at', f.created_at, 'created_by', f.created_by,
        'revoked_at', f.revoked_at)::text
$$;

-- A new feed of one person ({"person": handle}) or one team ({"team": name}), with an
-- optional "label"; token_hash is the SHA-256 (hex) of the token the caller made and
-- shows once. Returns the feed's JSON.
CREATE OR REPLACE FUNCTION cl_calendar_feed_create(p jsonb, hash text, actor text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    f calendar_feeds;
BEGIN
    IF (p ? 'person') = (p ? 'team') THEN
        RAISE EXCEPTION 'a feed is for one person or one team: give "person" or "team"'
            USING ERRCODE = 'CL422', COLUMN = 'person';
    END IF;
    INSERT INTO calendar_feeds (token_hash, person_id, team_id, label, created_by)
    VALUES (hash, cl_person_id(p->>'person', 'person', true),
            cl_team_id(p->>'team', 'team'), nullif(btrim(p->>'label'), ''), actor)
    RETURNING * INTO f;
    RETURN calendar_feed_json(f);
END $$;

-- Revokes a feed (at once: its URL answers 404 from now on); revoking a revoked feed
-- changes nothing. Returns the feed's JSON; CL404 when there is no such feed.
CREATE OR REPLACE FUNCTION cl_calendar_feed_revoke(fid bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    f calendar_feeds;
BEGIN
    UPDATE calendar_feeds SET revoked_at = coalesce(revoked_at, now())
    WHERE id = fid RETURNING * INTO f;
    IF f.id IS NULL THEN
        RAISE EXCEPTION 'no calendar feed %', fid USING ERRCODE = 'CL404';
    END IF;
    RETURN calendar_feed_json(f);
END $$;

-- What a live feed (found by the hash of its token) shows: {"name": what the calendar
-- calls itself, "events": [cl_review_event_json of each review]}. A person's feed holds
-- every review they are invited to (cl_review_attendees), a team's every review of the
-- team; scheduled, held and cancelled ones (a cancelled one tells subscribed calendars to
-- drop it), from the last 365 days on, and recurring ones whenever they began; at most
-- 500, earliest first. NULL for an unknown or revoked feed.
CREATE OR REPLACE FUNCTION cl_calendar_feed(hash text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'name', coalesce(f.label,
                         CASE WHEN p.id IS NOT NULL THEN 'closeloop reviews: ' || p.name
                              ELSE 'closeloop reviews: team ' || t.name END),
        'events', (SELECT coalesce(jsonb_agg(cl_review_event_json(x.id, NULL)
                                             ORDER BY x.starts_at, x.id), '[]'::jsonb)
                   FROM (SELECT r.id, r.starts_at FROM reviews r
                         WHERE (r.starts_at >= now() - interval '365 days'
                                OR (r.rrule IS NOT NULL AND r.status = 'scheduled'))
                           AND CASE WHEN t.id IS NOT NULL THEN r.team_id = t.id
                                    ELSE EXISTS (SELECT 1 FROM cl_review_attendees(r.id) a
                                                 WHERE lower(a.email) = lower(p.email)) END
                         ORDER BY r.starts_at DESC, r.id
                         LIMIT 500) x))
    FROM calendar_feeds f
    LEFT JOIN people p ON p.id = f.person_id
    LEFT JOIN teams t ON t.id = f.team_id
    WHERE f.token_hash = hash AND f.revoked_at IS NULL
$$;
