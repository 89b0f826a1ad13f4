-- Owner reminders: the ladder (the owner `before` days before the due date and every
-- `overdue_every` days once overdue; the facilitator every `overdue_every` days from
-- `escalate_after` days overdue; unowned actions remind the facilitator in the owner's
-- place), a weekly budget per person, quiet hours and working days in the person's zone,
-- snoozes. The policy is closeloopd's [remind] section as remind_policy_json() writes it:
-- {"default": RULES, "teams": {"TEAM": RULES}}, RULES = {"before_days", "overdue_every_days",
-- "escalate_after_days", "budget", "quiet_from", "quiet_to", "working_days": [1..7],
-- "where": "email"|"tracker"}. A person's rules are those of their team. With "tracker",
-- an item whose action has a live link is a comment on its issue (cl_reminder_pass).

CREATE OR REPLACE FUNCTION cl_reminder_rules(policy jsonb, team_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(policy->'teams'->(SELECT name FROM teams WHERE id = team_id),
                    policy->'default')
$$;

-- A zone PostgreSQL knows, else UTC (people.timezone is free text up to 64 characters).
CREATE OR REPLACE FUNCTION cl_reminder_zone(tz text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz) THEN tz
                ELSE 'UTC' END
$$;

-- Whether a local time is quiet (an hour in [quiet_from, quiet_to), across midnight when
-- from > to; never when they are equal) or on a day that is not a working day.
CREATE OR REPLACE FUNCTION cl_reminder_resting(loc timestamp, r jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT NOT (r->'working_days' @> to_jsonb(extract(isodow FROM loc)::int))
        OR CASE WHEN (r->>'quiet_from')::int = (r->>'quiet_to')::int THEN false
                WHEN (r->>'quiet_from')::int > (r->>'quiet_to')::int
                THEN extract(hour FROM loc) >= (r->>'quiet_from')::int
                     OR extract(hour FROM loc) < (r->>'quiet_to')::int
                ELSE extract(hour FROM loc) >= (r->>'quiet_from')::int
                     AND extract(hour FROM loc) < (r->>'quiet_to')::int END
$$;

-- The people a pass may look at, with their zone (a known one, else UTC), rules, local
-- time, ISO week and whether it is quiet or not a working day there. pg_timezone_names is
-- read once per statement, not once per person.
CREATE OR REPLACE FUNCTION cl_reminder_people(policy jsonb, at timestamptz, ids bigint[])
RETURNS TABLE (id bigint, handle text, name text, email text, tz text, r jsonb,
               today date, week text, resting boolean)
LANGUAGE sql STABLE AS $$
    WITH zones AS MATERIALIZED (SELECT DISTINCT z.name FROM pg_timezone_names z),
    p AS MATERIALIZED (
        SELECT p.*, coalesce(z.name, 'UTC') AS z,
               coalesce(policy->'teams'->t.name, policy->'default') AS rules
        FROM people p
        LEFT JOIN zones z ON z.name = p.timezone
        LEFT JOIN teams t ON t.id = p.team_id
        WHERE p.id = ANY (ids)
    )
    SELECT p.id, p.handle, p.name, p.email, p.z, p.rules, (at AT TIME ZONE p.z)::date,
           to_char(at AT TIME ZONE p.z, 'IYYY-"W"IW'),
           cl_reminder_resting(at AT TIME ZONE p.z, p.rules)
    FROM p
$$;

-- The reminders due at `at`: one row per (person, action, step) — step 'before' or
-- 'overdue' for the owner (or the facilitator of an unowned action), 'escalate' for the
-- facilitator — before quiet hours, working days and the budget.
CREATE OR REPLACE FUNCTION cl_reminder_due(policy jsonb, at timestamptz)
RETURNS TABLE (person_id bigint, action_id bigint, step text, due_on date, days integer)
LANGUAGE sql STABLE AS $$
    WITH horizon AS (
        SELECT (at AT TIME ZONE 'UTC')::date + 2 + coalesce(max((r.value->>'before_days')::int), 0)
               AS last_due
        FROM jsonb_each(coalesce(policy->'teams', '{}') || jsonb_build_object('', policy->'default')) r
    ), cand AS MATERIALIZED (
        SELECT a.id, a.due_on, o.id AS owner_id, f.id AS fac_id,
               coalesce(o.id, f.id) AS rid, s.snoozed_until, s.owner_at, s.owner_step, s.owner_due,
               s.escalated_at, s.escalated_due
        FROM horizon h
        JOIN actions a ON coalesce(a.due_on, 'infinity'::date) <= h.last_due
        JOIN incidents i ON i.id = a.incident_id
        LEFT JOIN people o ON o.id = a.owner_id AND o.active
        LEFT JOIN people f ON f.id = i.facilitator_id AND f.active
        LEFT JOIN reminder_state s ON s.action_id = a.id
        WHERE a.status IN ('open', 'in_progress', 'blocked') AND a.archived_at IS NULL
          AND i.archived_at IS NULL AND (o.id IS NOT NULL OR f.id IS NOT NULL)
    ), who AS MATERIALIZED (
        SELECT w.* FROM cl_reminder_people(policy, at,
            ARRAY(SELECT c.rid FROM cand c UNION SELECT c.fac_id FROM cand c
                  WHERE c.fac_id IS NOT NULL)) w
    )
    SELECT c.rid, c.id,
           CASE WHEN w.today > c.due_on THEN 'overdue' ELSE 'before' END,
           c.due_on, w.today - c.due_on
    FROM cand c JOIN who w ON w.id = c.rid
    WHERE w.today >= c.due_on - (w.r->>'before_days')::int
      AND (c.snoozed_until IS NULL OR c.snoozed_until <= w.today)
      AND CASE WHEN w.today <= c.due_on
               THEN c.owner_due IS DISTINCT FROM c.due_on
               ELSE NOT coalesce(c.owner_step = 'overdue' AND c.owner_due = c.due_on
                                 AND c.owner_at > at - make_interval(
                                     days => (w.r->>'overdue_every_days')::int), false)
          END
    UNION ALL
    SELECT w.id, c.id, 'escalate', c.due_on, w.today - c.due_on
    FROM cand c JOIN who w ON w.id = c.fac_id
    WHERE c.owner_id IS NOT NULL AND c.owner_id <> c.fac_id
      AND w.today >= c.due_on + (w.r->>'escalate_after_days')::int
      AND w.today > c.due_on
      AND (c.snoozed_until IS NULL OR c.snoozed_until <= w.today)
      AND NOT coalesce(c.escalated_due = c.due_on
                       AND c.escalated_at > at - make_interval(
                           days => (w.r->>'overdue_every_days')::int), false)
$$;

-- What a reminder comment says about one item, in Markdown (the provider adds the
-- mention and its marker). Only dates, numbers, names and the incident's key: the
-- action's own text is on the issue already.
CREATE OR REPLACE FUNCTION cl_reminder_comment_body(step text, due_on date, days integer,
                                                    owner_name text, incident text, aid bigint)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE step
        WHEN 'before' THEN format('**Reminder:** this action is due on %s, %s.', due_on,
                                  CASE WHEN days = 0 THEN 'today'
                                       WHEN days = -1 THEN 'tomorrow'
                                       ELSE format('in %s days', -days) END)
        WHEN 'overdue' THEN format('**Reminder:** this action was due on %s and is %s overdue. '
                                   'Please finish it, or move its due date and say why.',
                                   due_on, CASE WHEN days = 1 THEN '1 day'
                                                ELSE days || ' days' END)
        ELSE format('**Escalation:** this action is %s days overdue (due %s); its owner, %s, '
                    'has been reminded. As the facilitator of %s, please follow it up.',
                    days, due_on, replace(replace(owner_name, '*', ''), '_', ' '), incident)
        END
        || E'\n\n' || format('_Sent by closeloop for incident %s. To pause these reminders: '
                             '`closeloop action snooze %s --until DATE --reason TEXT`._',
                             incident, aid)
$$;

-- The pass: one instance at a time (advisory lock); at most `lim` people get a message.
-- Each person out of quiet hours, on a working day and under the week's budget gets one
-- reminder (one row in reminders, counted by the budget) for all their due items: where
-- their team's rules say "tracker", each item whose action has a live link becomes a
-- comment on its issue (an outbox row, op 'comment', posted by the sync worker with a
-- marker so that it is never posted twice, and mailed instead if the tracker refuses it);
-- the other items are batched in one mail (kind 'reminder'). One event per item, and the
-- ladder moves on — all in this transaction, set by set. Returns {"people", "items",
-- "held", "comments"} (held: people with due items who must wait).
CREATE OR REPLACE FUNCTION cl_reminder_pass(policy jsonb, lim integer,
                                            at timestamptz DEFAULT now())
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    nsent integer;
    nitems integer;
    nheld integer;
    ncomments integer;
    inst text := left(regexp_replace(coalesce((SELECT value FROM settings
                                                WHERE key = 'instance_id'), 'x'),
                                      '[^A-Za-z0-9]', '', 'g'), 8);
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('closeloop_reminder_pass')) THEN
        RETURN jsonb_build_object('people', 0, 'items', 0, 'held', 0, 'comments', 0,
                                  'busy', true);
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS reminder_due_tmp (person_id bigint, action_id bigint,
        step text, due_on date, days integer) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS reminder_who_tmp (id bigint PRIMARY KEY, handle text,
        name text, email text, tz text, r jsonb, today date, week text, resting boolean,
        go boolean, rid bigint, mid bigint) ON COMMIT DROP;
    -- the items of the people who hear now, each with how: 'tracker' (its link's tracker)
    -- or 'email', and what the mail or comment says of it
    CREATE TEMP TABLE IF NOT EXISTS reminder_item_tmp (person_id bigint, rid bigint,
        action_id bigint, step text, due_on date, via text, tracker text, item jsonb,
        title text) ON COMMIT DROP;
    TRUNCATE reminder_due_tmp, reminder_who_tmp, reminder_item_tmp;
    -- what is due and who may hear it, from one snapshot: read apart, an action added
    -- and its owner's team changed in between would split the owner's message in two
    WITH due AS MATERIALIZED (SELECT * FROM cl_reminder_due(policy, at)),
    kept AS (INSERT INTO reminder_due_tmp SELECT * FROM due)
    INSERT INTO reminder_who_tmp (id, handle, name, email, tz, r, today, week, resting)
    SELECT * FROM cl_reminder_people(policy, at, ARRAY(SELECT DISTINCT person_id FROM due));
    CREATE INDEX IF NOT EXISTS reminder_due_tmp_person ON reminder_due_tmp (person_id);
    ANALYZE reminder_due_tmp;
    -- who may hear now: not resting, under budget; the first `lim` of them by id
    UPDATE reminder_who_tmp w SET go = true
    FROM (SELECT x.id FROM reminder_who_tmp x
          WHERE NOT x.resting
            AND (SELECT count(*) FROM reminders m WHERE m.person_id = x.id AND m.week = x.week)
                < (x.r->>'budget')::int
          ORDER BY x.id LIMIT lim) ok
    WHERE ok.id = w.id;
    SELECT count(*) FILTER (WHERE go IS NOT true) INTO nheld FROM reminder_who_tmp;
    UPDATE reminder_who_tmp w SET rid = nextval(pg_get_serial_sequence('reminders', 'id'))
    WHERE go;
    INSERT INTO reminder_item_tmp
    SELECT w.id, w.rid, d.action_id, d.step, d.due_on,
           CASE WHEN w.r->>'where' = 'tracker' AND l.state = 'linked'
                     AND l.remote_id IS NOT NULL THEN 'tracker' ELSE 'email' END,
           l.tracker,
           jsonb_build_object('id', a.id, 'incident', i.key, 'title', a.title,
                              'owner', o.handle, 'status', a.status, 'due_on', a.due_on,
                              'step', d.step, 'days', d.days, 'url', l.url,
                              'comment', cl_reminder_comment_body(d.step, d.due_on, d.days,
                                                                  coalesce(o.name, '-'), i.key,
                                                                  a.id)),
           a.title
    FROM reminder_due_tmp d JOIN reminder_who_tmp w ON w.id = d.person_id AND w.go
    JOIN actions a ON a.id = d.action_id
    JOIN incidents i ON i.id = a.incident_id
    LEFT JOIN people o ON o.id = a.owner_id
    LEFT JOIN links l ON l.action_id = a.id;
    -- the mail: every item that is not a comment, in one message
    UPDATE reminder_who_tmp w
    SET mid = cl_mail_enqueue('reminder', w.email, w.name,
            CASE WHEN m.n = 1 THEN 'Reminder: ' || left(m.title, 200)
                 ELSE 'Reminder: ' || m.n || ' actions need you' END,
            jsonb_build_object(
                'recipient', jsonb_build_object('handle', w.handle, 'name', w.name,
                                                'timezone', w.tz),
                'reminder', w.rid, 'items', m.items),
            'reminder:' || w.rid)
    FROM (SELECT t.person_id, count(*) AS n, max(t.title) AS title,
                 jsonb_agg(t.item - 'comment' ORDER BY t.due_on, t.action_id) AS items
          FROM reminder_item_tmp t WHERE t.via = 'email'
          GROUP BY t.person_id) m
    WHERE m.person_id = w.id AND w.go;
    -- one reminder per person, with its mail (when some items went by mail)
    INSERT INTO reminders (id, person_id, week, at, channel, items, mail_id)
    OVERRIDING SYSTEM VALUE
    SELECT w.rid, w.id, w.week, at,
           CASE WHEN bool_and(t.via = 'tracker') THEN 'tracker'
                WHEN bool_or(t.via = 'tracker') THEN 'both' ELSE 'email' END,
           jsonb_agg(jsonb_build_object('action', t.action_id, 'step', t.step, 'via', t.via)
                     ORDER BY t.due_on, t.action_id), w.mid
    FROM reminder_who_tmp w JOIN reminder_item_tmp t ON t.person_id = w.id
    GROUP BY w.rid, w.id, w.week, w.mid;
    GET DIAGNOSTICS nsent = ROW_COUNT;
    -- the comments: one per item on its issue, mailed instead if the tracker refuses it
    INSERT INTO outbox (action_id, tracker, op, payload)
    SELECT t.action_id, t.tracker, 'comment', jsonb_build_object(
               'kind', 'reminder', 'reminder', t.rid, 'to', w.handle,
               'body', t.item->>'comment',
               'marker', format('clr-%s-%s-%s', inst, t.rid, t.action_id),
               'mention', jsonb_strip_nulls(jsonb_build_object(
                   'github', p.github_login, 'jira_account_id', p.jira_account_id,
                   'jira_name', p.jira_name)),
               'fallback', jsonb_build_object(
                   'kind', 'reminder', 'to_addr', w.email, 'to_name', w.name,
                   'subject', 'Reminder: ' || left(t.title, 200),
                   'payload', jsonb_build_object(
                       'recipient', jsonb_build_object('handle', w.handle, 'name', w.name,
                                                       'timezone', w.tz),
                       'reminder', t.rid, 'items', jsonb_build_array(t.item - 'comment')),
                   'dedup_key', format('reminder:%s:%s', t.rid, t.action_id)))
    FROM reminder_item_tmp t JOIN reminder_who_tmp w ON w.id = t.person_id
    JOIN people p ON p.id = w.id
    WHERE t.via = 'tracker'
    ORDER BY t.action_id;
    GET DIAGNOSTICS ncomments = ROW_COUNT;
    IF ncomments > 0 THEN
        PERFORM pg_notify('closeloop_outbox', x.tracker)
        FROM (SELECT DISTINCT tracker FROM reminder_item_tmp WHERE via = 'tracker') x;
    END IF;
    INSERT INTO events (action_id, source, actor, field, old, new)
    SELECT t.action_id, 'scheduler', 'closeloop', 'reminder', NULL,
           format('%s: %s by %s (reminder %s)', t.step, w.handle,
                  CASE WHEN t.via = 'tracker' THEN 'a comment on the issue' ELSE 'email' END,
                  w.rid)
    FROM reminder_item_tmp t JOIN reminder_who_tmp w ON w.id = t.person_id
    ORDER BY t.action_id, t.step;
    GET DIAGNOSTICS nitems = ROW_COUNT;
    INSERT INTO reminder_state AS s (action_id, owner_at, owner_step, owner_due)
    SELECT d.action_id, at, d.step, d.due_on
    FROM reminder_due_tmp d JOIN reminder_who_tmp w ON w.id = d.person_id AND w.go
    WHERE d.step <> 'escalate'
    ON CONFLICT (action_id) DO UPDATE
    SET owner_at = excluded.owner_at, owner_step = excluded.owner_step,
        owner_due = excluded.owner_due;
    INSERT INTO reminder_state AS s (action_id, escalated_at, escalated_due)
    SELECT d.action_id, at, d.due_on
    FROM reminder_due_tmp d JOIN reminder_who_tmp w ON w.id = d.person_id AND w.go
    WHERE d.step = 'escalate'
    ON CONFLICT (action_id) DO UPDATE
    SET escalated_at = excluded.escalated_at, escalated_due = excluded.escalated_due;
    RETURN jsonb_build_object('people', nsent, 'items', nitems, 'held', nheld,
                              'comments', ncomments);
END $$;

-- `closeloop action snooze`: no reminder about the action before `until` (a date in the
-- future); an event (field 'snooze', the date in 'new', the reason in a 'reason' event).
-- Returns the action's reminder JSON.
CREATE OR REPLACE FUNCTION cl_action_snooze(aid bigint, until date, reason text, src text,
                                            actor text, policy jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t text := btrim(reason, E' \t\r\n');
    old date;
BEGIN
    PERFORM 1 FROM actions WHERE id = aid FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'action % not found', aid USING ERRCODE = 'CL404';
    END IF;
    IF until IS NULL OR until <= current_date OR until > current_date + 366 THEN
        RAISE EXCEPTION 'until must be a date after today and within a year'
            USING ERRCODE = 'CL422', COLUMN = 'until';
    END IF;
    IF t IS NULL OR t = '' OR length(t) > 4000 THEN
        RAISE EXCEPTION 'reason must hold 1 to 4000 characters' USING ERRCODE = 'CL422',
            COLUMN = 'reason';
    END IF;
    SELECT snoozed_until INTO old FROM reminder_state WHERE action_id = aid;
    INSERT INTO reminder_state (action_id, snoozed_until, snooze_reason)
    VALUES (aid, until, t)
    ON CONFLICT (action_id) DO UPDATE SET snoozed_until = until, snooze_reason = t;
    INSERT INTO events (action_id, source, actor, field, old, new)
    VALUES (aid, src, actor, 'snooze', old::text, until::text),
           (aid, src, actor, 'reason', NULL, t);
    RETURN cl_reminder_next(aid, policy, now())::text;
END $$;

-- When the next reminder about an action is due: {"next_reminder": RFC 3339 or null,
-- "to": handle or null, "step", "snoozed_until", "snooze_reason", "last_reminder"}. The
-- earliest moment the ladder allows, moved out of quiet hours and non-working days in the
-- recipient's zone; the budget may hold it longer, and the pass runs every
-- remind_interval seconds.
CREATE OR REPLACE FUNCTION cl_reminder_next(aid bigint, policy jsonb, at timestamptz)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    a record;
    r jsonb;
    tz text;
    today date;
    t timestamptz;
    step text;
    loc timestamp;
    n integer := 0;
BEGIN
    SELECT x.id, x.status, x.due_on, x.archived_at, coalesce(o.id, f.id) AS rid,
           coalesce(o.handle, f.handle) AS handle, coalesce(o.team_id, f.team_id) AS team_id,
           coalesce(o.timezone, f.timezone) AS timezone, s.snoozed_until, s.snooze_reason,
           s.owner_at, s.owner_step, s.owner_due,
           greatest(s.owner_at, s.escalated_at) AS last_reminder
    INTO a
    FROM actions x JOIN incidents i ON i.id = x.incident_id
    LEFT JOIN people o ON o.id = x.owner_id AND o.active
    LEFT JOIN people f ON f.id = i.facilitator_id AND f.active
    LEFT JOIN reminder_state s ON s.action_id = x.id
    WHERE x.id = aid;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF a.status NOT IN ('open', 'in_progress', 'blocked') OR a.due_on IS NULL
       OR a.archived_at IS NOT NULL OR a.rid IS NULL OR policy IS NULL THEN
        RETURN jsonb_build_object('next_reminder', NULL, 'to', a.handle, 'step', NULL,
                                  'snoozed_until', a.snoozed_until,
                                  'snooze_reason', a.snooze_reason,
                                  'last_reminder', a.last_reminder);
    END IF;
    r := cl_reminder_rules(policy, a.team_id);
    tz := cl_reminder_zone(a.timezone);
    today := (at AT TIME ZONE tz)::date;
    IF today > a.due_on OR a.owner_due IS NOT DISTINCT FROM a.due_on THEN
        step := 'overdue';
        t := ((a.due_on + 1)::timestamp AT TIME ZONE tz);
        IF a.owner_step = 'overdue' AND a.owner_due = a.due_on THEN
            t := a.owner_at + make_interval(days => (r->>'overdue_every_days')::int);
        END IF;
    ELSE
        step := 'before';
        t := ((a.due_on - (r->>'before_days')::int)::timestamp AT TIME ZONE tz);
    END IF;
    IF a.snoozed_until IS NOT NULL THEN
        t := greatest(t, a.snoozed_until::timestamp AT TIME ZONE tz);
    END IF;
    t := greatest(t, at);
    LOOP
        loc := t AT TIME ZONE tz;
        EXIT WHEN NOT cl_reminder_resting(loc, r) OR n > 24 * 8;
        t := (date_trunc('hour', loc) + interval '1 hour') AT TIME ZONE tz;
        n := n + 1;
    END LOOP;
    RETURN jsonb_build_object('next_reminder', t, 'to', a.handle, 'step', step,
                              'snoozed_until', a.snoozed_until, 'snooze_reason', a.snooze_reason,
                              'last_reminder', a.last_reminder);
END $$;
