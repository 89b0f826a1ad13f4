-- 0016: full-text search across the archive (sql/functions/search.sql, cl_search). One GIN
-- index per source of text, on the very expression cl_search() matches with, so that a
-- search reads the index rather than every row. Expressions, not stored tsvector columns:
-- nothing is added to the rows every other statement reads and writes (action_v takes
-- a.*), and the words are recomputed only for the rows a search finds.
--
-- One text search configuration, 'english' (it stems "timeouts" to "timeout"), for the
-- keys too: the query is parsed once, with the same configuration, so an incident key
-- (INC-42: 'inc' '-42') matches as typed. Titles weigh A, everything else the default D
-- (cl_search ranks with both). If the expressions change, both this index and cl_search()
-- must change together (a new migration drops and recreates the index).

CREATE INDEX incidents_search_idx ON incidents
    USING gin (setweight(to_tsvector('english'::regconfig, key || ' ' || title), 'A'));

CREATE INDEX actions_search_idx ON actions
    USING gin ((setweight(to_tsvector('english'::regconfig, title), 'A')
                || to_tsvector('english'::regconfig, description)));

-- Progress notes and the reasons of a block, a drop or a later due date: events of the
-- action (sql/functions/history.sql), the text in "new".
CREATE INDEX events_search_idx ON events
    USING gin (to_tsvector('english'::regconfig, coalesce(new, '')))
    WHERE field IN ('note', 'reason');

-- A review's notes and its summary (Markdown), and the note recorded for each action.
CREATE INDEX reviews_notes_search_idx ON reviews
    USING gin (to_tsvector('english'::regconfig, notes));
CREATE INDEX reviews_summary_search_idx ON reviews
    USING gin (to_tsvector('english'::regconfig, coalesce(summary_md, '')));
CREATE INDEX review_items_search_idx ON review_items
    USING gin (to_tsvector('english'::regconfig, note));
