-- figures: what the stale and slipped reports, the figures per team, owner and incident,
-- the dashboard and the /metrics gauges read. The action row keeps when its history last
-- grew and how its due date moved (migration 0010); the triggers below keep them, so no
-- report walks the history.

-- On every insert or change of an action: its first due date, how often and how far the
-- due date moved later, and when it last changed (unless the change sets that itself). A
-- due date set for the first time or moved earlier is not a slip.
CREATE OR REPLACE FUNCTION cl_action_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.first_due_on := coalesce(NEW.first_due_on, NEW.due_on);
        RETURN NEW;
    END IF;
    IF OLD.first_due_on IS NULL THEN
        NEW.first_due_on := NEW.due_on;
    END IF;
    IF NEW.due_on > OLD.due_on THEN
        NEW.slips := OLD.slips + 1;
        NEW.slip_days := OLD.slip_days + (NEW.due_on - OLD.due_on);
    END IF;
    IF NEW.last_event_at IS NOT DISTINCT FROM OLD.last_event_at THEN  -- not set on purpose
        NEW.last_event_at := greatest(OLD.last_event_at, now());
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS actions_track ON actions;
CREATE TRIGGER actions_track BEFORE INSERT OR UPDATE ON actions
    FOR EACH ROW EXECUTE FUNCTION cl_action_track();

-- An event that came without a change to the action row (a note, a sync warning) still
-- counts as activity. In the usual case the row changed in the same transaction, its
-- last_event_at is already now(), and this updates nothing. closeloop's own nudges (a
-- reminder queued, a reminder comment posted) are not activity: a reminded action nobody
-- touched stays stale. Once per statement, so that a pass writing thousands of events
-- updates each action once.
CREATE OR REPLACE FUNCTION cl_event_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE actions a SET last_event_at = e.at
    FROM (SELECT n.action_id, max(n.at) AS at FROM new_events n
          WHERE n.field NOT IN ('reminder', 'comment')
          GROUP BY n.action_id) e
    WHERE a.id = e.action_id AND a.last_event_at < e.at;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS events_track ON events;
CREATE TRIGGER events_track AFTER INSERT ON events REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION cl_event_track();

