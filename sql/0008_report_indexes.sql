-- The blocked report walks blocked work in due order (most open work is not blocked).
CREATE INDEX actions_blocked_due_idx ON actions ((coalesce(due_on, 'infinity'::date)), id)
    WHERE status = 'blocked';
