-- 0007_object_deletion: a photo that failed validation (invalid_upload) must leave nothing in the
-- bucket. object_delete_due_at says when its object's versions are next due for deletion:
-- set when the photo fails, moved on while a deletion is claimed or must be repeated (a client
-- may PUT the key again until its upload URL expires), NULL once nothing is left to delete
-- (docs/operations.md, "Objects and rows over time"). The row itself stays, with its reason.
--
-- Cost of applying it: a nullable column without a default only changes the catalog (no table
-- rewrite), under photos' ACCESS EXCLUSIVE lock for a moment. Its index is built concurrently
-- by 0007.
ALTER TABLE photos ADD COLUMN object_delete_due_at timestamptz;
