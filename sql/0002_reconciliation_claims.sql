-- Lets several photo-api replicas reconcile expired pending uploads side by side: a replica
-- claims due photos by setting reconcile_claimed_until (rows picked with FOR UPDATE SKIP LOCKED),
-- checks S3 without holding a transaction open, and another replica takes a photo over only
-- after the claim has run out.
ALTER TABLE photos ADD COLUMN reconcile_claimed_until timestamptz;
