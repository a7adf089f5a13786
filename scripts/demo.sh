#!/usr/bin/env bash
# A walk through the running stack, as numbered steps; each step is one function
# listed in STEPS, so the demo grows by adding a function and a line.
#
#   scripts/demo.sh
#
# Needs the variables scripts/stack.sh exports (from another terminal:
# `source RUN_DIR/stack.env` first): PHOTO_API_URL, RELAY_METRICS_URL,
# MIGRATOR_BIN, DATABASE_URL. Stops at the first failing step, exit status 1.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

: "${PHOTO_API_URL:?PHOTO_API_URL is not set: run scripts/stack.sh, or source its stack.env}"
: "${RELAY_METRICS_URL:?RELAY_METRICS_URL is not set: run scripts/stack.sh, or source its stack.env}"
: "${MIGRATOR_BIN:?MIGRATOR_BIN is not set: run scripts/stack.sh, or source its stack.env}"
: "${DATABASE_URL:?DATABASE_URL is not set: run scripts/stack.sh, or source its stack.env}"

# GET URL: prints the status and (the start of) the body; fails unless 200.
http_get_200() {
    local url=$1 body code
    body=$(mktemp)
    code=$(curl -sS -o "$body" -w '%{http_code}' --max-time 10 "$url") || code=000
    printf '  GET %s -> %s\n' "$url" "$code"
    head -c 2000 "$body" | sed 's/^/    /'
    printf '\n'
    rm -f "$body"
    if [[ $code != 200 ]]; then
        printf '  expected 200\n' >&2
        return 1
    fi
}

step_api_health() {
    http_get_200 "$PHOTO_API_URL/healthz"
    http_get_200 "$PHOTO_API_URL/readyz"
}

step_relay_health() {
    http_get_200 "$RELAY_METRICS_URL/healthz"
    http_get_200 "$RELAY_METRICS_URL/readyz"
}

step_migrations() {
    local out
    out=$("$MIGRATOR_BIN" status --dir sql)
    printf '%s\n' "$out" | sed 's/^/    /'
    # The stack applied every migration, so no version line may say pending.
    if printf '%s\n' "$out" | grep -Eq '^[[:space:]]*[0-9]{4}\b.*\bpending\b'; then
        printf '  migrations are still pending\n' >&2
        return 1
    fi
}

# Commits what photo-api's confirmation will commit (an uploaded photo and its
# photo.uploaded event, in one transaction; until the upload endpoints exist the
# demo writes them with psql), then waits for the relay to deliver the event to
# SQS and move the photo to processing, and reads the message off the queue.
step_relay_delivery() {
    : "${DETECTION_QUEUE_URL:?}" "${PHOTO_VENV_PYTHON:?}" "${AWS_ENDPOINT_URL:?}"
    local photo_id status="" i
    photo_id=$(psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
INSERT INTO projects (id, organization_id, name)
VALUES ('00000000-0000-4000-8000-00000000de00', gen_random_uuid(), 'demo site')
ON CONFLICT (id) DO NOTHING;
WITH photo AS (
    INSERT INTO photos (id, project_id, user_id, file_name, mime_type, file_size, s3_bucket, s3_key,
        status, upload_expires_at, uploaded_at)
    SELECT id, '00000000-0000-4000-8000-00000000de00', gen_random_uuid(), 'roof.jpg', 'image/jpeg',
        2048, 'companycam-photos-development', 'demo/' || id || '.jpg', 'uploaded', now(), now()
    FROM (SELECT gen_random_uuid() AS id) AS new
    RETURNING id, s3_bucket, s3_key
), event AS (
    INSERT INTO outbox_events (id, event_type, aggregate_id, payload)
    SELECT gen_random_uuid(), 'photo.uploaded', id,
        jsonb_build_object('photo_id', id, 's3_url', 's3://' || s3_bucket || '/' || s3_key,
            'detection_types', jsonb_build_array('damage', 'material'), 'priority', 'normal')
    FROM photo
)
SELECT id FROM photo;
COMMIT;
SQL
    )
    printf '  committed photo %s (uploaded) with its photo.uploaded outbox event\n' "$photo_id"
    for i in $(seq 1 50); do
        status=$(psql "$DATABASE_URL" -qAt -c "SELECT status FROM photos WHERE id = '$photo_id'")
        [[ $status == processing ]] && break
        sleep 0.1
    done
    printf '  photo status after delivery: %s\n' "$status"
    [[ $status == processing ]] || { printf '  the relay did not deliver the event\n' >&2; return 1; }
    "$PHOTO_VENV_PYTHON" - "$photo_id" <<'PY'
import json, os, sys, boto3
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "us-east-1"))
url = os.environ["DETECTION_QUEUE_URL"]
for _ in range(10):
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                       WaitTimeSeconds=1).get("Messages", []):
        body = json.loads(message["Body"])
        if body.get("photo_id") == sys.argv[1]:
            attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
            print("  message on the queue:", json.dumps(body, sort_keys=True))
            print("  attributes:", json.dumps(attributes, sort_keys=True))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            sys.exit(0)
print("  the message did not arrive on the queue", file=sys.stderr)
sys.exit(1)
PY
}

# "title|function", in order.
STEPS=(
    "The API is alive and ready (GET /healthz, /readyz)|step_api_health"
    "The outbox relay is alive and ready (GET /healthz, /readyz)|step_relay_health"
    "Every migration is applied (migrator status)|step_migrations"
    "The relay delivers a committed outbox event to SQS and the photo moves to processing|step_relay_delivery"
)

# Steps run as plain commands (not inside `if`), so `set -e` applies within
# them; the EXIT trap names the step that stopped the demo.
current=0
trap 'status=$?; if ((status != 0 && current > 0)); then printf "\ndemo: step %d failed\n" "$current" >&2; fi' EXIT
for entry in "${STEPS[@]}"; do
    current=$((current + 1))
    printf '\n[%d/%d] %s\n' "$current" "${#STEPS[@]}" "${entry%%|*}"
    "${entry##*|}"
done
current=0
printf '\ndemo: all %d steps succeeded\n' "${#STEPS[@]}"