-- The figures of a set of actions `a` with their owners `p` (LEFT JOIN people p), as one
-- JSON object: the text of an aggregate expression, shared by every query below. $1 is
-- the window (days) of closed work that time to close and the on-time rates cover.
--   open ... dropped       how many, by state (open = open, in progress or blocked)
--   overdue, unowned, undated, due_this_week   open work needing attention
--   median_age_days        of open work, since it was recorded
--   median_days_late       of overdue work
--   closed                 done in the window; median_days_to_close of those
--   on_time_first/last     the share of those done by their first / their last due date
CREATE OR REPLACE FUNCTION cl_figure_cols() RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'jsonb_build_object('
        '''open'', count(*) FILTER (WHERE a.closed_at IS NULL),'
        '''in_progress'', count(*) FILTER (WHERE a.status = ''in_progress''),'
        '''blocked'', count(*) FILTER (WHERE a.status = ''blocked''),'
        '''overdue'', count(*) FILTER (WHERE a.closed_at IS NULL AND a.due_on < current_date),'
        '''unowned'', count(*) FILTER (WHERE a.closed_at IS NULL AND NOT coalesce(p.active, false)),'
        '''undated'', count(*) FILTER (WHERE a.closed_at IS NULL AND a.due_on IS NULL),'
        '''due_this_week'', count(*) FILTER (WHERE a.closed_at IS NULL'
        '     AND a.due_on BETWEEN current_date AND current_date + 6),'
        '''done'', count(*) FILTER (WHERE a.status = ''done''),'
        '''dropped'', count(*) FILTER (WHERE a.status = ''wont_do''),'
        '''median_age_days'', percentile_disc(0.5) WITHIN GROUP'
        '     (ORDER BY current_date - a.created_at::date) FILTER (WHERE a.closed_at IS NULL),'
        '''median_days_late'', percentile_disc(0.5) WITHIN GROUP (ORDER BY current_date - a.due_on)'
        '     FILTER (WHERE a.closed_at IS NULL AND a.due_on < current_date),'
        '''closed'', count(*) FILTER (WHERE a.status = ''done'''
        '     AND a.closed_at >= now() - make_interval(days => $1)),'
        '''median_days_to_close'', percentile_disc(0.5) WITHIN GROUP'
        '     (ORDER BY a.closed_at::date - a.created_at::date) FILTER (WHERE a.status = ''done'''
        '     AND a.closed_at >= now() - make_interval(days => $1)),'
        '''on_time_first'', round(avg((a.closed_at::date <= a.first_due_on)::int)'
        '     FILTER (WHERE a.status = ''done'' AND a.first_due_on IS NOT NULL'
        '     AND a.closed_at >= now() - make_interval(days => $1)), 3),'
        '''on_time_last'', round(avg((a.closed_at::date <= a.due_on)::int)'
        '     FILTER (WHERE a.status = ''done'' AND a.due_on IS NOT NULL'
        '     AND a.closed_at >= now() - make_interval(days => $1)), 3))'
$$;

-- The actions a figures query covers: its filters (owner $2, team $3, incident $4) as a
-- WHERE clause over `a` and its owner `p`. Planned with its values (EXECUTE), so a filter
-- walks its index (a team: its people, then their actions).
CREATE OR REPLACE FUNCTION cl_figure_scope() RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT ' ($2::text IS NULL OR a.owner_id = (SELECT id FROM people WHERE handle = $2))'
           ' AND ($3::text IS NULL OR p.team_id = (SELECT id FROM teams WHERE name = $3))'
           ' AND ($4::text IS NULL OR a.incident_id = (SELECT id FROM incidents'
           '      WHERE key = upper($4)))'
$$;

-- Opened, closed (done) and closed by the due date, per week (ISO) or month, for the last
-- 12 periods, oldest first, over the actions of the scope; with by_team, one such trend
-- per team, as {"team name": trend} ("" for work of no team).
CREATE OR REPLACE FUNCTION cl_figure_trend(period text, owner text, team text, incident text,
                                           by_team boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    unit interval := CASE period WHEN 'month' THEN interval '1 month' ELSE interval '1 week' END;
    first timestamptz := date_trunc(period, now()) - 11 * unit;
    res jsonb;
BEGIN
    EXECUTE format(
        'WITH s AS (SELECT CASE WHEN $8 THEN coalesce(t.name, '''') ELSE '''' END AS k,'
        '           a.created_at, a.closed_at, a.status, a.due_on FROM actions_live a'
        '           LEFT JOIN people p ON p.id = a.owner_id LEFT JOIN teams t ON t.id = p.team_id'
        '           WHERE %s AND (a.created_at >= $5 OR a.closed_at >= $5)),'
        ' o AS (SELECT k, date_trunc($6, created_at) AS at, count(*) AS n FROM s'
        '       WHERE created_at >= $5 GROUP BY 1, 2),'
        ' c AS (SELECT k, date_trunc($6, closed_at) AS at, count(*) AS n,'
        '       count(*) FILTER (WHERE closed_at::date <= due_on) AS t FROM s'
        '       WHERE status = ''done'' AND closed_at >= $5 GROUP BY 1, 2),'
        ' keys AS (SELECT DISTINCT k FROM s WHERE $8 UNION ALL SELECT '''' WHERE NOT $8),'
        ' r AS (SELECT keys.k, jsonb_agg(jsonb_build_object(''period'', to_char(g, CASE $6'
        '   WHEN ''month'' THEN ''YYYY-MM'' ELSE ''IYYY-"W"IW'' END), ''start'', g::date,'
        '   ''opened'', coalesce(o.n, 0), ''closed'', coalesce(c.n, 0),'
        '   ''on_time'', coalesce(c.t, 0)) ORDER BY g) AS tr'
        '   FROM keys CROSS JOIN generate_series($5, date_trunc($6, now()), $7) g'
        '   LEFT JOIN o ON o.k = keys.k AND o.at = g LEFT JOIN c ON c.k = keys.k AND c.at = g'
        '   GROUP BY keys.k)'
        ' SELECT CASE WHEN $8 THEN coalesce(jsonb_object_agg(k, tr), ''{}'')'
        '        ELSE (array_agg(tr))[1] END FROM r', cl_figure_scope())
    INTO res USING NULL::integer, owner, team, incident, first, period, unit, by_team;
    RETURN res;
END $$;

-- Replaces the snapshot when it is older than `max_age` seconds and no other instance is
-- computing it. Returns how long it took (ms), or -1 when it was left as it was.
CREATE OR REPLACE FUNCTION cl_figures_refresh(max_age double precision, days integer)
RETURNS integer LANGUAGE plpgsql SET work_mem = '64MB' AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    tot jsonb;
    per_team jsonb;
    took integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('closeloop.figures')) OR EXISTS (
            SELECT 1 FROM figure_snapshot
            WHERE computed_at > now() - make_interval(secs => max_age * 0.9)) THEN
        RETURN -1;
    END IF;
    EXECUTE format(
        'SELECT (array_agg(x.f) FILTER (WHERE x.g = 1))[1],'
        '  coalesce(jsonb_agg(jsonb_build_object(''team'', x.name) || x.f ORDER BY x.name)'
        '    FILTER (WHERE x.g = 0), ''[]'')'
        ' FROM (SELECT t.name, %s AS f, grouping(t.name) AS g FROM actions_live a'
        '       LEFT JOIN people p ON p.id = a.owner_id LEFT JOIN teams t ON t.id = p.team_id'
        '       GROUP BY GROUPING SETS ((t.name), ())) x', cl_figure_cols())
    INTO tot, per_team USING days;
    INSERT INTO figure_snapshot (id, computed_at, took_ms, days, total, teams, team_trends,
                                 trend_week, trend_month)
    VALUES (1, now(), 0, days, tot, per_team,
            jsonb_build_object('week', cl_figure_trend('week', NULL, NULL, NULL, true),
                               'month', cl_figure_trend('month', NULL, NULL, NULL, true)),
            cl_figure_trend('week', NULL, NULL, NULL), cl_figure_trend('month', NULL, NULL, NULL))
    ON CONFLICT (id) DO UPDATE SET computed_at = EXCLUDED.computed_at, days = EXCLUDED.days,
        total = EXCLUDED.total, teams = EXCLUDED.teams, team_trends = EXCLUDED.team_trends,
        trend_week = EXCLUDED.trend_week, trend_month = EXCLUDED.trend_month;
    took := (extract(epoch FROM clock_timestamp() - t0) * 1000)::integer;
    UPDATE figure_snapshot SET took_ms = took WHERE id = 1;
    RETURN took;
END $$;

-- The figures for GET /api/v1/figures: by 'total', 'team', 'owner' or 'incident', within
-- the filters, one page of groups after the cursor `after` (a team name, a handle, an
-- incident id), with the trend of the whole scope by `period`. What the snapshot holds
-- (every team, and the whole, with their trends) comes from it when it covers the same
-- window (`days`), and its computed_at is the answer's as_of; everything else is computed
-- now: from the filter's index, or one group at a time (owners by handle, incidents
-- newest first) when there is no filter. `days` NULL: the snapshot's window.
CREATE OR REPLACE FUNCTION cl_figures(by text, owner text, team text, incident text,
                                      days integer, period text, after text, lim integer)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    snap figure_snapshot;
    items jsonb;
    trend jsonb;
    as_of timestamptz := now();
    next text;
    keycol text := CASE by WHEN 'team' THEN 't.name' WHEN 'owner' THEN 'p.handle'
                           WHEN 'incident' THEN 'i.id' END;
BEGIN
    IF by IS NULL OR by NOT IN ('total', 'team', 'owner', 'incident') THEN
        RAISE EXCEPTION 'by must be total, team, owner or incident' USING ERRCODE = 'CL422',
            COLUMN = 'by';
    ELSIF period IS NULL OR period NOT IN ('week', 'month') THEN
        RAISE EXCEPTION 'period must be week or month' USING ERRCODE = 'CL422',
            COLUMN = 'period';
    END IF;
    PERFORM cl_list_filters_check(owner, team, incident);
    days := coalesce(days, (SELECT s.days FROM figure_snapshot s WHERE s.id = 1), 90);
    IF owner IS NULL AND incident IS NULL THEN
        SELECT * INTO snap FROM figure_snapshot s WHERE s.id = 1 AND s.days = cl_figures.days;
    END IF;
    IF snap.id IS NOT NULL AND (team IS NULL OR snap.teams @> jsonb_build_array(
                                    jsonb_build_object('team', team))) THEN
        as_of := snap.computed_at;
        trend := CASE WHEN team IS NULL THEN
                     CASE period WHEN 'month' THEN snap.trend_month ELSE snap.trend_week END
                 ELSE snap.team_trends->period->team END;
        IF by IN ('total', 'team') THEN
            SELECT coalesce(jsonb_agg(e || jsonb_build_object('_cursor', e->'team')
                                      ORDER BY e->>'team'), '[]') INTO items
            FROM (SELECT e FROM jsonb_array_elements(snap.teams) e
                  WHERE (after IS NULL OR e->>'team' > after)
                    AND (team IS NULL OR e->>'team' = team)
                  ORDER BY e->>'team' LIMIT lim) x;
            IF by = 'total' THEN
                items := jsonb_build_array(CASE WHEN team IS NULL THEN snap.total
                                                ELSE (items->0) - 'team' - '_cursor' END);
            END IF;
        END IF;  -- owners or incidents: computed below, with the snapshot's trend
    END IF;
    IF items IS NOT NULL THEN
        NULL;
    ELSIF by = 'total' THEN
        EXECUTE format('SELECT jsonb_build_array(%s) FROM actions_live a'
                       ' LEFT JOIN people p ON p.id = a.owner_id WHERE %s',
                       cl_figure_cols(), cl_figure_scope())
        INTO items USING days, owner, team, incident;
    ELSIF by = 'incident' AND (owner IS NOT NULL OR team IS NOT NULL) THEN
        -- the scope's incidents first (from the owner index alone: not a walk through all
        -- incidents), then the figures of the page's
        EXECUTE format(
            'SELECT coalesce(jsonb_agg(jsonb_build_object(''incident'', i.key,'
            '  ''_cursor'', i.id::text) || f.f ORDER BY i.id DESC), ''[]'')'
            ' FROM (WITH s AS MATERIALIZED (SELECT a.incident_id FROM actions_live a'
            '       LEFT JOIN people p ON p.id = a.owner_id WHERE %s'
            '       AND ($5::text IS NULL OR a.incident_id < $5::bigint))'
            '       SELECT DISTINCT incident_id FROM s ORDER BY 1 DESC LIMIT $6) pick'
            ' JOIN incidents i ON i.id = pick.incident_id'
            ' CROSS JOIN LATERAL (SELECT %s AS f FROM actions_live a'
            '  LEFT JOIN people p ON p.id = a.owner_id WHERE a.incident_id = i.id AND %s) f',
            cl_figure_scope(), cl_figure_cols(), cl_figure_scope())
        INTO items USING days, owner, team, incident, after, lim;
    ELSIF owner IS NOT NULL OR team IS NOT NULL OR incident IS NOT NULL OR by = 'team' THEN
        EXECUTE format(
            'SELECT coalesce(jsonb_agg(jsonb_build_object(%L, x.k, ''_cursor'', x.c) || x.f'
            '  ORDER BY x.o), ''[]'')'
            ' FROM (SELECT %s AS k, %s AS f, %s AS o, min(%s)::text AS c FROM actions_live a'
            '       LEFT JOIN people p ON p.id = a.owner_id LEFT JOIN teams t ON t.id = p.team_id'
            '       %s WHERE %s'
            '       AND ($5::text IS NULL OR %s) GROUP BY 1, 3 ORDER BY 3 LIMIT $6) x',
            by, CASE by WHEN 'incident' THEN 'i.key' ELSE keycol END, cl_figure_cols(),
            CASE by WHEN 'incident' THEN '-i.id' ELSE keycol END, keycol,
            CASE by WHEN 'incident' THEN 'JOIN incidents i ON i.id = a.incident_id' END,
            cl_figure_scope(),
            CASE by WHEN 'incident' THEN 'i.id < $5::bigint' ELSE keycol || ' > $5' END)
        INTO items USING days, owner, team, incident, after, lim;
    ELSIF by = 'owner' THEN
        EXECUTE format(
            'SELECT coalesce(jsonb_agg(jsonb_build_object(''owner'', x.handle,'
            '  ''_cursor'', x.handle) || x.f ORDER BY x.handle), ''[]'')'
            ' FROM (SELECT p.handle, f.f FROM people p'
            '  CROSS JOIN LATERAL (SELECT %s AS f FROM actions_live a WHERE a.owner_id = p.id) f'
            '  WHERE ($5::text IS NULL OR p.handle > $5) AND EXISTS (SELECT 1 FROM actions_live a'
            '  WHERE a.owner_id = p.id) ORDER BY p.handle LIMIT $6) x', cl_figure_cols())
        INTO items USING days, owner, team, incident, after, lim;
    ELSE
        EXECUTE format(
            'SELECT coalesce(jsonb_agg(jsonb_build_object(''incident'', x.key,'
            '  ''_cursor'', x.id::text) || x.f ORDER BY x.id DESC), ''[]'')'
            ' FROM (SELECT i.id, i.key, f.f FROM incidents i'
            '  CROSS JOIN LATERAL (SELECT %s AS f FROM actions_live a'
            '  LEFT JOIN people p ON p.id = a.owner_id WHERE a.incident_id = i.id) f'
            '  WHERE i.archived_at IS NULL AND ($5::text IS NULL OR i.id < $5::bigint)'
            '  ORDER BY i.id DESC LIMIT $6) x',
            cl_figure_cols())
        INTO items USING days, owner, team, incident, after, lim;
    END IF;
    IF trend IS NULL THEN
        trend := cl_figure_trend(period, owner, team, incident);
    END IF;
    IF by <> 'total' AND jsonb_array_length(items) = lim THEN
        next := items->(lim - 1)->>'_cursor';
    END IF;
    RETURN jsonb_build_object('as_of', as_of, 'by', by, 'days', days, 'period', period,
        'items', (SELECT coalesce(jsonb_agg(e - '_cursor' ORDER BY n), '[]')
                  FROM jsonb_array_elements(items) WITH ORDINALITY AS x (e, n)),
        'next_cursor', next, 'trend', trend)::text;
END $$;
