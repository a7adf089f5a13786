-- 0001_initial_schema: the whole system's tables (contract section 7).
-- photo-api writes projects' photos, their status history, idempotency keys and outbox
-- events; outbox-relay drains outbox_events and owns outbox_dead_letters.

CREATE TABLE projects (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX projects_organization_id_idx ON projects (organization_id);

CREATE TABLE photos (
    id                uuid        PRIMARY KEY,
    project_id        uuid        NOT NULL REFERENCES projects (id),
    user_id           uuid        NOT NULL,
    file_name         text        NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    mime_type         text        NOT NULL CHECK (mime_type IN ('image/jpeg', 'image/png')),
    file_size         bigint      NOT NULL CHECK (file_size > 0),
    -- Optional base64 SHA-256 the client declared; S3 then verifies the uploaded bytes.
    checksum_sha256   text,
    width             integer     CHECK (width > 0),
    height            integer     CHECK (height > 0),
    s3_bucket         text        NOT NULL,
    s3_key            text        NOT NULL UNIQUE,
    status            text        NOT NULL DEFAULT 'pending_upload'
                                  CHECK (status IN ('pending_upload', 'uploaded', 'processing', 'completed', 'failed')),
    exif_data         jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(exif_data) = 'object'),
    detection_types   text[]      NOT NULL DEFAULT '{damage,material}',
    priority          text        NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high')),
    detection_result  jsonb,
    -- Why the photo failed: a code such as upload_expired or invalid_upload, or the
    -- detection pipeline's message.
    error             text,
    upload_expires_at timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    uploaded_at       timestamptz,
    processing_at     timestamptz,
    completed_at      timestamptz,
    failed_at         timestamptz,
    -- The timestamp of the current status is always set, whoever wrote the row.
    CONSTRAINT photos_uploaded_at_set CHECK (status <> 'uploaded' OR uploaded_at IS NOT NULL),
    CONSTRAINT photos_processing_at_set CHECK (status <> 'processing' OR processing_at IS NOT NULL),
    CONSTRAINT photos_completed_at_set CHECK (status <> 'completed' OR completed_at IS NOT NULL),
    CONSTRAINT photos_failed_at_set CHECK (status <> 'failed' OR failed_at IS NOT NULL)
);

-- GET /projects/{id}/photos: newest first, keyset pagination on (created_at, id),
-- with and without the status filter.
CREATE INDEX photos_project_created_idx ON photos (project_id, created_at DESC, id DESC);
CREATE INDEX photos_project_status_created_idx ON photos (project_id, status, created_at DESC, id DESC);

-- Reconciliation of uploads whose URL expired: only pending photos are indexed.
CREATE INDEX photos_pending_expiry_idx ON photos (upload_expires_at) WHERE status = 'pending_upload';

CREATE TABLE photo_status_history (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    photo_id        uuid        NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    status          text        NOT NULL
                                CHECK (status IN ('pending_upload', 'uploaded', 'processing', 'completed', 'failed')),
    previous_status text
                                CHECK (previous_status IN ('pending_upload', 'uploaded', 'processing', 'completed', 'failed')),
    -- Who made the change: api, reconciler, relay or detection.
    changed_by      text        NOT NULL,
    reason          text,
    at              timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX photo_status_history_photo_idx ON photo_status_history (photo_id, at, id);

CREATE TABLE idempotency_keys (
    user_id      uuid        NOT NULL,
    key          text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the canonical request body: the same key with another body is refused.
    request_hash text        NOT NULL,
    photo_id     uuid        NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    PRIMARY KEY (user_id, key)
);

CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- Events waiting for the relay. Rows are written only inside the API's business
-- transactions and deleted once delivered, so the table holds only undelivered events.
CREATE TABLE outbox_events (
    id              uuid        PRIMARY KEY,
    event_type      text        NOT NULL,
    aggregate_type  text        NOT NULL DEFAULT 'photo',
    aggregate_id    uuid        NOT NULL,
    -- The SQS message body, exactly as sent.
    payload         jsonb       NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When the event may next be claimed. A claim moves it to the end of the lease, so an
    -- event whose relay died becomes due again when its lease runs out.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    -- [{"attempt": n, "at": timestamp, "error": text}, ...], oldest first.
    error_history   jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(error_history) = 'array'),
    -- The current claim: which relay, the fencing token its ack must present, and until when.
    claimed_by      text,
    claim_token     uuid,
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- The relay's claim query: due events, oldest first.
CREATE INDEX outbox_events_due_idx ON outbox_events (next_attempt_at, created_at);
CREATE INDEX outbox_events_aggregate_idx ON outbox_events (aggregate_id);

-- Wake the relays when events commit. NOTIFY is delivered at commit and identical
-- notifications of one transaction are folded into one, so a statement-level trigger costs
-- one message per transaction and no writer can forget it.
CREATE FUNCTION outbox_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_events_notify_on_insert
    AFTER INSERT ON outbox_events
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_events_notify();

-- Events that exhausted RELAY_MAX_ATTEMPTS or were refused permanently by SQS.
CREATE TABLE outbox_dead_letters (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The original outbox_events.id; requeue reuses it, so consumers can deduplicate.
    event_id         uuid        NOT NULL UNIQUE,
    event_type       text        NOT NULL,
    aggregate_type   text        NOT NULL,
    aggregate_id     uuid        NOT NULL,
    payload          jsonb       NOT NULL,
    attempts         integer     NOT NULL,
    last_error       text,
    error_history    jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(error_history) = 'array'),
    created_at       timestamptz NOT NULL,
    dead_lettered_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX outbox_dead_letters_dead_lettered_idx ON outbox_dead_letters (dead_lettered_at);
CREATE INDEX outbox_dead_letters_event_type_idx ON outbox_dead_letters (event_type, dead_lettered_at);
