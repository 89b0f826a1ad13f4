-- outcomes: what a review meeting looks at and what it decides. The agenda (every live
-- action of the incident, how late it is, its tracker, and what the meeting must decide
-- for it), holding the review (one outcome per action, recorded with every change it
-- makes in one transaction), verification (done is not closed), follow-ups, the summary
-- and the list of reviews. Errors: CL404 (no incident, no action), CL422 (the request),
-- CLCON (409: the review is not in a state that allows it), CLTRN (409: the action's
-- status does not allow it).

-- What the meeting must decide for an action, as a code and in words.
CREATE OR REPLACE FUNCTION cl_review_expect(v action_v, OUT code text, OUT said text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF v.status = 'done' AND v.verified_at IS NOT NULL THEN
        code := 'verified';
        said := format('verified on %s, nothing to decide', v.verified_at::date);
    ELSIF v.status = 'done' THEN
        code := 'confirm';
        said := 'confirm it worked: effective or not, with evidence';
    ELSIF v.status = 'wont_do' THEN
        code := 'dropped';
        said := 'dropped, nothing to decide';
    ELSIF cl_action_unowned(v.status, v.owner_active) THEN
        code := 'find_owner';
        said := 'find an owner, and agree a due date';
    ELSIF cl_action_overdue(v.status, v.due_on) THEN
        code := 'new_date';
        said := format('%s days late: agree a new date or drop it', current_date - v.due_on);
    ELSIF v.due_on IS NULL THEN
        code := 'set_date';
        said := 'agree a due date or drop it';
    ELSE
        code := 'on_track';
        said := format('due %s: confirm the date holds, or agree a new one', v.due_on);
    END IF;
END $$;

-- Whether the meeting must record an outcome for this action when it is held: every live
-- action that is neither verified nor dropped.
CREATE OR REPLACE FUNCTION cl_review_needs_outcome(status text, verified_at timestamptz,
                                                   archived_at timestamptz) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT archived_at IS NULL AND status <> 'wont_do'
           AND NOT (status = 'done' AND verified_at IS NOT NULL)
$$;

-- One action as the agenda shows it.
CREATE OR REPLACE FUNCTION cl_review_agenda_item(v action_v) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'title', v.title, 'kind', v.kind, 'priority', v.priority,
        'owner', v.owner_handle, 'owner_active', v.owner_active, 'status', v.status,
        'due_on', v.due_on, 'first_due_on', v.first_due_on, 'slips', v.slips,
        'slip_days', v.slip_days,
        'days_late', CASE WHEN cl_action_overdue(v.status, v.due_on)
                          THEN current_date - v.due_on END,
        'closed_at', v.closed_at, 'verified', v.verified_at IS NOT NULL,
        'verified_at', v.verified_at, 'verified_by', v.verified_by,
        'evidence', v.verify_evidence, 'follow_up_of', v.follow_up_of,
        'sync', CASE WHEN v.link_id IS NOT NULL THEN jsonb_build_object(
            'tracker', v.link_tracker, 'display', cl_sync_display(v.link_scope, v.link_key),
            'url', v.link_url, 'state', v.link_state, 'last_error', v.link_error,
            'pending', link_pending(v.id), 'failed', link_failed(v.id)) END,
        'expect', e.code, 'expect_text', e.said,
        'needs_outcome', cl_review_needs_outcome(v.status, v.verified_at, v.archived_at))
    FROM cl_review_expect(v) e
$$;

