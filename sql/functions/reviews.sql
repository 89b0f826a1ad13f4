-- reviews: scheduling the close-the-loop review of each incident (and the recurring backlog
-- review of each team), moving and cancelling it, and its history. The policy comes from
-- closeloopd's [review] sections as JSON (src/review/policy.c):
--   {"default": P, "teams": {"<team>": P, ...}} where P is
--   {"grace_days", "min_days", "max_days", "hour", "duration_minutes", "working_days": [1..7
--    ISO], "holidays": ["YYYY-MM-DD"], "timezone", "backlog": "off"|"weekly"|"biweekly",
--    "backlog_day": 1..7, "backlog_hour", "at_risk_days"}
-- Every change bumps the review's SEQUENCE and writes a review_events row, in the same
-- transaction as the invitations it sends (cl_review_invite).

CREATE OR REPLACE FUNCTION review_json(r reviews) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', r.id, 'kind', r.kind,
        'incident', (SELECT key FROM incidents WHERE id = r.incident_id),
        'team', (SELECT name FROM teams WHERE id = r.team_id),
        'uid', r.uid, 'sequence', r.sequence, 'status', r.status,
        'starts_at', r.starts_at,
        'local', to_char(r.starts_at AT TIME ZONE r.timezone, 'YYYY-MM-DD HH24:MI'),
        'timezone', r.timezone, 'duration_minutes', r.duration_minutes, 'rrule', r.rrule,
        'pinned', r.pinned, 'source', r.source,
        'facilitator', (SELECT handle FROM people WHERE id = r.facilitator_id),
        'attendees', to_json(r.extra_attendees), 'summary_to', to_json(r.summary_to),
        'held_at', r.held_at, 'version', r.version,
        'created_at', r.created_at, 'updated_at', r.updated_at)::text
$$;

-- Which incidents the scheduler looks at again: actions added, or whose due date, status
-- or archiving changed. Statement-level, so that a batch of 500 actions marks once.
CREATE OR REPLACE FUNCTION cl_review_mark() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    marked integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO review_replan (incident_id)
        SELECT DISTINCT n.incident_id FROM review_new n
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO review_replan (incident_id)
        SELECT DISTINCT n.incident_id FROM review_new n JOIN review_old o ON o.id = n.id
        WHERE n.due_on IS DISTINCT FROM o.due_on OR n.status IS DISTINCT FROM o.status
           OR n.archived_at IS DISTINCT FROM o.archived_at
        ON CONFLICT DO NOTHING;
    END IF;
    GET DIAGNOSTICS marked = ROW_COUNT;
    IF marked > 0 THEN
        PERFORM pg_notify('closeloop_review', '');
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS actions_review_insert ON actions;
CREATE TRIGGER actions_review_insert AFTER INSERT ON actions
    REFERENCING NEW TABLE AS review_new
    FOR EACH STATEMENT EXECUTE FUNCTION cl_review_mark();
DROP TRIGGER IF EXISTS actions_review_update ON actions;
CREATE TRIGGER actions_review_update AFTER UPDATE ON actions
    REFERENCING OLD TABLE AS review_old NEW TABLE AS review_new
    FOR EACH STATEMENT EXECUTE FUNCTION cl_review_mark();

