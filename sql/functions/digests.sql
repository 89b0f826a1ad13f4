-- Managers' digests (sql/0017_digests.sql): who gets one, for which period, what it says,
-- and the pass closeloopd runs that queues each due (recipient, period) exactly once. The
-- policy is closeloopd's [digest] configuration as JSON (digest_policy_json()):
-- {"cadence", "day" (ISO 1..7), "hour", "extras": [{"name", "to", "scope" ("all" |
-- "team:NAME"), "cadence", "timezone", "chat"}], "team_chat": {"TEAM": "CHANNEL"}}.
--
-- A period starts at the recipient's send moment (weekly: [digest] day and hour, Monday
-- 09:00 by default; daily: the hour; monthly: the 1st at the hour) in their zone, and its
-- digest covers the period before it: the digest keyed 2026-W49 is sent on Monday of
-- week 49 and tells what happened in week 48.

-- The period that started most recently at `at` in zone tz: its key, its start (the send
-- moment) and the start of the one before (the start of what the digest covers).
CREATE OR REPLACE FUNCTION cl_digest_period(cadence text, day integer, hour integer, tz text,
                                            at timestamptz, OUT key text, OUT starts timestamptz,
                                            OUT covers_from timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    loc timestamp := at AT TIME ZONE tz;
    c timestamp;
    step interval := CASE cadence WHEN 'daily' THEN interval '1 day'
                                  WHEN 'weekly' THEN interval '7 days'
                                  WHEN 'monthly' THEN interval '1 month' END;
BEGIN
    IF step IS NULL THEN
        RAISE EXCEPTION 'cadence must be daily, weekly or monthly, not "%"', cadence
            USING ERRCODE = 'CL422', COLUMN = 'cadence';
    END IF;
    c := CASE cadence
         WHEN 'daily' THEN date_trunc('day', loc)
         WHEN 'weekly' THEN date_trunc('week', loc) + make_interval(days => coalesce(day, 1) - 1)
         ELSE date_trunc('month', loc) END + make_interval(hours => coalesce(hour, 9));
    IF c > loc THEN
        c := c - step;
    END IF;
    key := to_char(c, CASE cadence WHEN 'daily' THEN 'YYYY-MM-DD'
                                   WHEN 'weekly' THEN 'IYYY-"W"IW' ELSE 'YYYY-MM' END);
    starts := c AT TIME ZONE tz;
    covers_from := (c - step) AT TIME ZONE tz;
END $$;

-- The start of the period named `key` ("2026-W49", "2026-12-07", "2026-12"), as a
-- moment just after it, for cl_digest_period(). CL422 for a key of another cadence.
CREATE OR REPLACE FUNCTION cl_digest_period_at(cadence text, day integer, hour integer,
                                               tz text, key text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
    d timestamp;
BEGIN
    IF cadence = 'weekly' AND key ~ '^[0-9]{4}-W[0-9]{2}$' THEN
        d := to_date(key, 'IYYY-"W"IW') + make_interval(days => coalesce(day, 1) - 1);
    ELSIF cadence = 'daily' AND key ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
        d := key::date;
    ELSIF cadence = 'monthly' AND key ~ '^[0-9]{4}-[0-9]{2}$' THEN
        d := (key || '-01')::date;
    ELSE
        RAISE EXCEPTION 'period "%" is not a % period (2026-W49, 2026-12-07 or 2026-12)',
            key, cadence USING ERRCODE = 'CL422', COLUMN = 'period';
    END IF;
    RETURN (d + make_interval(hours => coalesce(hour, 9), secs => 1)) AT TIME ZONE tz;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
    RAISE EXCEPTION 'period "%" is not a date', key USING ERRCODE = 'CL422', COLUMN = 'period';
END $$;

-- Everyone who gets a digest: each team's active manager (scope: the team), each active
-- facilitator of an incident with open work (scope: their incidents), and the policy's
-- extra recipients. Their cadence: their own, else the policy's; "off" gets none.
CREATE OR REPLACE FUNCTION cl_digest_recipients(policy jsonb)
RETURNS TABLE (recipient text, handle text, email text, name text, timezone text,
               cadence text, scope jsonb, chat text)
LANGUAGE sql STABLE AS $$
    SELECT * FROM (
        SELECT 'team:' || t.name || ':' || p.handle AS recipient, p.handle, p.email, p.name,
               p.timezone, coalesce(p.digest_cadence, policy->>'cadence', 'weekly') AS cadence,
               jsonb_build_object('kind', 'team', 'team', t.name) AS scope,
               policy->'team_chat'->>t.name AS chat
        FROM teams t JOIN people p ON p.id = t.manager_id AND p.active
        UNION ALL
        SELECT 'facilitator:' || p.handle, p.handle, p.email, p.name, p.timezone,
               coalesce(p.digest_cadence, policy->>'cadence', 'weekly'),
               jsonb_build_object('kind', 'facilitator', 'handle', p.handle), NULL
        FROM people p   -- from the incidents that have a facilitator (incidents_facilitator_idx)
        WHERE p.active AND p.id IN (
            SELECT i.facilitator_id FROM incidents i
            WHERE i.facilitator_id IS NOT NULL
              AND EXISTS (SELECT 1 FROM actions a WHERE a.incident_id = i.id
                          AND action_is_open(a.status) AND a.archived_at IS NULL))
        UNION ALL
        SELECT 'extra:' || (x->>'name'), NULL, x->>'to', x->>'name',
               coalesce(x->>'timezone', 'UTC'),
               coalesce(x->>'cadence', policy->>'cadence', 'weekly'),
               CASE WHEN x->>'scope' LIKE 'team:%'
                    THEN jsonb_build_object('kind', 'team', 'team', substr(x->>'scope', 6))
                    ELSE jsonb_build_object('kind', 'all') END,
               x->>'chat'
        FROM jsonb_array_elements(coalesce(policy->'extras', '[]'::jsonb)) x
    ) r WHERE r.cadence <> 'off'
$$;

-- One action as a digest lists it.
CREATE OR REPLACE FUNCTION cl_digest_action(v action_v) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', v.id, 'incident', v.incident_key, 'title', v.title,
                              'owner', v.owner_handle, 'status', v.status, 'due_on', v.due_on,
                              'url', v.link_url)
$$;

-- The incidents a scope covers: a facilitator's; NULL for a team or everything.
CREATE OR REPLACE FUNCTION cl_digest_incidents(scope jsonb) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN scope->>'kind' = 'facilitator' THEN
        ARRAY(SELECT i.id FROM incidents i JOIN people p ON p.id = i.facilitator_id
              WHERE p.handle = scope->>'handle') END
$$;

-- The people whose actions a team scope covers (everyone of the team, active or not); NULL
-- for any other scope. Their actions are found through actions_owner_idx.
CREATE OR REPLACE FUNCTION cl_digest_owners(scope jsonb) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN scope->>'kind' = 'team' THEN
        ARRAY(SELECT p.id FROM people p JOIN teams t ON t.id = p.team_id
              WHERE t.name = scope->>'team') END
$$;
DROP FUNCTION IF EXISTS cl_digest_scope_ids(jsonb);
DROP FUNCTION IF EXISTS cl_digest_in_scope(jsonb, bigint, bigint[], bigint, bigint);

-- A facilitator's report (cl_report_def, through cl_report_page) within the scope: the
-- same definitions as `closeloop report`, never re-written here.
CREATE OR REPLACE FUNCTION cl_digest_report(scope jsonb, report text, lim integer)
RETURNS TABLE (action_id bigint, detail jsonb) LANGUAGE sql STABLE AS $$
    SELECT r.action_id, r.detail
    FROM cl_report_page(report, NULL, NULL, scope->>'team', NULL, NULL, NULL, lim) r
    WHERE scope->>'kind' IN ('team', 'all')
    UNION ALL
    SELECT r.action_id, r.detail
    FROM incidents i
    CROSS JOIN LATERAL cl_report_page(report, NULL, NULL, NULL, i.key, NULL, NULL, lim) r
    WHERE scope->>'kind' = 'facilitator' AND i.id = ANY (cl_digest_incidents(scope))
$$;

-- The digest JSON (docs/api.md, "Digests") of one recipient ({"handle", "email", "name",
-- "timezone"}), scope and period ({"key", "cadence", "day", "hour"}).
-- Its statements are planned for their values (custom plans): `(own IS NULL OR v.owner_id =
-- ANY (own)) AND (incs IS NULL OR v.incident_id = ANY (incs))` then folds to an index scan
-- of the team's people's actions (actions_owner_idx), of the facilitator's incidents'
-- (actions_incident_idx), or to no filter at all. No JIT: its statements are many and
-- short, and compiling them cost more than running them.
CREATE OR REPLACE FUNCTION cl_digest_content(recipient jsonb, scope jsonb, period jsonb)
RETURNS jsonb LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan SET jit = off AS $$
DECLARE
    tz text := coalesce(recipient->>'timezone', 'UTC');
    cad text := period->>'cadence';
    dy integer := (period->>'day')::integer;
    hr integer := (period->>'hour')::integer;
    p record := cl_digest_period(cad, dy, hr, tz,
                                 cl_digest_period_at(cad, dy, hr, tz, period->>'key'));
    t0 timestamptz := p.covers_from;
    t1 timestamptz := p.starts;
    d0 date := (p.covers_from AT TIME ZONE tz)::date;
    d1 date := (p.starts AT TIME ZONE tz)::date;
    team bigint := (SELECT id FROM teams WHERE name = scope->>'team');
    incs bigint[] := cl_digest_incidents(scope);
    own bigint[] := cl_digest_owners(scope);
    bounds timestamptz[];  -- the trend's periods, oldest first: [i], [i+1] bound the i-th
    dbounds date[];        -- the same in the recipient's zone, as dates
    keys text[];
    late_ids bigint[];
    done_ids bigint[];
    verified_ids bigint[];
    lim constant integer := 50;          -- actions per list
    lim_items constant integer := 10;    -- actions per owner
    lim_owners constant integer := 100;  -- owners listed
    n_open bigint;
    n_overdue bigint;
    owes jsonb; slipped jsonb; done jsonb; verified jsonb; unowned jsonb; undated jsonb;
    drift jsonb; held jsonb; upcoming jsonb; trend jsonb; q record;
    step interval := CASE cad WHEN 'daily' THEN interval '1 day' WHEN 'weekly'
                              THEN interval '7 days' ELSE interval '1 month' END;
BEGIN
    IF scope->>'kind' = 'team' AND team IS NULL THEN
        RAISE EXCEPTION 'unknown team "%"', scope->>'team' USING ERRCODE = 'CL422',
            COLUMN = 'scope';
    END IF;
    -- what is open, by owner (overdue as the reports define it): each owner's first
    -- `lim_items` actions by due date, the first `lim_owners` owners by handle; the counts
    -- are of everything
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'owner', s.handle, 'open', s.open, 'overdue', s.overdue,
               'items', (SELECT jsonb_agg(cl_digest_action(v)
                                          ORDER BY coalesce(v.due_on, 'infinity'), v.id)
                         FROM action_v v WHERE v.id = ANY (s.top)))
               ORDER BY s.handle) FILTER (WHERE s.n <= lim_owners), '[]'::jsonb),
           coalesce(sum(s.open), 0), coalesce(sum(s.overdue), 0)
    INTO owes, n_open, n_overdue
    FROM (SELECT o.handle, g.open, g.overdue, g.top, row_number() OVER (ORDER BY o.handle) AS n
          FROM (SELECT a.owner_id, count(*) AS open,   -- actions_open_owner_idx
                       count(*) FILTER (WHERE cl_action_overdue(a.status, a.due_on)) AS overdue,
                       (array_agg(a.id ORDER BY coalesce(a.due_on, 'infinity'), a.id))[1:lim_items]
                           AS top
                FROM actions a
                WHERE action_is_open(a.status) AND a.archived_at IS NULL
                  AND (own IS NULL OR a.owner_id = ANY (own))
                  AND (incs IS NULL OR a.incident_id = ANY (incs))
                GROUP BY a.owner_id) g
          JOIN people o ON o.id = g.owner_id AND o.active) s;
    -- three short lists, each found through an index on the team's people (a facilitator's
    -- through actions_incident_idx): became overdue in the period (actions_open_owner_idx),
    -- done in it (actions_done_owner_idx), verified in it (actions_verified_idx); each then
    -- read from action_v by id
    late_ids := ARRAY(SELECT a.id FROM actions a
                      WHERE action_is_open(a.status) AND a.archived_at IS NULL
                        AND a.due_on >= d0 AND a.due_on < d1
                        AND cl_action_overdue(a.status, a.due_on)
                        AND (own IS NULL OR a.owner_id = ANY (own))
                        AND (incs IS NULL OR a.incident_id = ANY (incs)));
    done_ids := ARRAY(SELECT a.id FROM actions a
                      WHERE a.status = 'done' AND a.closed_at >= t0 AND a.closed_at < t1
                        AND (own IS NULL OR a.owner_id = ANY (own))
                        AND (incs IS NULL OR a.incident_id = ANY (incs)));
    verified_ids := ARRAY(SELECT a.id FROM actions a
                          WHERE a.verified_at >= t0 AND a.verified_at < t1
                            AND (own IS NULL OR a.owner_id = ANY (own))
                            AND (incs IS NULL OR a.incident_id = ANY (incs)));
    -- slipped since the last digest: became overdue in the period, or due date moved later
    SELECT coalesce(jsonb_agg(x ORDER BY x->>'due_on', (x->>'id')::bigint), '[]'::jsonb) INTO slipped FROM (
        SELECT cl_digest_action(v) || jsonb_build_object('why', 'new_overdue') AS x
        FROM action_v v WHERE v.id = ANY (late_ids)
        UNION ALL
        SELECT cl_digest_action(v) || jsonb_build_object('why', 'due_moved', 'from', m.f, 'to', m.t)
        FROM (SELECT e.action_id, (array_agg(e.old ORDER BY e.id))[1] AS f,
                     (array_agg(e.new ORDER BY e.id DESC))[1] AS t
              FROM events e JOIN actions sa ON sa.id = e.action_id
              WHERE e.field = 'due_on' AND e.at >= t0 AND e.at < t1
                AND (own IS NULL OR sa.owner_id = ANY (own))
                AND (incs IS NULL OR sa.incident_id = ANY (incs))
              GROUP BY e.action_id) m
        JOIN action_v v ON v.id = m.action_id
        WHERE m.f IS NOT NULL AND (m.t IS NULL OR m.t::date > m.f::date)
          AND action_is_open(v.status) AND v.archived_at IS NULL
          AND (own IS NULL OR v.owner_id = ANY (own)) AND (incs IS NULL OR v.incident_id = ANY (incs))) s;
    SELECT coalesce(jsonb_agg(cl_digest_action(v) ORDER BY v.closed_at, v.id), '[]'::jsonb)
    INTO done FROM action_v v WHERE v.id = ANY (done_ids);
    SELECT coalesce(jsonb_agg(cl_digest_action(v) ORDER BY v.verified_at, v.id), '[]'::jsonb)
    INTO verified FROM action_v v WHERE v.id = ANY (verified_ids);
    SELECT coalesce(jsonb_agg(cl_digest_action(v) ORDER BY coalesce(v.due_on, 'infinity'), v.id), '[]'::jsonb)
    INTO unowned FROM cl_digest_report(scope, 'unowned', lim) r JOIN action_v v ON v.id = r.action_id;
    SELECT coalesce(jsonb_agg(cl_digest_action(v) ORDER BY v.id), '[]'::jsonb)
    INTO undated FROM cl_digest_report(scope, 'undated', lim) r JOIN action_v v ON v.id = r.action_id;
    SELECT coalesce(jsonb_agg(cl_digest_action(v) || jsonb_build_object('drift', r.detail)
                              ORDER BY coalesce(v.due_on, 'infinity'), v.id), '[]'::jsonb)
    INTO drift FROM cl_digest_report(scope, 'drift', lim) r JOIN action_v v ON v.id = r.action_id;
    -- reviews held in the period, and those in the next one
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'incident', i.key,
               'local', to_char(rv.starts_at AT TIME ZONE rv.timezone, 'YYYY-MM-DD HH24:MI'),
               'timezone', rv.timezone, 'status', rv.status)
               ORDER BY rv.starts_at, rv.id) FILTER (WHERE rv.held_at >= t0 AND rv.held_at < t1
                                                     AND rv.status = 'held'),
           '[]'::jsonb),
           coalesce(jsonb_agg(jsonb_build_object(
               'incident', i.key,
               'local', to_char(rv.starts_at AT TIME ZONE rv.timezone, 'YYYY-MM-DD HH24:MI'),
               'timezone', rv.timezone, 'status', rv.status)
               ORDER BY rv.starts_at, rv.id) FILTER (WHERE rv.status = 'scheduled'
                   AND rv.starts_at >= t1 AND rv.starts_at < t1 + step), '[]'::jsonb)
    INTO held, upcoming
    FROM reviews rv LEFT JOIN incidents i ON i.id = rv.incident_id
    WHERE CASE scope->>'kind' WHEN 'team' THEN rv.team_id = team
                              WHEN 'facilitator' THEN rv.incident_id = ANY (incs)
                              ELSE true END;
    -- the trend: this period and the five before, oldest first, in one scan of the scope's
    -- actions. bounds[1..7] are the periods' starts (bounds[i] and bounds[i+1] bound the
    -- i-th); width_bucket() gives the period an action was opened in (ob) and closed in
    -- (cb, 8 when open); it was overdue at the end of period i (at bounds[i+1]) when opened
    -- before, not closed by then, and due before that day (db < i+1): i+1 in (max(ob, db), cb].
    SELECT array_agg(k.key ORDER BY g.n DESC),
           min(k.covers_from) || array_agg(k.starts ORDER BY g.n DESC)
    INTO keys, bounds
    FROM generate_series(0, 5) g (n)
    CROSS JOIN LATERAL cl_digest_period(cad, dy, hr, tz,
        ((t1 AT TIME ZONE tz) - step * g.n) AT TIME ZONE tz + interval '1 second') k;
    dbounds := ARRAY(SELECT (x AT TIME ZONE tz)::date FROM unnest(bounds) x);
    SELECT jsonb_agg(jsonb_build_object('period', keys[w.i], 'opened', w.opened,
                                        'closed', w.closed, 'overdue', w.overdue) ORDER BY w.i)
    INTO trend
    FROM (SELECT i, coalesce(sum(c.n) FILTER (WHERE c.ob = i), 0) AS opened,
                 coalesce(sum(c.n) FILTER (WHERE c.cb = i), 0) AS closed,
                 coalesce(sum(c.n) FILTER (WHERE greatest(c.ob, c.db) < i + 1
                                           AND c.cb >= i + 1), 0) AS overdue
          FROM generate_series(1, 6) i
          LEFT JOIN (SELECT width_bucket(a.created_at, bounds) AS ob,
                            coalesce(width_bucket(a.closed_at, bounds), 8) AS cb,
                            coalesce(width_bucket(a.due_on, dbounds), 8) AS db, count(*) AS n
                     FROM actions a  -- action_v's rows: each has its incident, a link at most
                     WHERE (own IS NULL OR a.owner_id = ANY (own))
                       AND (incs IS NULL OR a.incident_id = ANY (incs))
                     GROUP BY 1, 2, 3) c ON true
          GROUP BY i) w;
    RETURN jsonb_build_object(
        'recipient', jsonb_build_object('handle', recipient->'handle', 'email', recipient->'email',
                                        'name', recipient->'name', 'timezone', tz),
        'scope', scope,
        'period', jsonb_build_object('key', period->>'key', 'cadence', cad,
                                     'from', to_char(t0 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                     'to', to_char(t1 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                     'timezone', tz),
        'owes', owes, 'slipped', slipped, 'done', done, 'verified', verified,
        'unowned', unowned, 'undated', undated,
        'reviews', jsonb_build_object('held', held, 'upcoming', upcoming),
        'drift', drift, 'trend', trend,
        'counts', jsonb_build_object(
            'open', n_open, 'overdue', n_overdue,
            'slipped', jsonb_array_length(slipped), 'done', jsonb_array_length(done),
            'verified', jsonb_array_length(verified), 'unowned', jsonb_array_length(unowned),
            'undated', jsonb_array_length(undated), 'drift', jsonb_array_length(drift),
            'reviews_held', jsonb_array_length(held),
            'reviews_upcoming', jsonb_array_length(upcoming)));
END $$;

-- The digest of one recipient (a row of cl_digest_recipients() as JSON) for the period
-- that started last at `at`, or the one named `period_key`.
CREATE OR REPLACE FUNCTION cl_digest_build_for(policy jsonb, r jsonb, period_key text,
                                               at timestamptz)
RETURNS TABLE (recipient text, email text, name text, period text, scope jsonb, chat text,
               content jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p record;
    dy integer := coalesce((policy->>'day')::integer, 1);
    hr integer := coalesce((policy->>'hour')::integer, 9);
    cad text := r->>'cadence';
    tz text := r->>'timezone';
BEGIN
    p := cl_digest_period(cad, dy, hr, tz,
                          CASE WHEN period_key IS NULL THEN at ELSE
                          cl_digest_period_at(cad, dy, hr, tz, period_key) END);
    RETURN QUERY SELECT r->>'recipient', r->>'email', r->>'name', p.key, r->'scope', r->>'chat',
        cl_digest_content(jsonb_build_object('handle', r->'handle', 'email', r->'email',
                                             'name', r->'name', 'timezone', tz),
                          r->'scope', jsonb_build_object('key', p.key, 'cadence', cad,
                                                         'day', dy, 'hour', hr));
END $$;

-- One recipient (by key "team:T:h", "facilitator:h", "extra:N", or a handle: their first
-- recipient) with the period at `at` (or named `period_key`), and its content.
CREATE OR REPLACE FUNCTION cl_digest_build(policy jsonb, who text, period_key text,
                                           at timestamptz)
RETURNS TABLE (recipient text, email text, name text, period text, scope jsonb, chat text,
               content jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r jsonb;
BEGIN
    SELECT to_jsonb(x) INTO r FROM cl_digest_recipients(policy) x
    WHERE x.recipient = who OR x.handle = who ORDER BY x.recipient = who DESC, x.recipient LIMIT 1;
    IF r IS NULL THEN
        RAISE EXCEPTION '"%" gets no digest (not a manager, a facilitator with open work, '
                        'an extra recipient, or digest_cadence off)', who
            USING ERRCODE = 'CL404';
    END IF;
    RETURN QUERY SELECT * FROM cl_digest_build_for(policy, r, period_key, at);
END $$;

-- Queues the mail (and chat message) of the run run_id, whose row the caller holds locked,
-- and marks it sent, in the caller's transaction: the row and its mail commit together.
CREATE OR REPLACE FUNCTION cl_digest_deliver(run_id bigint, b record, trig text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    new_mail bigint;
    new_chat bigint;
    dedup text := 'digest:' || b.recipient || ':' || b.period;
BEGIN
    new_mail := cl_mail_enqueue('digest', b.email, b.name,
        'Digest ' || b.period || ': ' || CASE b.scope->>'kind' WHEN 'team' THEN 'team ' || (b.scope->>'team')
             WHEN 'facilitator' THEN 'your incidents' ELSE 'all teams' END
        || ' (' || (b.content->'counts'->>'open') || ' open, '
        || (b.content->'counts'->>'overdue') || ' overdue)',
        b.content, dedup);
    IF b.chat IS NOT NULL THEN   -- a [chat.NAME] channel (sql/functions/chat.sql)
        new_chat := cl_chat_enqueue(b.chat, 'digest', b.content, dedup || ':chat');
    END IF;
    UPDATE digest_runs SET state = 'sent', sent_at = now(),
                           sent_by = left(current_setting('application_name'), 64),
                           trigger = trig, to_addr = b.email, scope = b.scope,
                           counts = b.content->'counts', mail_id = new_mail, chat_id = new_chat,
                           error = NULL
    WHERE id = run_id;
END $$;
DROP FUNCTION IF EXISTS cl_digest_queue(record, text);
DROP FUNCTION IF EXISTS cl_digest_pass(jsonb, integer);

-- The planning statement of a pass (its own short transaction, so that planners never
-- wait on a render): every recipient is remembered when first seen; one whose latest
-- period started after that and has no row yet gets a 'pending' row (the recipient as
-- planned in `plan`), inserted in recipient order so that concurrent planners cannot
-- deadlock. Only the latest period: one missed while down is planned once.
-- {"recipients", "planned"}.
CREATE OR REPLACE FUNCTION cl_digest_plan(policy jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    n_rcpt bigint;
    n_planned bigint;
    dy integer := coalesce((policy->>'day')::integer, 1);
    hr integer := coalesce((policy->>'hour')::integer, 9);
BEGIN
    -- the CTEs share one snapshot (a recipient first seen here is not due yet anyway), and
    -- each runs to completion whether read or not
    WITH r AS MATERIALIZED (SELECT * FROM cl_digest_recipients(policy)),
    seen AS (INSERT INTO digest_recipients (recipient)
             SELECT x.recipient FROM r x ORDER BY x.recipient
             ON CONFLICT DO NOTHING),
    planned AS (INSERT INTO digest_runs (recipient, period, to_addr, scope, trigger, plan)
                SELECT x.recipient, k.key, x.email, x.scope, 'schedule', to_jsonb(x)
                FROM r x
                JOIN digest_recipients s ON s.recipient = x.recipient
                CROSS JOIN LATERAL cl_digest_period(x.cadence, dy, hr, x.timezone, now()) k
                WHERE k.starts > s.first_seen
                  AND NOT EXISTS (SELECT 1 FROM digest_runs d WHERE d.recipient = x.recipient
                                  AND d.period = k.key)
                ORDER BY x.recipient
                ON CONFLICT (recipient, period) DO NOTHING RETURNING 1)
    SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM planned) INTO n_rcpt, n_planned;
    RETURN jsonb_build_object('recipients', n_rcpt, 'planned', n_planned);
END $$;

-- The claiming statement of a pass: up to lim pending rows, oldest first, FOR UPDATE SKIP
-- LOCKED (rows another worker holds are left to it), each rendered from its plan with its
-- mail queued and the row marked sent in this transaction; a worker that dies before the
-- commit leaves its rows pending for the next claim. A row whose period is no longer its
-- recipient's latest is 'superseded' (sent once, not once per missed period); one whose
-- content cannot be computed (its team gone, a zone no longer known) is 'failed' with the
-- error, and the others go on. {"due": pending before, "claimed", "sent", "superseded",
-- "failed"}.
CREATE OR REPLACE FUNCTION cl_digest_claim(policy jsonb, lim integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    d record;
    b record;
    n_due bigint;
    n_claimed integer := 0;
    n_sent integer := 0;
    n_old integer := 0;
    n_failed integer := 0;
    dy integer := coalesce((policy->>'day')::integer, 1);
    hr integer := coalesce((policy->>'hour')::integer, 9);
BEGIN
    SELECT count(*) INTO n_due FROM digest_runs x WHERE x.state = 'pending';
    FOR d IN SELECT x.id, x.period, x.plan FROM digest_runs x WHERE x.state = 'pending'
             ORDER BY x.id LIMIT lim FOR UPDATE SKIP LOCKED
    LOOP
        n_claimed := n_claimed + 1;
        BEGIN
            IF (cl_digest_period(d.plan->>'cadence', dy, hr, d.plan->>'timezone', now())).key
               IS DISTINCT FROM d.period THEN
                UPDATE digest_runs SET state = 'superseded' WHERE id = d.id;
                n_old := n_old + 1;
            ELSE
                SELECT * INTO b FROM cl_digest_build_for(policy, d.plan, d.period, now());
                PERFORM cl_digest_deliver(d.id, b, 'schedule');
                n_sent := n_sent + 1;
            END IF;
        EXCEPTION WHEN SQLSTATE 'CL422' OR SQLSTATE 'CL404' OR data_exception
                       OR not_null_violation OR check_violation THEN
            UPDATE digest_runs SET state = 'failed', error = left(SQLERRM, 1000) WHERE id = d.id;
            n_failed := n_failed + 1;
        END;
    END LOOP;
    RETURN jsonb_build_object('due', n_due, 'claimed', n_claimed, 'sent', n_sent,
                              'superseded', n_old, 'failed', n_failed);
END $$;

-- `closeloop digest preview`: the digest one recipient would get (nothing recorded).
CREATE OR REPLACE FUNCTION cl_digest_preview(policy jsonb, who text, period_key text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT b.content || jsonb_build_object('recipient_key', b.recipient)
    FROM cl_digest_build(policy, who, period_key, now()) b
$$;

-- `closeloop digest send-now`: queues the current period's digest now, whatever the
-- schedule (a pending row of the pass is taken over, waiting for a worker that holds it); a
-- second call (or the pass later) finds it sent and queues nothing. {"run", "queued": bool, ...}
CREATE OR REPLACE FUNCTION cl_digest_send_now(policy jsonb, who text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    b record;
    d record;
BEGIN
    SELECT * INTO b FROM cl_digest_build(policy, who, NULL, now());
    INSERT INTO digest_runs (recipient, period, to_addr, scope, trigger)
    VALUES (b.recipient, b.period, b.email, b.scope, 'send-now')
    ON CONFLICT (recipient, period) DO NOTHING;
    SELECT x.id, x.state INTO d FROM digest_runs x
    WHERE x.recipient = b.recipient AND x.period = b.period FOR UPDATE;
    IF d.state IN ('pending', 'failed') THEN
        PERFORM cl_digest_deliver(d.id, b, 'send-now');
    END IF;
    RETURN jsonb_build_object('recipient', b.recipient, 'period', b.period, 'to', b.email,
        'queued', d.state IN ('pending', 'failed'),
        'run', (SELECT to_jsonb(x) - 'scope' - 'plan' FROM digest_runs x WHERE x.id = d.id));
END $$;

-- `closeloop digest list`: the runs, newest first, lim at a time before id `before`.
CREATE OR REPLACE FUNCTION cl_digest_list(before bigint, lim integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('items', coalesce(jsonb_agg(x ORDER BY (x->>'id')::bigint DESC), '[]'::jsonb),
                              'next_cursor', CASE WHEN count(*) = lim THEN min((x->>'id')::bigint)::text END)
    FROM (SELECT jsonb_build_object('id', d.id, 'recipient', d.recipient, 'period', d.period,
                                    'to', d.to_addr, 'scope', d.scope, 'trigger', d.trigger,
                                    'state', d.state, 'counts', d.counts,
                                    'created_at', d.created_at, 'sent_by', d.sent_by,
                                    'error', d.error,
                                    'mail_id', d.mail_id, 'mail_status', m.status,
                                    'sent_at', m.sent_at, 'chat_id', d.chat_id) AS x
          FROM digest_runs d LEFT JOIN mail_queue m ON m.id = d.mail_id
          WHERE before IS NULL OR d.id < before ORDER BY d.id DESC LIMIT lim) s
$$;
