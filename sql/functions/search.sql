-- search: full-text search across the archive, so that when something similar breaks
-- people find out that "it's another one of those". Incidents (key, title), actions
-- (title, description), progress notes and reasons (the events field 'note' and 'reason'
-- of sql/functions/history.sql), reviews' notes and the note of each action reviewed, and
-- reviews' summaries. Archived incidents and actions are found too (it is the archive),
-- marked "archived". Every WHERE below is the expression of an index of migration 0016,
-- written the same way, so that each source is read through its GIN index.

-- The markers ts_headline puts around each matching word of a snippet: STX and ETX
-- (U+0002, U+0003). No text can hold them (control characters are blanked from the
-- snippet's text first), so a client can replace them without ambiguity: the CLI turns
-- them into bold on a terminal and **word** in Markdown. A text of up to 240 characters is
-- its own snippet; a longer one gives its (at most three) passages of 5 to 20 words that
-- hold a matching word, joined by " … ".
CREATE OR REPLACE FUNCTION cl_search_headline_options(len integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT E'StartSel=\u0002, StopSel=\u0003, '
           || CASE WHEN len <= 240 THEN 'HighlightAll=true'
                   ELSE 'MaxFragments=3, MaxWords=20, MinWords=5, FragmentDelimiter=" … "' END
$$;

-- The snippet of t: control characters blanked, the matching words marked; adjacent
-- marked words (INC, -42) become one (INC-42).
CREATE OR REPLACE FUNCTION cl_search_snippet(t text, q tsquery) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT replace(ts_headline('english'::regconfig, regexp_replace(t, '[[:cntrl:]]+', ' ', 'g'),
                               q, cl_search_headline_options(length(t))), E'\u0003\u0002', '')
$$;

-- The snippet of body when a word of it matches, else of alt (an action: its description,
-- else its title, which the hit shows anyway).
CREATE OR REPLACE FUNCTION cl_search_pick(body text, alt text, q tsquery) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s text := cl_search_snippet(body, q);
BEGIN
    IF alt IS NULL OR strpos(s, E'\u0002') > 0 THEN
        RETURN s;
    END IF;
    RETURN cl_search_snippet(alt, q);
END $$;

-- How many of each source's matches are ranked: the newest this many (incidents, actions,
-- notes, review notes, review items, summaries each). Ranking parses each text again (16 µs
-- for an action at the bench's: a word in one action of ten, 100,000 of them, took 2.3 s
-- to rank whole); finding the matches reads the index and the rows only.
CREATE OR REPLACE FUNCTION cl_search_ranked() RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT 2000
$$;

-- The query as typed (websearch syntax: words, "a phrase", -excluded, or), checked: at
-- most 200 characters, at least one word to find. CL422 naming q otherwise.
CREATE OR REPLACE FUNCTION cl_search_query(q text) RETURNS tsquery LANGUAGE plpgsql STABLE
SET client_min_messages = warning AS $$   -- no NOTICE about stop words in closeloopd's log
DECLARE
    tsq tsquery;
BEGIN
    IF q IS NULL OR btrim(q) = '' THEN
        RAISE EXCEPTION 'q (what to search for) must not be empty' USING ERRCODE = 'CL422',
            COLUMN = 'q';
    END IF;
    IF length(q) > 200 THEN
        RAISE EXCEPTION 'q must hold at most 200 characters, not %', length(q)
            USING ERRCODE = 'CL422', COLUMN = 'q';
    END IF;
    tsq := websearch_to_tsquery('english', q);
    IF numnode(tsq) = 0 THEN
        RAISE EXCEPTION 'q has no word to search for: "%" holds only words too common to index '
            '(the, and, of, ...) or no letters or digits', q USING ERRCODE = 'CL422', COLUMN = 'q';
    END IF;
    IF querytree(tsq) = 'T' THEN
        RAISE EXCEPTION 'q needs a word to find, not only words to leave out (-word): "%"', q
            USING ERRCODE = 'CL422', COLUMN = 'q';
    END IF;
    RETURN tsq;
END $$;

-- One page of hits, best first: ranked by ts_rank_cd (titles weigh 1.0, all other text
-- 0.4; normalised by the log of the text's length), then the newest first, then a fixed
-- order; of a source with more than cl_search_ranked() matches, its newest that many. Rows (json, cursor); the cursor is the hit's place in the ranking, `after` the
-- place of the last hit already shown (NULL: from the start). At most the best 1000 hits
-- are reachable. `team` keeps what is that team's: for an incident, its facilitator in
-- the team; for an action, its notes and its review notes, the action's owner in the
-- team; for a review's notes and summary, the review's team (a backlog review's team, or
-- the facilitator's team when an incident review was scheduled). `since` keeps what is
-- from then on: an incident by its start (else its creation), an action by its creation,
-- a note by its time, review notes and summaries by when the review was held (else last
-- changed), a review item's note when it was recorded.
CREATE OR REPLACE FUNCTION cl_search(q text, team text, since timestamptz, lim integer,
                                     after text)
RETURNS TABLE (j text, c text) LANGUAGE plpgsql STABLE AS $$
DECLARE
    tsq tsquery := cl_search_query(q);
    tid bigint := cl_team_id(team, 'team');
    members bigint[] := CASE WHEN tid IS NOT NULL THEN
        ARRAY(SELECT p.id FROM people p WHERE p.team_id = tid) END;
    skip integer := coalesce(after::integer, 0);
BEGIN
    IF skip < 0 OR skip >= 1000 THEN
        RETURN;
    END IF;
    -- EXECUTE: planned for these values each time (a custom plan), so that each source's
    -- GIN index is used and the unused filters fold away.
    RETURN QUERY EXECUTE $q$
    -- Per source, the matching rows (read through its GIN index: materialised, so that no
    -- plan walks another index and parses every row it passes) and of those the newest
    -- $7, which alone are ranked: ranking parses each text again.
    WITH ci AS MATERIALIZED (
        SELECT i.id, coalesce(i.started_at, i.created_at) AS at
        FROM incidents i
        WHERE setweight(to_tsvector('english'::regconfig, i.key || ' ' || i.title), 'A') @@ $1
          AND ($2::bigint[] IS NULL OR i.facilitator_id = ANY ($2))
          AND ($4::timestamptz IS NULL OR coalesce(i.started_at, i.created_at) >= $4)
    ), ca AS MATERIALIZED (
        SELECT a.id, a.created_at AS at
        FROM actions a
        WHERE (setweight(to_tsvector('english'::regconfig, a.title), 'A')
               || to_tsvector('english'::regconfig, a.description)) @@ $1
          AND ($2::bigint[] IS NULL OR a.owner_id = ANY ($2))
          AND ($4::timestamptz IS NULL OR a.created_at >= $4)
    ), ce AS MATERIALIZED (
        SELECT e.id, e.at
        FROM events e
        JOIN actions a ON a.id = e.action_id
        WHERE to_tsvector('english'::regconfig, coalesce(e.new, '')) @@ $1
          AND e.field IN ('note', 'reason')
          AND ($2::bigint[] IS NULL OR a.owner_id = ANY ($2))
          AND ($4::timestamptz IS NULL OR e.at >= $4)
    ), cr AS MATERIALIZED (
        SELECT r.id, coalesce(r.held_at, r.updated_at) AS at
        FROM reviews r
        WHERE to_tsvector('english'::regconfig, r.notes) @@ $1
          AND ($3::bigint IS NULL OR r.team_id = $3)
          AND ($4::timestamptz IS NULL OR coalesce(r.held_at, r.updated_at) >= $4)
    ), cri AS MATERIALIZED (
        SELECT ri.review_id, ri.action_id, ri.recorded_at AS at
        FROM review_items ri
        JOIN actions a ON a.id = ri.action_id
        WHERE to_tsvector('english'::regconfig, ri.note) @@ $1
          AND ($2::bigint[] IS NULL OR a.owner_id = ANY ($2))
          AND ($4::timestamptz IS NULL OR ri.recorded_at >= $4)
    ), cs AS MATERIALIZED (
        SELECT r.id, coalesce(r.held_at, r.updated_at) AS at
        FROM reviews r
        WHERE to_tsvector('english'::regconfig, coalesce(r.summary_md, '')) @@ $1
          AND ($3::bigint IS NULL OR r.team_id = $3)
          AND ($4::timestamptz IS NULL OR coalesce(r.held_at, r.updated_at) >= $4)
    ), hit AS (
        SELECT 'incident'::text AS kind, i.id AS src, i.id AS incident_id,
               NULL::bigint AS action_id, NULL::bigint AS review_id, NULL::text AS field,
               i.key || ' ' || i.title AS body, NULL::text AS alt,
               ts_rank_cd('{0.4, 0.2, 0.2, 1.0}',
                          setweight(to_tsvector('english'::regconfig, i.key || ' ' || i.title), 'A'),
                          $1, 1) AS rank,
               c.at
        FROM (SELECT * FROM ci ORDER BY at DESC, id DESC LIMIT $7) c
        JOIN incidents i ON i.id = c.id
        UNION ALL
        SELECT 'action', a.id, a.incident_id, a.id, NULL, NULL, a.description, a.title,
               ts_rank_cd('{0.4, 0.2, 0.2, 1.0}',
                          setweight(to_tsvector('english'::regconfig, a.title), 'A')
                          || to_tsvector('english'::regconfig, a.description), $1, 1),
               c.at
        FROM (SELECT * FROM ca ORDER BY at DESC, id DESC LIMIT $7) c
        JOIN actions a ON a.id = c.id
        UNION ALL
        SELECT 'note', e.id, a.incident_id, a.id, NULL, e.field, e.new, NULL,
               ts_rank_cd('{0.4, 0.2, 0.2, 1.0}',
                          to_tsvector('english'::regconfig, coalesce(e.new, '')), $1, 1),
               c.at
        FROM (SELECT * FROM ce ORDER BY at DESC, id DESC LIMIT $7) c
        JOIN events e ON e.id = c.id
        JOIN actions a ON a.id = e.action_id
        UNION ALL
        SELECT 'review_note', r.id, r.incident_id, NULL, r.id, 'review', r.notes, NULL,
               ts_rank_cd('{0.4, 0.2, 0.2, 1.0}', to_tsvector('english'::regconfig, r.notes), $1, 1),
               c.at
        FROM (SELECT * FROM cr ORDER BY at DESC, id DESC LIMIT $7) c
        JOIN reviews r ON r.id = c.id
        UNION ALL
        SELECT 'review_note', ri.review_id, a.incident_id, a.id, ri.review_id, 'item', ri.note,
               NULL,
               ts_rank_cd('{0.4, 0.2, 0.2, 1.0}', to_tsvector('english'::regconfig, ri.note), $1, 1),
               c.at
        FROM (SELECT * FROM cri ORDER BY at DESC, review_id DESC, action_id DESC LIMIT $7) c
        JOIN review_items ri ON ri.review_id = c.review_id AND ri.action_id = c.action_id
        JOIN actions a ON a.id = ri.action_id
        UNION ALL
        SELECT 'summary', r.id, r.incident_id, NULL, r.id, NULL, r.summary_md, NULL,
               ts_rank_cd('{0.4, 0.2, 0.2, 1.0}',
                          to_tsvector('english'::regconfig, coalesce(r.summary_md, '')), $1, 1),
               c.at
        FROM (SELECT * FROM cs ORDER BY at DESC, id DESC LIMIT $7) c
        JOIN reviews r ON r.id = c.id
    ), page AS (
        SELECT h.*, row_number() OVER (ORDER BY h.rank DESC, h.at DESC, h.kind, h.src DESC,
                                                h.action_id DESC NULLS LAST) AS n
        FROM hit h
        ORDER BY n OFFSET $5 LIMIT least($6, 1000 - $5)
    )
    SELECT json_build_object(
               'kind', p.kind, 'incident', i.key, 'action', p.action_id, 'review', p.review_id,
               'field', p.field,
               'title', coalesce(a.title, i.title, 'backlog review of ' || t.name),
               'snippet', cl_search_pick(p.body, p.alt, $1),
               'rank', round(p.rank::numeric, 6), 'at', p.at,
               'archived', a.archived_at IS NOT NULL OR i.archived_at IS NOT NULL)::text,
           p.n::text
    FROM page p
    LEFT JOIN incidents i ON i.id = p.incident_id
    LEFT JOIN actions a ON a.id = p.action_id
    LEFT JOIN reviews r ON r.id = p.review_id
    LEFT JOIN teams t ON t.id = r.team_id
    ORDER BY p.n
    $q$ USING tsq, members, tid, since, skip, lim, cl_search_ranked();
END $$;
