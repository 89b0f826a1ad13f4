-- The unowned report starts from the open actions nobody owns.
CREATE INDEX actions_unowned_idx ON actions (id)
    WHERE owner_id IS NULL AND status IN ('open', 'in_progress', 'blocked');
