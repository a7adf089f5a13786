-- 0003_value_domains: the closed lists of values (photo status, MIME type, priority) are domains
-- instead of table CHECK constraints. The allowed values do not change, and to clients the
-- columns are still text (a domain over text reads and writes as text).
--
-- Why: Postgres rebuilds a table's CHECK constraints from their stored text (stringToNode) and
-- plans them again in every INSERT or UPDATE statement, while a domain's constraints are read once
-- per session into the type cache. The IN-lists were the costliest part of every photo insert:
-- in a pgbench A/B of the upload-url statement (docs/benchmarks.md) this migration took about
-- 30 µs off each ~310 µs execution.
--
-- One thing clients may notice: a statement that uses one untyped parameter both as such a
-- column's value and in a text comparison now fails with "inconsistent types deduced for
-- parameter"; casting the parameter (`$5::text`) resolves it.
--
-- Changing a column to a domain over its own type rewrites no rows, but it checks every row against
-- the domain and rebuilds the indexes on the column under an ACCESS EXCLUSIVE lock on the table.

CREATE DOMAIN photo_status AS text
    CONSTRAINT photo_status_check CHECK (VALUE IN ('pending_upload', 'uploaded', 'processing', 'completed', 'failed'));
CREATE DOMAIN photo_mime_type AS text
    CONSTRAINT photo_mime_type_check CHECK (VALUE IN ('image/jpeg', 'image/png'));
CREATE DOMAIN photo_priority AS text
    CONSTRAINT photo_priority_check CHECK (VALUE IN ('low', 'normal', 'high'));

ALTER TABLE photos
    DROP CONSTRAINT photos_status_check,
    DROP CONSTRAINT photos_mime_type_check,
    DROP CONSTRAINT photos_priority_check,
    ALTER COLUMN status TYPE photo_status,
    ALTER COLUMN mime_type TYPE photo_mime_type,
    ALTER COLUMN priority TYPE photo_priority;

ALTER TABLE photo_status_history
    DROP CONSTRAINT photo_status_history_status_check,
    DROP CONSTRAINT photo_status_history_previous_status_check,
    ALTER COLUMN status TYPE photo_status,
    ALTER COLUMN previous_status TYPE photo_status;
