-- migrator: no-transaction
-- 0008_object_deletion_index: the reconciler's pass finds due object deletions through this
-- partial index, which holds only the few photos with a deletion still due (object_delete_due_at
-- is NULL for every other photo), so it stays small however many photos there are. Built
-- concurrently: writes to photos go on during the build; IF NOT EXISTS makes a re-run safe.
CREATE INDEX CONCURRENTLY IF NOT EXISTS photos_object_delete_due
    ON photos (object_delete_due_at)
    WHERE object_delete_due_at IS NOT NULL;
