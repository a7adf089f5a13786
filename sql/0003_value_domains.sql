-- 0003_value_domains: the single-column rules on photos and their history (closed lists of values,
-- lengths, positive sizes, a JSON object) become domains instead of table CHECK constraints, and the
-- four "the current status has its timestamp" checks become one. The rules themselves do not
-- change, and to clients each column reads and writes as its base type (text, bigint, integer, jsonb).
--
-- Why: Postgres rebuilds a table's CHECK constraints from their stored text (stringToNode) and
-- plans them again in every INSERT or UPDATE statement, while a domain's constraints are read once
-- per session into the type cache. With twelve table checks on photos, that was about a sixth of
-- Postgres's CPU time per upload-url request (perf; docs/benchmarks.md).
--
-- One thing clients may notice: a statement that uses one untyped parameter both as such a
-- column's value and in a comparison with the base type now fails with "inconsistent types
-- deduced for parameter"; casting the parameter (`$5::text`) resolves it.
--
-- Cost of applying it: changing a column to a domain that has constraints rewrites the whole table
-- and rebuilds all its indexes (Postgres does so to check every row), under an ACCESS EXCLUSIVE lock
-- on photos and photo_status_history; on a large table that needs a maintenance window. The
-- migrator's lock_timeout (5 s by default) stops it from queueing behind long transactions. Changing
-- a column's type also drops its planner statistics, so the file ends by gathering them again.

CREATE DOMAIN photo_status AS text
    CONSTRAINT photo_status_check CHECK (VALUE IN ('pending_upload', 'uploaded', 'processing', 'completed', 'failed'));
CREATE DOMAIN photo_mime_type AS text
    CONSTRAINT photo_mime_type_check CHECK (VALUE IN ('image/jpeg', 'image/png'));
CREATE DOMAIN photo_priority AS text
    CONSTRAINT photo_priority_check CHECK (VALUE IN ('low', 'normal', 'high'));
CREATE DOMAIN photo_file_name AS text
    CONSTRAINT photo_file_name_check CHECK (length(VALUE) BETWEEN 1 AND 255);
CREATE DOMAIN photo_byte_count AS bigint
    CONSTRAINT photo_byte_count_check CHECK (VALUE > 0);
CREATE DOMAIN photo_pixel_count AS integer
    CONSTRAINT photo_pixel_count_check CHECK (VALUE > 0);
-- Not named jsonb_object: a type of that name would turn calls of the built-in function
-- jsonb_object('{...}') into casts.
CREATE DOMAIN photo_exif_data AS jsonb
    CONSTRAINT photo_exif_data_check CHECK (jsonb_typeof(VALUE) = 'object');

ALTER TABLE photos
    DROP CONSTRAINT photos_status_check,
    DROP CONSTRAINT photos_mime_type_check,
    DROP CONSTRAINT photos_priority_check,
    DROP CONSTRAINT photos_file_name_check,
    DROP CONSTRAINT photos_file_size_check,
    DROP CONSTRAINT photos_width_check,
    DROP CONSTRAINT photos_height_check,
    DROP CONSTRAINT photos_exif_data_check,
    DROP CONSTRAINT photos_uploaded_at_set,
    DROP CONSTRAINT photos_processing_at_set,
    DROP CONSTRAINT photos_completed_at_set,
    DROP CONSTRAINT photos_failed_at_set,
    ALTER COLUMN status TYPE photo_status,
    ALTER COLUMN mime_type TYPE photo_mime_type,
    ALTER COLUMN priority TYPE photo_priority,
    ALTER COLUMN file_name TYPE photo_file_name,
    ALTER COLUMN file_size TYPE photo_byte_count,
    ALTER COLUMN width TYPE photo_pixel_count,
    ALTER COLUMN height TYPE photo_pixel_count,
    ALTER COLUMN exif_data TYPE photo_exif_data,
    -- The timestamp of the current status is always set, whoever wrote the row.
    ADD CONSTRAINT photos_status_time_set CHECK (
        CASE status
            WHEN 'uploaded' THEN uploaded_at IS NOT NULL
            WHEN 'processing' THEN processing_at IS NOT NULL
            WHEN 'completed' THEN completed_at IS NOT NULL
            WHEN 'failed' THEN failed_at IS NOT NULL
            ELSE true
        END
    );

ALTER TABLE photo_status_history
    DROP CONSTRAINT photo_status_history_status_check,
    DROP CONSTRAINT photo_status_history_previous_status_check,
    ALTER COLUMN status TYPE photo_status,
    ALTER COLUMN previous_status TYPE photo_status;

-- Statistics again, where there are rows to take them from. On an empty table (a new install)
-- ANALYZE would record "no rows", and plans cached before the first autovacuum analyze would be
-- made for an empty table (UploadStatementPlanTests checks the upload statement's cached plan).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM photos) THEN
        ANALYZE photos;
    END IF;
    IF EXISTS (SELECT 1 FROM photo_status_history) THEN
        ANALYZE photo_status_history;
    END IF;
END
$$;
