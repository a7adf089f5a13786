-- 0006_rate_limit_windows: the per-user budget of upload-url requests (RATE_LIMIT_PER_MINUTE),
-- counted here so that every photo-api process shares it (docs/architecture.md, "Rate limits").
--
-- One row per user holding that user's current window: when it opened and how many requests it
-- counted. The upload-url statements update it in place (INSERT ... ON CONFLICT (user_id) DO
-- UPDATE) in the statement they already run, so counting costs no round trip, and two users
-- never wait for each other: each request locks only its own user's row, until its commit.
--
-- No index besides the primary key, on purpose: an update that changes no indexed column can be
-- a HOT update (no new index entries), and every request changes window_start or request_count.
-- The fill factor leaves room on each page for those new row versions. The reconciler's purge of
-- windows long ended scans the table, whose size is the number of recently active users.
--
-- A logged table, although a lost minute of counts would harm nobody: the statement that counts
-- already writes and flushes WAL for the photo it inserts, so an UNLOGGED table would save a
-- small WAL record and no flush, while it is emptied by every crash restart and is empty on a
-- promoted standby after a failover (budgets would restart each time).
--
-- Cost of applying it: a new, empty table; nothing else is locked.
CREATE TABLE rate_limit_windows (
    user_id uuid PRIMARY KEY,
    window_start timestamptz NOT NULL,
    request_count integer NOT NULL CHECK (request_count > 0)
) WITH (fillfactor = 70);
