-- Gives the seeded actions words to search (tests/bench/search.sh): every description gets
-- twelve words of a made-up vocabulary of 1,000 (term0 .. term999, skewed: term0 is in most
-- descriptions, term999 in a few thousand), and three planted words of known frequency:
-- "pool" in one description in 10, "timeouts" in one in 100, "zanzibar" in one in 10,000.
-- One action in five gets a progress note ("timeout" in one note in 100). The triggers
-- that keep the figures' columns are skipped (session_replication_role): these are not
-- changes anybody made.
SET session_replication_role = replica;

UPDATE actions a
SET description = (SELECT string_agg('term' || floor(1000 * power(
                                  (hashint8(a.id * 16 + g) & 2147483647) / 2147483648.0, 3))::int,
                                  ' ')
                   FROM generate_series(1, 12) g)
               || CASE WHEN hashint8(a.id + 11) % 10 = 0 THEN ' the pool filled up' ELSE '' END
               || CASE WHEN hashint8(a.id + 13) % 100 = 0 THEN ' requests hit timeouts' ELSE '' END
               || CASE WHEN hashint8(a.id + 17) % 10000 = 0 THEN ' zanzibar' ELSE '' END;

INSERT INTO events (action_id, at, source, actor, field, new)
SELECT a.id, a.created_at + interval '1 day', 'cli', 'bench', 'note',
       'checked the dashboards again'
       || CASE WHEN hashint8(a.id + 19) % 100 = 0 THEN ', another timeout' ELSE '' END
FROM actions a
WHERE hashint8(a.id + 23) % 5 = 0;

RESET session_replication_role;
VACUUM ANALYZE actions;
VACUUM ANALYZE events;
