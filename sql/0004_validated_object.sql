-- 0004_validated_object: what `complete` validated is recorded with the photo, so the detection
-- pipeline can process exactly those bytes (docs/integrity.md): s3_etag is the object's ETag as S3
-- sent it (quotes included), s3_version_id its VersionId in a versioned bucket. Both stay NULL
-- until a photo is confirmed, and for photos confirmed before this migration; s3_version_id also
-- stays NULL in an unversioned bucket.
--
-- Cost of applying it: adding nullable columns without a default only changes the catalog (no
-- table rewrite); it takes photos' ACCESS EXCLUSIVE lock for a moment, which the migrator's
-- lock_timeout keeps from queueing behind long transactions. No constraint is added, so the
-- upload-url inserts, which do not name these columns, cost what they did.
ALTER TABLE photos
    ADD COLUMN s3_etag text,
    ADD COLUMN s3_version_id text;