-- The review row as these functions show it (the lead's review_json() is the full one).
CREATE OR REPLACE FUNCTION cl_review_brief(r reviews) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', r.id, 'kind', r.kind,
        'incident', (SELECT key FROM incidents WHERE id = r.incident_id),
        'team', (SELECT name FROM teams WHERE id = r.team_id),
        'status', r.status, 'starts_at', r.starts_at,
        'local', to_char(r.starts_at AT TIME ZONE r.timezone, 'YYYY-MM-DD HH24:MI'),
        'timezone', r.timezone, 'duration_minutes', r.duration_minutes,
        'facilitator', (SELECT handle FROM people WHERE id = r.facilitator_id),
        'summary_to', to_jsonb(r.summary_to), 'attended', to_jsonb(r.attended),
        'notes', r.notes, 'held_at', r.held_at, 'held_by', r.held_by, 'version', r.version,
        'outcomes', (SELECT jsonb_build_object(
                         'effective', count(*) FILTER (WHERE outcome = 'effective'),
                         'not_effective', count(*) FILTER (WHERE outcome = 'not_effective'),
                         'not_done', count(*) FILTER (WHERE outcome = 'not_done'),
                         'dropped', count(*) FILTER (WHERE outcome = 'dropped'))
                     FROM review_items WHERE review_id = r.id))
$$;

CREATE OR REPLACE FUNCTION cl_review_incident_json(i incidents) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'key', i.key, 'title', i.title, 'severity', i.severity, 'started_at', i.started_at,
        'resolved_at', i.resolved_at, 'postmortem_url', i.postmortem_url,
        'facilitator', (SELECT handle FROM people WHERE id = i.facilitator_id))
$$;

CREATE OR REPLACE FUNCTION cl_review_incident(key_in text) RETURNS incidents
LANGUAGE plpgsql STABLE AS $$
DECLARE
    i incidents;
BEGIN
    SELECT * INTO i FROM incidents WHERE key = upper(key_in);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incident "%" not found', key_in USING ERRCODE = 'CL404';
    END IF;
    RETURN i;
END $$;

-- The agenda of an incident's review: {"incident", "review" (null when none is scheduled),
-- "generated_at", "today", "actions": [...], "counts": {expectation code: n}}. Archived
-- actions are left out. CL404 for an unknown incident.
CREATE OR REPLACE FUNCTION cl_review_agenda(key_in text) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    i incidents := cl_review_incident(key_in);
    items jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(cl_review_agenda_item(v) ORDER BY v.id), '[]') INTO items
    FROM action_v v WHERE v.incident_id = i.id AND v.archived_at IS NULL;
    RETURN jsonb_build_object(
        'incident', cl_review_incident_json(i),
        'review', (SELECT cl_review_brief(r) FROM reviews r
                   WHERE r.incident_id = i.id AND r.kind = 'incident'),
        'generated_at', now(), 'today', current_date, 'actions', items,
        'counts', (SELECT coalesce(jsonb_object_agg(k, n), '{}')
                   FROM (SELECT x->>'expect' AS k, count(*) AS n
                         FROM jsonb_array_elements(items) x GROUP BY 1) c))::text;
END $$;