-- The policy of a team (its override, complete) or the default.
CREATE OR REPLACE FUNCTION cl_review_policy(policy jsonb, team_id_in bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(policy->'teams'->(SELECT name FROM teams WHERE id = team_id_in),
                    policy->'default')
$$;

DROP FUNCTION IF EXISTS cl_review_workday(date, jsonb);

-- The first working day on or after d (step 1) or on or before it (step -1), within 366
-- days; NULL when the policy leaves none. A loop that stops at the first: the scheduler
-- calls it for every incident it plans.
CREATE OR REPLACE FUNCTION cl_review_next_workday(d date, step integer, p jsonb) RETURNS date
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    days jsonb := p->'working_days';
    hol jsonb := coalesce(p->'holidays', '[]');
    x date;
BEGIN
    FOR i IN 0..366 LOOP
        x := d + i * step;
        IF days @> to_jsonb(extract(isodow FROM x)::integer) AND NOT hol @> to_jsonb(x::text) THEN
            RETURN x;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- When the incident's review should be, by the policy: the latest open due date plus the
-- grace period, bounded to [min, max] days after the incident started, never before
-- tomorrow, on a working day of the facilitator's team (forward; back towards the bound
-- when forward would pass it), at the facilitator's hour in the facilitator's zone.
CREATE OR REPLACE FUNCTION cl_review_plan(iid bigint, policy jsonb,
    OUT starts_at timestamptz, OUT tz text, OUT duration integer, OUT team bigint,
    OUT facilitator bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    i incidents;
    f people;
    p jsonb;
    d0 date;
    today date;
    lo date;
    hi date;
    want date;
    back date;
BEGIN
    SELECT * INTO i FROM incidents WHERE id = iid;
    SELECT * INTO f FROM people WHERE id = i.facilitator_id;
    team := f.team_id;
    facilitator := f.id;
    p := cl_review_policy(policy, team);
    tz := coalesce(f.timezone, p->>'timezone', 'UTC');
    duration := (p->>'duration_minutes')::integer;
    d0 := (coalesce(i.started_at, i.created_at) AT TIME ZONE tz)::date;
    today := (now() AT TIME ZONE tz)::date;
    lo := d0 + (p->>'min_days')::integer;
    hi := d0 + (p->>'max_days')::integer;
    SELECT max(a.due_on) + (p->>'grace_days')::integer INTO want
    FROM actions a
    WHERE a.incident_id = iid AND a.archived_at IS NULL AND action_is_open(a.status);
    want := greatest(least(coalesce(want, lo), hi), lo, today + 1);
    want := cl_review_next_workday(want, 1, p);
    IF want > hi THEN
        back := cl_review_next_workday(hi, -1, p);
        IF back >= greatest(lo, today + 1) THEN
            want := back;
        END IF;
    END IF;
    IF want IS NULL THEN
        RAISE EXCEPTION 'the review policy of % leaves no working day', coalesce(
            (SELECT name FROM teams WHERE id = team), 'the default') USING ERRCODE = 'CL422';
    END IF;
    starts_at := (want + make_time(coalesce(f.review_hour, (p->>'hour')::integer), 0, 0))
                 AT TIME ZONE tz;
END $$;

CREATE OR REPLACE FUNCTION cl_review_event(rid bigint, src text, actor text, what text,
                                           old jsonb, new jsonb, reason text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO review_events (review_id, source, actor, what, old, new, reason)
    VALUES (rid, src, actor, what, old, new, reason)
$$;

-- What a move or a cancel records as old and new.
CREATE OR REPLACE FUNCTION cl_review_when(r reviews) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('starts_at', r.starts_at, 'timezone', r.timezone,
                              'duration_minutes', r.duration_minutes, 'status', r.status,
                              'sequence', r.sequence)
$$;

-- Whether the scheduler should give this incident a review it does not have: it is not
-- archived, has actions, and the policy's window (max days after it started) is still
-- open. Past the window the bounds cannot be held: a facilitator who still wants one
-- schedules it by hand.
CREATE OR REPLACE FUNCTION cl_review_wanted(iid bigint, policy jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT i.archived_at IS NULL
       AND EXISTS (SELECT 1 FROM actions a WHERE a.incident_id = i.id AND a.archived_at IS NULL)
       AND coalesce(i.started_at, i.created_at)
           + make_interval(days => (cl_review_policy(policy, f.team_id)->>'max_days')::integer)
           > now()
    FROM incidents i LEFT JOIN people f ON f.id = i.facilitator_id
    WHERE i.id = iid
$$;

-- A new review of an incident at the planned time; invitations go out.
CREATE OR REPLACE FUNCTION cl_review_create(iid bigint, policy jsonb, src text, actor text)
RETURNS reviews LANGUAGE plpgsql AS $$
DECLARE
    pl record := cl_review_plan(iid, policy);
    r reviews;
BEGIN
    INSERT INTO reviews (kind, incident_id, team_id, uid, starts_at, timezone, duration_minutes,
                         source, facilitator_id)
    VALUES ('incident', iid, pl.team, gen_random_uuid()::text || '@closeloop', pl.starts_at,
            pl.tz, pl.duration, src, pl.facilitator)
    RETURNING * INTO r;
    PERFORM cl_review_event(r.id, src, actor, 'scheduled', NULL, cl_review_when(r), NULL);
    PERFORM cl_review_invite(r.id);
    RETURN r;
END $$;

-- Moves a review to a new time (and zone, duration), one SEQUENCE later; invitations go out.
CREATE OR REPLACE FUNCTION cl_review_set_time(r reviews, at timestamptz, tz text, minutes integer,
                                              pin boolean, src text, actor text, what text,
                                              reason text)
RETURNS reviews LANGUAGE plpgsql AS $$
DECLARE
    n reviews;
BEGIN
    UPDATE reviews SET starts_at = at, timezone = tz,
                       duration_minutes = coalesce(minutes, duration_minutes),
                       pinned = pinned OR pin, status = 'scheduled', sequence = sequence + 1,
                       version = version + 1, updated_at = now()
    WHERE id = r.id RETURNING * INTO n;
    PERFORM cl_review_event(r.id, src, actor, what, cl_review_when(r), cl_review_when(n), reason);
    PERFORM cl_review_invite(n.id);
    RETURN n;
END $$;

-- The scheduler's pass: one instance at a time (advisory lock), at most `lim` incidents
-- from review_replan (SKIP LOCKED). A missing review is created when wanted; a scheduled,
-- unpinned review in the future moves later when its plan moved past it (work moved or
-- was added). A plan earlier than the meeting leaves it alone: people planned around it.
CREATE OR REPLACE FUNCTION cl_review_pass(policy jsonb, lim integer) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    iid bigint;
    r reviews;
    pl record;
    later timestamptz;
    created integer := 0;
    moved integer := 0;
    seen integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('closeloop_review_pass')) THEN
        RETURN json_build_object('skipped', true, 'checked', 0, 'created', 0, 'moved', 0,
                                 'backlog', 0);
    END IF;
    INSERT INTO settings (key, value) VALUES ('review_organizer', coalesce(policy->>'organizer', ''))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
    WHERE settings.value IS DISTINCT FROM EXCLUDED.value;
    FOR iid IN DELETE FROM review_replan
               WHERE incident_id IN (SELECT x.incident_id FROM review_replan x
                                     ORDER BY x.since, x.incident_id
                                     LIMIT lim FOR UPDATE SKIP LOCKED)
               RETURNING incident_id LOOP
        seen := seen + 1;
        SELECT * INTO r FROM reviews WHERE incident_id = iid AND kind = 'incident' FOR UPDATE;
        IF NOT FOUND THEN
            IF cl_review_wanted(iid, policy) THEN
                PERFORM cl_review_create(iid, policy, 'scheduler', 'scheduler');
                created := created + 1;
            END IF;
        ELSIF r.status = 'scheduled' AND r.starts_at > now() THEN
            later := NULL;
            IF NOT r.pinned THEN
                pl := cl_review_plan(iid, policy);
                later := CASE WHEN pl.starts_at > r.starts_at THEN pl.starts_at END;
            END IF;
            IF later IS NOT NULL THEN
                PERFORM cl_review_set_time(r, later, pl.tz, NULL, false, 'scheduler',
                                           'scheduler', 'moved',
                                           'the work moved past the meeting');
                moved := moved + 1;
            ELSE
                PERFORM cl_review_invite(r.id);  -- an owner added since: this SEQUENCE too
            END IF;
        END IF;
    END LOOP;
    RETURN json_build_object('skipped', false, 'checked', seen, 'created', created,
                             'moved', moved, 'backlog', cl_review_backlog_pass(policy));
END $$;

-- "2027-01-12 15:00" (wall time in tz) or RFC 3339 with an offset; CL422 on `at`
-- otherwise, and when it is not in the future.
CREATE OR REPLACE FUNCTION cl_review_at(at text, tz text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t timestamptz;
BEGIN
    IF at ~ '^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$' THEN
        t := at::timestamp AT TIME ZONE tz;
    ELSIF at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$' THEN
        t := at::timestamptz;
    ELSE
        RAISE EXCEPTION '"%" is not a time: give "YYYY-MM-DD HH:MM" (in the time zone) or '
                        'RFC 3339 with an offset', at USING ERRCODE = 'CL422', COLUMN = 'at';
    END IF;
    IF t <= now() THEN
        RAISE EXCEPTION 'the review would be in the past (% in %)', at, tz
            USING ERRCODE = 'CL422', COLUMN = 'at';
    END IF;
    RETURN t;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
    RAISE EXCEPTION '"%" is not a valid time', at USING ERRCODE = 'CL422', COLUMN = 'at';
END $$;

CREATE OR REPLACE FUNCTION cl_review_emails(v jsonb, field text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    e text;
    out text[] := '{}';
BEGIN
    FOR e IN SELECT jsonb_array_elements_text(coalesce(v, '[]')) LOOP
        IF length(e) > 254 OR e !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' THEN
            RAISE EXCEPTION '"%" is not an e-mail address', left(e, 80)
                USING ERRCODE = 'CL422', COLUMN = field;
        END IF;
        IF NOT lower(e) = ANY (SELECT lower(x) FROM unnest(out) x) THEN
            out := out || e;
        END IF;
    END LOOP;
    IF cardinality(out) > 50 THEN
        RAISE EXCEPTION 'at most 50 addresses' USING ERRCODE = 'CL422', COLUMN = field;
    END IF;
    RETURN out;
END $$;

CREATE OR REPLACE FUNCTION cl_review_of(key_in text, lock boolean) RETURNS reviews
LANGUAGE plpgsql AS $$
DECLARE
    i incidents := cl_incident_lock(key_in);
    r reviews;
BEGIN
    SELECT * INTO r FROM reviews WHERE incident_id = i.id AND kind = 'incident';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incident % has no review yet: schedule one with `closeloop review '
                        'schedule %`', i.key, i.key USING ERRCODE = 'CL404';
    END IF;
    IF lock THEN
        PERFORM 1 FROM reviews WHERE id = r.id FOR UPDATE;
    END IF;
    RETURN r;
END $$;

-- `review schedule`: by hand. With `at` the time is pinned (the scheduler never moves
-- it); without, the policy's time now. Creates the review, re-times a scheduled one, or
-- revives a cancelled one (same UID, next SEQUENCE); a held review stays held (CL409).
CREATE OR REPLACE FUNCTION cl_review_schedule(key_in text, p jsonb, src text, actor text,
                                              policy jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    i incidents := cl_incident_lock(key_in);
    r reviews;
    pl record := cl_review_plan(i.id, policy);
    tz text := cl_check_timezone(coalesce(p->>'timezone', pl.tz));
    at timestamptz := CASE WHEN p ? 'at' THEN cl_review_at(p->>'at', tz) ELSE pl.starts_at END;
    minutes integer := coalesce((p->>'duration_minutes')::integer, pl.duration);
    revived boolean;
BEGIN
    IF i.archived_at IS NOT NULL THEN
        RAISE EXCEPTION 'incident % is archived', i.key USING ERRCODE = 'CLTRN';
    END IF;
    SELECT * INTO r FROM reviews WHERE incident_id = i.id AND kind = 'incident' FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO reviews (kind, incident_id, team_id, uid, starts_at, timezone,
                             duration_minutes, source, facilitator_id, pinned)
        VALUES ('incident', i.id, pl.team, gen_random_uuid()::text || '@closeloop', at, tz,
                minutes, src, pl.facilitator, p ? 'at')
        RETURNING * INTO r;
        PERFORM cl_review_event(r.id, src, actor, 'scheduled', NULL, cl_review_when(r), NULL);
    ELSIF r.status = 'held' THEN
        RAISE EXCEPTION 'the review of % was held on %: it cannot be scheduled again', i.key,
                        to_char(r.held_at AT TIME ZONE r.timezone, 'YYYY-MM-DD')
            USING ERRCODE = 'CLTRN';
    ELSE
        revived := r.status = 'cancelled';
        r := cl_review_set_time(r, at, tz, minutes, p ? 'at', src, actor,
                                CASE WHEN revived THEN 'revived' ELSE 'moved' END,
                                p->>'reason');
        UPDATE reviews SET source = src WHERE id = r.id;
    END IF;
    UPDATE reviews
    SET extra_attendees = CASE WHEN p ? 'attendees'
                               THEN cl_review_emails(p->'attendees', 'attendees')
                               ELSE extra_attendees END,
        summary_to = CASE WHEN p ? 'summary_to'
                          THEN cl_review_emails(p->'summary_to', 'summary_to')
                          ELSE summary_to END
    WHERE id = r.id RETURNING * INTO r;
    PERFORM cl_review_invite(r.id);  -- to the attendees now (extra ones added too)
    RETURN review_json(r);
END $$;

-- `review move`: a person moves it (pinned from now on); a reason is kept if given.
CREATE OR REPLACE FUNCTION cl_review_move(key_in text, p jsonb, src text, actor text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r reviews := cl_review_of(key_in, true);
    tz text := cl_check_timezone(coalesce(p->>'timezone', r.timezone));
BEGIN
    IF r.status <> 'scheduled' THEN
        RAISE EXCEPTION 'the review of % is %: only a scheduled review moves', upper(key_in),
                        r.status USING ERRCODE = 'CLTRN';
    END IF;
    r := cl_review_set_time(r, cl_review_at(p->>'at', tz), tz,
                            (p->>'duration_minutes')::integer, true, src, actor, 'moved',
                            cl_reason(p->>'reason'));
    RETURN review_json(r);
END $$;

-- `review cancel`: METHOD:CANCEL to everyone invited, one SEQUENCE later.
CREATE OR REPLACE FUNCTION cl_review_cancel(key_in text, reason text, src text, actor text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r reviews := cl_review_of(key_in, true);
    n reviews;
BEGIN
    IF r.status <> 'scheduled' THEN
        RAISE EXCEPTION 'the review of % is already %', upper(key_in), r.status
            USING ERRCODE = 'CLTRN';
    END IF;
    UPDATE reviews SET status = 'cancelled', sequence = sequence + 1, version = version + 1,
                       updated_at = now()
    WHERE id = r.id RETURNING * INTO n;
    PERFORM cl_review_event(r.id, src, actor, 'cancelled', cl_review_when(r), cl_review_when(n),
                            cl_reason(reason));
    PERFORM cl_review_invite(n.id);
    RETURN review_json(n);
END $$;

CREATE OR REPLACE FUNCTION cl_review_get(key_in text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT review_json(r) FROM reviews r JOIN incidents i ON i.id = r.incident_id
    WHERE i.key = upper(key_in) AND r.kind = 'incident'
$$;

-- "2027-01-12 15:00 Europe/Berlin (45 min)" of a cl_review_when() object; NULL for NULL.
CREATE OR REPLACE FUNCTION cl_review_local(w jsonb) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char((w->>'starts_at')::timestamptz AT TIME ZONE (w->>'timezone'),
                   'YYYY-MM-DD HH24:MI') || ' ' || (w->>'timezone')
           || ' (' || (w->>'duration_minutes') || ' min)'
$$;

DROP FUNCTION IF EXISTS cl_review_history(text);
CREATE OR REPLACE FUNCTION cl_review_history(key_in text, after bigint, lim integer)
RETURNS TABLE (j text, c text) LANGUAGE plpgsql AS $$
DECLARE
    r reviews;
BEGIN
    SELECT rv.* INTO r FROM reviews rv JOIN incidents i ON i.id = rv.incident_id
    WHERE i.key = upper(key_in) AND rv.kind = 'incident';
    IF NOT FOUND THEN
        PERFORM cl_review_of(key_in, false);  -- the right 404
    END IF;
    RETURN QUERY
    SELECT json_build_object('id', e.id, 'at', e.at, 'source', e.source, 'actor', e.actor,
                             'what', e.what, 'old', e.old, 'new', e.new,
                             'from', cl_review_local(e.old), 'to', cl_review_local(e.new),
                             'reason', e.reason)::text,
           e.id::text
    FROM review_events e
    WHERE e.review_id = r.id AND (after IS NULL OR e.id > after)
    ORDER BY e.id LIMIT lim;
END $$;

-- The backlog review of each team, kept as the policy says (backlog = weekly | biweekly
-- | off): created at the next backlog_day, backlog_hour in the manager's zone, with an
-- RRULE; re-timed (next SEQUENCE) when the policy's cadence, day or hour changed;
-- cancelled when the policy turned it off. Runs in the scheduler's pass.
CREATE OR REPLACE FUNCTION cl_review_backlog_rule(p jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('FREQ=WEEKLY;INTERVAL=%s;BYDAY=%s',
                  CASE p->>'backlog' WHEN 'biweekly' THEN 2 ELSE 1 END,
                  (ARRAY['MO','TU','WE','TH','FR','SA','SU'])[(p->>'backlog_day')::integer])
$$;

CREATE OR REPLACE FUNCTION cl_review_backlog_pass(policy jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    p jsonb;
    r reviews;
    tz text;
    d date;
    at timestamptz;
    rule text;
    have boolean;
    changed integer := 0;
BEGIN
    FOR t IN SELECT tm.id, tm.manager_id, m.timezone FROM teams tm
             LEFT JOIN people m ON m.id = tm.manager_id ORDER BY tm.id LOOP
        p := cl_review_policy(policy, t.id);
        SELECT * INTO r FROM reviews WHERE team_id = t.id AND kind = 'backlog' FOR UPDATE;
        have := FOUND;
        IF p->>'backlog' = 'off' THEN
            IF have AND r.status = 'scheduled' THEN
                UPDATE reviews SET status = 'cancelled', sequence = sequence + 1,
                                   version = version + 1, updated_at = now()
                WHERE id = r.id;
                PERFORM cl_review_event(r.id, 'scheduler', 'scheduler', 'cancelled', NULL, NULL,
                                        'the review policy turned the backlog review off');
                PERFORM cl_review_invite(r.id);
                changed := changed + 1;
            END IF;
            CONTINUE;
        END IF;
        tz := coalesce(t.timezone, p->>'timezone', 'UTC');
        rule := cl_review_backlog_rule(p);
        IF have AND r.status = 'scheduled' AND r.rrule = rule
           AND extract(hour FROM r.starts_at AT TIME ZONE r.timezone) = (p->>'backlog_hour')::integer
           AND r.timezone = tz AND r.facilitator_id IS NOT DISTINCT FROM t.manager_id THEN
            CONTINUE;
        END IF;
        d := (now() AT TIME ZONE tz)::date + 1;
        d := d + ((p->>'backlog_day')::integer - extract(isodow FROM d)::integer + 7) % 7;
        at := (d + make_time((p->>'backlog_hour')::integer, 0, 0)) AT TIME ZONE tz;
        IF NOT have THEN
            INSERT INTO reviews (kind, team_id, uid, starts_at, timezone, duration_minutes,
                                 rrule, source, facilitator_id)
            VALUES ('backlog', t.id, gen_random_uuid()::text || '@closeloop', at, tz,
                    (p->>'duration_minutes')::integer, rule, 'scheduler', t.manager_id)
            RETURNING * INTO r;
            PERFORM cl_review_event(r.id, 'scheduler', 'scheduler', 'scheduled', NULL,
                                    cl_review_when(r) || jsonb_build_object('rrule', rule), NULL);
            PERFORM cl_review_invite(r.id);
        ELSE
            -- a new manager organizes it, in their zone
            UPDATE reviews SET rrule = rule, facilitator_id = t.manager_id WHERE id = r.id
            RETURNING * INTO r;
            PERFORM cl_review_set_time(r, at, tz, (p->>'duration_minutes')::integer, false,
                                       'scheduler', 'scheduler',
                                       CASE WHEN r.status = 'cancelled' THEN 'revived'
                                            ELSE 'moved' END,
                                       'the review policy of the backlog review changed');
        END IF;
        changed := changed + 1;
    END LOOP;
    RETURN changed;
END $$;

-- The backlog review's agenda for a team: open work of the team's people (or, unowned, of
-- incidents its people facilitate) that is overdue, at risk (due within at_risk days and
-- not started), done and awaiting verification, or unowned. At most 800 rows in all.
CREATE OR REPLACE FUNCTION cl_review_backlog(team_in text, policy jsonb) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    tid bigint := cl_team_id(team_in, 'team');
    p jsonb := cl_review_policy(policy, tid);
    risk integer := (p->>'at_risk_days')::integer;
BEGIN
    RETURN (WITH w AS (
        SELECT a.*, o.handle AS owner, o.active AS owner_active, i.key AS incident
        FROM actions a JOIN incidents i ON i.id = a.incident_id
        LEFT JOIN people o ON o.id = a.owner_id
        LEFT JOIN people f ON f.id = i.facilitator_id
        WHERE a.archived_at IS NULL
          AND (o.team_id = tid OR (a.owner_id IS NULL AND f.team_id = tid))),
      item AS (
        SELECT CASE WHEN cl_action_unowned(w.status, w.owner_active) THEN 'unowned'
                    WHEN cl_action_overdue(w.status, w.due_on) THEN 'overdue'
                    WHEN w.status = 'done' AND w.verified_at IS NULL THEN 'awaiting_verification'
                    WHEN w.status = 'open' AND w.due_on <= current_date + risk THEN 'at_risk'
               END AS list, w.*
        FROM w)
      SELECT json_build_object(
        'team', team_in,
        'review', (SELECT review_json(r)::json FROM reviews r WHERE r.team_id = tid AND r.kind = 'backlog'),
        'at_risk_days', risk,
        'lists', coalesce((SELECT json_object_agg(l.list, l.items) FROM (
            SELECT list, json_agg(json_build_object(
                'id', id, 'incident', incident, 'title', title, 'owner', owner,
                'status', status, 'due_on', due_on) ORDER BY due_on NULLS LAST, id) AS items
            FROM (SELECT * FROM item WHERE list IS NOT NULL
                  ORDER BY due_on NULLS LAST, id LIMIT 800) x
            GROUP BY list) l), '{}'))::text);
END $$;

-- Invitations for the review as it is now, one mail (kind "review") per attendee
-- (cl_review_attendees), queued in the caller's transaction: METHOD:REQUEST while it is
-- scheduled, METHOD:CANCEL once cancelled; nothing once held. The dedup key names the
-- review, its SEQUENCE and the address, so calling it again sends only to attendees who
-- have not had this SEQUENCE yet (an owner added since). The payload is a snapshot (the
-- event, the agenda): a resend renders the same message. ORGANIZER is the configured one
-- ([review] organizer, kept in settings by the scheduler's pass), else the facilitator
-- (for a backlog review the manager), else the mail sender (smtp_from, kept in settings by
-- the mail worker).
CREATE OR REPLACE FUNCTION cl_review_invite(rid bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r reviews;
    method text;
    org text := nullif((SELECT value FROM settings WHERE key = 'review_organizer'), '');
    ev jsonb;
    agenda jsonb;
    subject text;
    when_text text;
    a record;
BEGIN
    SELECT * INTO r FROM reviews WHERE id = rid;
    IF NOT FOUND OR r.status = 'held' THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM cl_review_attendees(rid) x
                   WHERE NOT EXISTS (SELECT 1 FROM mail_queue m WHERE m.dedup_key =
                                     format('review:%s:%s:%s', rid, r.sequence, lower(x.email))))
    THEN
        RETURN;  -- everyone has this SEQUENCE already
    END IF;
    method := CASE WHEN r.status = 'cancelled' THEN 'CANCEL' ELSE 'REQUEST' END;
    ev := cl_review_event_json(rid, CASE WHEN org IS NOT NULL
                                         THEN jsonb_build_object('email', org, 'name', 'closeloop')
                                    END);
    IF jsonb_typeof(ev->'organizer') IS DISTINCT FROM 'object' THEN  -- nobody: the sender
        ev := jsonb_set(ev, '{organizer}', jsonb_build_object(
                  'email', coalesce((SELECT value FROM settings WHERE key = 'mail_from'),
                                    'closeloop@closeloop.invalid'),
                  'name', 'closeloop'));
    END IF;
    IF r.kind = 'incident' THEN
        agenda := cl_review_agenda((SELECT key FROM incidents WHERE id = r.incident_id))::jsonb;
    END IF;
    when_text := to_char(r.starts_at AT TIME ZONE r.timezone, 'Dy DD Mon YYYY HH24:MI')
                 || ' (' || r.timezone || ')';
    subject := CASE WHEN method = 'CANCEL' THEN 'Cancelled: '
                    WHEN r.sequence > 0 THEN 'Moved: '
                    ELSE 'Invitation: ' END
               || (ev->>'summary') || ' — ' || when_text;
    FOR a IN SELECT * FROM cl_review_attendees(rid) LOOP
        PERFORM cl_mail_enqueue('review', a.email, a.name, subject,
                                jsonb_build_object('method', method, 'event', ev,
                                                   'agenda', agenda, 'when', when_text),
                                format('review:%s:%s:%s', rid, r.sequence, lower(a.email)));
    END LOOP;
END $$;
