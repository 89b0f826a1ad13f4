-- Seeds :n more actions over 100 teams, 10,000 people (their managers among them) and
-- 100,000 incidents, recorded over the past year and due two to ten weeks later (so most
-- open work is overdue): 60% done, 5% dropped, 10% in progress, 5% blocked, 20% open;
-- one in twenty with no owner, one in a thousand owners gone (owner0..owner99, whom the
-- create bench uses, stay); one in fifty undated; one in ten with its due date moved a
-- week or two later; a third quiet since they were recorded. Run again to grow.
INSERT INTO teams (name) SELECT 'team' || g FROM generate_series(0, 99) g ON CONFLICT DO NOTHING;
INSERT INTO people (handle, name, email, team_id, active)
SELECT 'owner' || g, 'Owner ' || g, 'owner' || g || '@example.com',
       (SELECT id FROM teams WHERE name = 'team' || (g % 100)), g % 997 <> 5 OR g < 100
FROM generate_series(0, 9999) g ON CONFLICT DO NOTHING;
UPDATE teams t SET manager_id = p.id FROM people p
WHERE t.manager_id IS NULL AND p.handle = 'owner' || substr(t.name, 5);
INSERT INTO incidents (key, title, created_at)
SELECT 'BENCH-' || g, 'bench incident ' || g, now() - make_interval(days => g % 365)
FROM generate_series(1, 100000) g ON CONFLICT DO NOTHING;

-- k numbers the new actions; h1..h3 are independent hashes of it, so that owner, status,
-- age and due date do not line up (owner k % 10000 would put each team in one status).
CREATE TEMP TABLE seed AS
SELECT k, created, h1, h2, h3
FROM (SELECT (SELECT coalesce(max(id), 0) FROM actions) + g AS k FROM generate_series(1, :n) g) n,
LATERAL (SELECT hashint8(k) & 2147483647 AS h1, hashint8(k + 7919) & 2147483647 AS h2,
                hashint8(k + 104729) & 2147483647 AS h3) h,
LATERAL (SELECT now() - make_interval(days => (h3 % 365)::int, secs => (h3 % 86400)::int)
         AS created) c;

INSERT INTO actions (incident_id, kind, title, owner_id, status, priority, due_on, closed_at,
                     created_at, updated_at)
SELECT (SELECT min(id) FROM incidents) + h2 % 100000,
       CASE WHEN h1 % 2 = 0 THEN 'corrective' ELSE 'preventive' END,
       'seeded action ' || k,
       CASE WHEN h2 % 20 = 7 THEN NULL ELSE (SELECT min(id) FROM people) + h1 % 10000 END,
       s.status, 'P' || (h3 % 5), s.due,
       CASE WHEN s.status IN ('done', 'wont_do')
            THEN least(now(), created + make_interval(days => (5 + h2 % 50)::int)) END,
       created, created
FROM seed,
LATERAL (SELECT CASE WHEN h3 % 20 < 12 THEN 'done' WHEN h3 % 20 = 12 THEN 'wont_do'
                     WHEN h3 % 20 IN (13, 14) THEN 'in_progress' WHEN h3 % 20 = 15 THEN 'blocked'
                     ELSE 'open' END AS status,
                CASE WHEN (h3 / 1000) % 50 = 3 THEN NULL
                     ELSE created::date + 14 + (h2 % 60)::int END AS due) s;

-- One action in ten had its due date moved later, by a week or two.
UPDATE actions SET due_on = due_on + 7 * (1 + id % 2)::int
WHERE id > (SELECT max(id) FROM actions) - :n AND hashint8(id) % 10 = 4 AND due_on IS NOT NULL;
-- Some quiet ever since they were created (stale), the rest touched lately.
UPDATE actions SET last_event_at = created_at
WHERE id > (SELECT max(id) FROM actions) - :n AND hashint8(id + 3) % 3 = 0;
ANALYZE;