-- `action verify`: a done action is confirmed to have worked, with evidence (a URL or
-- words). CL404 unknown; CL422 archived or no evidence; CLTRN not done, or verified already.
CREATE OR REPLACE FUNCTION cl_action_verify_apply(a actions, evidence text, src text, actor text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ev text := nullif(btrim(evidence), '');
BEGIN
    IF ev IS NULL OR length(ev) > 2000 THEN
        RAISE EXCEPTION 'evidence must hold 1 to 2000 characters: a URL or what shows it worked'
            USING ERRCODE = 'CL422', COLUMN = 'evidence';
    END IF;
    UPDATE actions SET verified_at = now(), verified_by = actor, verify_evidence = ev,
                       version = version + 1, updated_at = now()
    WHERE id = a.id;
    PERFORM cl_event(a.id, src, actor, 'verified', NULL, ev);
END $$;

CREATE OR REPLACE FUNCTION cl_action_verify(aid bigint, evidence text, src text, actor text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    a actions := cl_action_lock(aid, NULL);
BEGIN
    IF a.archived_at IS NOT NULL THEN
        RAISE EXCEPTION 'action % is archived: unarchive it first', aid
            USING ERRCODE = 'CL422', COLUMN = 'action';
    ELSIF a.status <> 'done' THEN
        RAISE EXCEPTION 'action % is %: only a done action can be verified', aid, a.status
            USING ERRCODE = 'CLTRN', COLUMN = 'status';
    ELSIF a.verified_at IS NOT NULL THEN
        RAISE EXCEPTION 'action % was verified already (on %, by %)', aid, a.verified_at::date,
                        a.verified_by USING ERRCODE = 'CLTRN', COLUMN = 'status';
    END IF;
    PERFORM cl_action_verify_apply(a, evidence, src, actor);
    RETURN (SELECT action_json(v) FROM action_v v WHERE v.id = aid);
END $$;

-- Holding a review ---------------------------------------------------------------

-- The incident's review if it can be held (locked when `lock`): CLCON (409) when there is
-- none, or it was cancelled or held already.
DROP FUNCTION IF EXISTS cl_review_lock_open(incidents);
CREATE OR REPLACE FUNCTION cl_review_lock_open(i incidents, lock boolean) RETURNS reviews
LANGUAGE plpgsql AS $$
DECLARE
    r reviews;
BEGIN
    IF lock THEN
        SELECT * INTO r FROM reviews WHERE incident_id = i.id AND kind = 'incident' FOR UPDATE;
    ELSE
        SELECT * INTO r FROM reviews WHERE incident_id = i.id AND kind = 'incident';
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incident % has no review: schedule one first', i.key
            USING ERRCODE = 'CLCON', COLUMN = 'review';
    ELSIF r.status <> 'scheduled' THEN
        RAISE EXCEPTION 'the review of % is %: it cannot be held', i.key, r.status
            USING ERRCODE = 'CLCON', COLUMN = 'review';
    END IF;
    RETURN r;
END $$;

-- One item checked against the rules and the action; raises CL422 naming items[n].field.
CREATE OR REPLACE FUNCTION cl_review_item_check(i incidents, it jsonb, n bigint, a actions)
RETURNS void LANGUAGE plpgsql STABLE AS $$
DECLARE
    o text := it->>'outcome';
    f jsonb := nullif(it->'follow_up', 'null'::jsonb);
    at text := format('items[%s]', n - 1);
    msg text;
    col text := 'outcome';
BEGIN
    IF a.id IS NULL THEN
        msg := format('action %s does not exist', it->>'action');
        col := 'action';
    ELSIF a.incident_id <> i.id THEN
        msg := format('action %s belongs to another incident, not %s', a.id, i.key);
        col := 'action';
    ELSIF a.archived_at IS NOT NULL THEN
        msg := format('action %s is archived: it has no outcome', a.id);
        col := 'action';
    ELSIF o IS NULL OR o NOT IN ('effective', 'not_effective', 'not_done', 'dropped') THEN
        msg := format('outcome of action %s must be effective, not_effective, not_done or dropped',
                      a.id);
    ELSIF a.status = 'wont_do' THEN
        msg := format('action %s was dropped already: nothing to decide', a.id);
    ELSIF o IN ('not_done', 'dropped') AND a.verified_at IS NOT NULL THEN
        msg := format('action %s was verified: its outcome is effective or not_effective', a.id);
    ELSIF o = 'not_done' AND (it->>'due_on') IS NULL THEN
        msg := format('not_done needs a new due date for action %s (due_on)', a.id);
        col := 'due_on';
    ELSIF o = 'not_done' AND (it->>'due_on')::date <= current_date THEN
        msg := format('the new due date of action %s (%s) must be in the future', a.id,
                      it->>'due_on');
        col := 'due_on';
    ELSIF o = 'dropped' AND nullif(btrim(it->>'reason'), '') IS NULL THEN
        msg := format('dropped needs a reason for action %s: say why it will not be done', a.id);
        col := 'reason';
    ELSIF o = 'not_effective' AND f IS NULL THEN
        msg := format('not_effective needs a follow-up for action %s: title, owner, due date', a.id);
        col := 'follow_up';
    ELSIF f IS NOT NULL AND (nullif(btrim(f->>'title'), '') IS NULL OR f->>'owner' IS NULL
                             OR f->>'due_on' IS NULL) THEN
        msg := format('the follow-up of action %s needs a title, an owner and a due date', a.id);
        col := 'follow_up';
    END IF;
    IF msg IS NOT NULL THEN
        RAISE EXCEPTION '%: %', at, msg USING ERRCODE = 'CL422', COLUMN = at || '.' || col;
    END IF;
END $$;

-- Every item checked, none twice, and every action that needs an outcome has one.
CREATE OR REPLACE FUNCTION cl_review_items_check(i incidents, items jsonb) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    a actions;
    seen bigint[] := '{}';
    missing text;
BEGIN
    FOR r IN SELECT e.value, e.n FROM jsonb_array_elements(items) WITH ORDINALITY AS e (value, n)
    LOOP
        IF jsonb_typeof(r.value->'action') <> 'number' THEN
            RAISE EXCEPTION 'items[%]: action must be an action id', r.n - 1
                USING ERRCODE = 'CL422', COLUMN = format('items[%s].action', r.n - 1);
        END IF;
        a := NULL;
        SELECT * INTO a FROM actions WHERE id = (r.value->>'action')::bigint;
        PERFORM cl_review_item_check(i, r.value, r.n, a);
        IF a.id = ANY (seen) THEN
            RAISE EXCEPTION 'items[%]: action % is listed twice', r.n - 1, a.id
                USING ERRCODE = 'CL422', COLUMN = format('items[%s].action', r.n - 1);
        END IF;
        seen := seen || a.id;
    END LOOP;
    SELECT string_agg(x.id::text, ', ' ORDER BY x.id) INTO missing FROM actions x
    WHERE x.incident_id = i.id AND cl_review_needs_outcome(x.status, x.verified_at, x.archived_at)
          AND x.id <> ALL (seen);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'every action that is neither verified nor dropped needs an outcome: '
                        'none for %', missing USING ERRCODE = 'CL422', COLUMN = 'items';
    END IF;
END $$;

-- Creates the follow-up of action `a` as any action is created (cl_action_add_one: events,
-- its tracker issue through the outbox), linked to it. Returns its id.
CREATE OR REPLACE FUNCTION cl_review_follow_up(a actions, key text, f jsonb, src text, actor text,
                                               routes jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    fid bigint;
BEGIN
    SELECT * INTO r FROM cl_action_add_one(jsonb_build_object(
        'incident', key, 'kind', coalesce(f->>'kind', a.kind), 'title', btrim(f->>'title'),
        'owner', f->>'owner', 'due_on', f->>'due_on', 'priority', a.priority,
        'description', coalesce(f->>'description',
                                format('Follow-up of action #%s (%s), agreed at the review of %s.',
                                       a.id, a.title, key))), src, actor, routes, NULL);
    fid := (r.action::jsonb->>'id')::bigint;
    UPDATE actions SET follow_up_of = a.id WHERE id = fid;
    PERFORM cl_event(fid, src, actor, 'follow_up_of', NULL, a.id::text);
    PERFORM cl_event(a.id, src, actor, 'follow_up', NULL, fid::text);
    RETURN fid;
END $$;

-- The changes one outcome makes to its action, through the paths every change takes.
CREATE OR REPLACE FUNCTION cl_review_item_apply(a actions, key text, it jsonb, src text, actor text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    o text := it->>'outcome';
    said text := format('the review of %s on %s', key, current_date);
BEGIN
    IF o IN ('effective', 'not_effective') THEN
        IF a.status <> 'done' THEN
            PERFORM cl_action_transition(a.id, NULL, 'done', src, actor);
        END IF;
        IF a.verified_at IS NULL THEN
            SELECT * INTO a FROM actions WHERE id = a.id;
            PERFORM cl_action_verify_apply(a, coalesce(nullif(btrim(it->>'evidence'), ''),
                                                       'review of ' || key || ' on ' || current_date),
                                           src, actor);
        END IF;
    ELSIF o = 'not_done' THEN
        IF a.status = 'done' THEN
            PERFORM cl_action_transition(a.id, NULL, 'reopen', src, actor);
        END IF;
        PERFORM cl_action_change_why(a.id, NULL, NULL, jsonb_build_object('due_on', it->'due_on'),
                                     src, actor,
                                     coalesce(nullif(btrim(it->>'reason'), ''), 'agreed at ' || said));
    ELSE
        PERFORM cl_action_change_why(a.id, NULL, 'drop', NULL, src, actor, it->>'reason');
    END IF;
    PERFORM cl_event(a.id, src, actor, 'outcome', NULL, o || ' (' || said || ')');
    IF nullif(btrim(it->>'note'), '') IS NOT NULL THEN
        PERFORM cl_action_note(a.id, it->>'note', src, actor);
    END IF;
END $$;

-- Each action changed as its outcome says; returns the follow-ups' ids, by item (NULL when
-- none). Nothing here touches the review (see cl_review_hold).
DROP FUNCTION IF EXISTS cl_review_items_apply(reviews, incidents, jsonb, text, text, jsonb);
CREATE OR REPLACE FUNCTION cl_review_items_apply(i incidents, items jsonb, src text, actor text,
                                                 routes jsonb) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    x record;
    a actions;
    fid bigint;
    fids bigint[] := '{}';
    st text;
    msg text;
    col text;
BEGIN
    FOR x IN SELECT e.value, e.n FROM jsonb_array_elements(items) WITH ORDINALITY AS e (value, n)
    LOOP
        SELECT * INTO a FROM actions WHERE id = (x.value->>'action')::bigint FOR UPDATE;
        BEGIN
            PERFORM cl_review_item_apply(a, i.key, x.value, src, actor);
            fid := CASE WHEN jsonb_typeof(x.value->'follow_up') = 'object' THEN
                cl_review_follow_up(a, i.key, x.value->'follow_up', src, actor, routes) END;
        EXCEPTION WHEN OTHERS THEN  -- the item named; nothing is kept
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, col = COLUMN_NAME;
            RAISE EXCEPTION USING ERRCODE = st, COLUMN = format('items[%s]', x.n - 1)
                || CASE WHEN coalesce(col, '') <> '' THEN '.' || col ELSE '' END,
                MESSAGE = format('items[%s] (action %s): %s', x.n - 1, a.id, msg);
        END;
        fids := fids || fid;
    END LOOP;
    RETURN fids;
END $$;

-- The outcomes as the review keeps them (review_items) and its history (one `outcome`
-- event each).
CREATE OR REPLACE FUNCTION cl_review_items_record(r reviews, items jsonb, fids bigint[], src text,
                                                  actor text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO review_items (review_id, action_id, outcome, note, new_due_on, reason, evidence,
                              follow_up_id, recorded_by)
    SELECT r.id, (e.value->>'action')::bigint, e.value->>'outcome',
           coalesce(btrim(e.value->>'note'), ''), (e.value->>'due_on')::date,
           nullif(btrim(e.value->>'reason'), ''),
           CASE WHEN e.value->>'outcome' IN ('effective', 'not_effective') THEN
               (SELECT verify_evidence FROM actions WHERE id = (e.value->>'action')::bigint) END,
           fids[e.n], actor
    FROM jsonb_array_elements(items) WITH ORDINALITY AS e (value, n) ORDER BY e.n;
    INSERT INTO review_events (review_id, source, actor, what, new)
    SELECT r.id, src, actor, 'outcome', jsonb_build_object(
        'action', (e.value->>'action')::bigint, 'outcome', e.value->>'outcome',
        'follow_up', fids[e.n])
    FROM jsonb_array_elements(items) WITH ORDINALITY AS e (value, n) ORDER BY e.n;
$$;

-- POST .../review/hold: p = {"items": [{"action", "outcome", "note", "due_on", "reason",
-- "evidence", "follow_up": {"title", "owner", "due_on", "kind", "description"}}],
-- "attended": [handles or addresses], "notes"}. All or nothing. Returns the summary JSON
-- (cl_review_summary_json), which the caller renders and stores with
-- cl_review_summary_store(). The review is locked last: a change to an action queues its
-- incident for the scheduler (review_replan), whose pass holds those rows while it locks
-- reviews; locking the review first would deadlock with it. Two holds at once: the second
-- finds the review held when it locks it, and rolls back.
CREATE OR REPLACE FUNCTION cl_review_hold(key_in text, p jsonb, src text, actor text, routes jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    i incidents := cl_review_incident(key_in);
    r reviews := cl_review_lock_open(i, false);
    items jsonb := coalesce(p->'items', '[]');
    fids bigint[];
BEGIN
    IF jsonb_typeof(items) <> 'array' THEN
        RAISE EXCEPTION 'items must be an array' USING ERRCODE = 'CL422', COLUMN = 'items';
    END IF;
    PERFORM cl_review_items_check(i, items);
    fids := cl_review_items_apply(i, items, src, actor, routes);
    r := cl_review_lock_open(i, true);
    PERFORM cl_review_items_record(r, items, fids, src, actor);
    UPDATE reviews SET status = 'held', held_at = now(), held_by = actor,
        attended = ARRAY(SELECT jsonb_array_elements_text(coalesce(p->'attended', '[]'))),
        notes = coalesce(p->>'notes', ''), version = version + 1, updated_at = now()
    WHERE id = r.id;
    INSERT INTO review_events (review_id, source, actor, what, old, new)
    VALUES (r.id, src, actor, 'held', jsonb_build_object('status', r.status),
            jsonb_build_object('status', 'held', 'attended', p->'attended',
                               'items', jsonb_array_length(items)));
    RETURN cl_review_summary_json(r.id);
END $$;

-- The summary ---------------------------------------------------------------------

-- {"review", "incident", "items": [{"action", "title", "owner", "outcome", "note",
-- "new_due_on", "reason", "evidence", "follow_up": {id, title, owner, due_on}|null}],
-- "subject"}: what cl_review_hold returns, what GET .../summary?format=json answers and
-- what the summary mail carries.
CREATE OR REPLACE FUNCTION cl_review_summary_json(rid bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'review', cl_review_brief(r), 'incident', cl_review_incident_json(i),
        'subject', format('Review of %s held on %s', i.key,
                          to_char(r.held_at AT TIME ZONE r.timezone, 'YYYY-MM-DD')),
        'items', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'action', a.id, 'title', a.title, 'owner', a.owner_handle, 'status', a.status,
                'outcome', it.outcome, 'note', it.note, 'new_due_on', it.new_due_on,
                'reason', it.reason, 'evidence', it.evidence,
                'follow_up', CASE WHEN f.id IS NOT NULL THEN jsonb_build_object(
                    'id', f.id, 'title', f.title, 'owner', f.owner_handle, 'due_on', f.due_on,
                    'sync', f.link_url) END) ORDER BY a.id)
            FROM review_items it JOIN action_v a ON a.id = it.action_id
            LEFT JOIN action_v f ON f.id = it.follow_up_id
            WHERE it.review_id = r.id), '[]'))::text
    FROM reviews r JOIN incidents i ON i.id = r.incident_id WHERE r.id = rid
$$;

-- The review of an incident, for the summary: CL404 no incident, CLCON not held yet.
-- Returns (review id, summary JSON, stored Markdown, stored HTML).
CREATE OR REPLACE FUNCTION cl_review_summary(key_in text, OUT review_id bigint, OUT j text,
                                             OUT md text, OUT html text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    i incidents := cl_review_incident(key_in);
    r reviews;
BEGIN
    SELECT * INTO r FROM reviews WHERE incident_id = i.id AND kind = 'incident';
    IF NOT FOUND OR r.status <> 'held' THEN
        RAISE EXCEPTION 'the review of % was not held: no summary yet', i.key
            USING ERRCODE = 'CLCON', COLUMN = 'review';
    END IF;
    review_id := r.id;
    j := cl_review_summary_json(r.id);
    md := r.summary_md;
    html := r.summary_html;
END $$;

-- Stores the rendered summary and queues one mail per recipient (the review's summary_to
-- and the summary_to of the review policy for the review's team, or the default's), once:
-- the dedup key "summary:{review id}:{email}" makes a second call (a retry, or the repair
-- of a crash between the hold and this) send nothing twice. A summary already stored is
-- kept. Returns the number of recipients.
DROP FUNCTION IF EXISTS cl_review_summary_store(bigint, text, text, text[], text, text);
CREATE OR REPLACE FUNCTION cl_review_summary_store(rid bigint, md text, html text, policy jsonb,
                                                   src text, actor text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    team_to text[];
    r reviews;
    j jsonb;
    rcpt record;
    n integer := 0;
BEGIN
    SELECT * INTO r FROM reviews WHERE id = rid FOR UPDATE;
    IF NOT FOUND OR r.status <> 'held' THEN
        RAISE EXCEPTION 'review % was not held', rid USING ERRCODE = 'CLCON', COLUMN = 'review';
    END IF;
    IF r.summary_md IS NULL THEN
        UPDATE reviews SET summary_md = md, summary_html = html WHERE id = rid;
    END IF;
    team_to := ARRAY(SELECT jsonb_array_elements_text(
                         coalesce(cl_review_policy(policy, r.team_id)->'summary_to', '[]')));
    j := cl_review_summary_json(rid)::jsonb;
    FOR rcpt IN SELECT DISTINCT ON (lower(e)) e AS email,
                       (SELECT p.name FROM people p WHERE lower(p.email) = lower(e) LIMIT 1) AS name
                FROM unnest(r.summary_to || coalesce(team_to, '{}')) AS e
                WHERE nullif(btrim(e), '') IS NOT NULL ORDER BY lower(e)
    LOOP
        n := n + 1;
        PERFORM cl_mail_enqueue('summary', rcpt.email, rcpt.name, j->>'subject', j,
                                format('summary:%s:%s', rid, lower(rcpt.email)));
    END LOOP;
    IF n > 0 AND NOT EXISTS (SELECT 1 FROM review_events WHERE review_id = rid
                             AND what = 'summary_sent') THEN
        INSERT INTO review_events (review_id, source, actor, what, new)
        VALUES (rid, src, actor, 'summary_sent', jsonb_build_object('recipients', n));
    END IF;
    RETURN n;
END $$;

-- The list of reviews -------------------------------------------------------------

-- GET /api/v1/reviews: (json, cursor) rows in starting order after the keyset
-- (after_at, after_id), filtered. CL422 for an unknown team.
CREATE OR REPLACE FUNCTION cl_review_list(team text, from_at timestamptz, to_at timestamptz,
                                          st text, kind_in text, after_at timestamptz,
                                          after_id bigint, lim integer)
RETURNS TABLE (j text, c text) LANGUAGE plpgsql STABLE AS $$
DECLARE
    tid bigint := cl_team_id(team, 'team');
BEGIN
    RETURN QUERY
    SELECT cl_review_brief(r)::text,
           to_char(r.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '.' || r.id
    FROM reviews r
    WHERE (tid IS NULL OR r.team_id = tid)
      AND (from_at IS NULL OR r.starts_at >= from_at)
      AND (to_at IS NULL OR r.starts_at < to_at)
      AND (st IS NULL OR r.status = st) AND (kind_in IS NULL OR r.kind = kind_in)
      AND (after_at IS NULL OR (r.starts_at, r.id) > (after_at, after_id))
    ORDER BY r.starts_at, r.id LIMIT lim;
END $$;
