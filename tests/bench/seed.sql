-- Seeds :n actions over 100 people and 1000 incidents, a third of them overdue.
INSERT INTO teams (name) SELECT 'team' || g FROM generate_series(0, 9) g ON CONFLICT DO NOTHING;
INSERT INTO people (handle, name, email, team_id)
SELECT 'owner' || g, 'Owner ' || g, 'owner' || g || '@example.com',
       (SELECT id FROM teams WHERE name = 'team' || (g % 10))
FROM generate_series(0, 99) g ON CONFLICT DO NOTHING;
INSERT INTO incidents (key, title)
SELECT 'BENCH-' || g, 'bench incident ' || g FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING;
INSERT INTO actions (incident_id, kind, title, owner_id, status, due_on, closed_at)
SELECT 1 + g % 1000, CASE WHEN g % 2 = 0 THEN 'corrective' ELSE 'preventive' END,
       'seeded action ' || g, 1 + g % 100,
       CASE WHEN g % 5 = 0 THEN 'done' ELSE 'open' END,
       current_date + (g % 360) - 120,
       CASE WHEN g % 5 = 0 THEN now() END
FROM generate_series(1, :n) g;
ANALYZE;
