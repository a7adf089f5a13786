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

# The whole client flow with docs/examples/upload.mjs (Node's fetch): an upload URL, the PUT
# to S3 with the signed headers, the confirmation with dimensions and EXIF, and the status
# moving to processing once the relay published the detection request; then the message is
# read off the queue.
step_client_flow() {
    : "${DETECTION_QUEUE_URL:?}" "${PHOTO_VENV_PYTHON:?}" "${AWS_ENDPOINT_URL:?}" "${JWT_HS256_SECRET:?}"
    local organization=00000000-0000-4000-8000-0000000000a1
    local project=00000000-0000-4000-8000-00000000de00
    local sample=Tests/ImageInspectionTests/Fixtures/iphone4s-gps-orientation6.jpg
    local token output photo_id
    psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -c \
        "INSERT INTO projects (id, organization_id, name) VALUES ('$project', '$organization', 'demo site')
         ON CONFLICT (id) DO NOTHING" >/dev/null
    printf '  project %s (organization %s), photo %s\n' "$project" "$organization" "$sample"
    token=$(node scripts/dev-token.mjs --org "$organization")
    output=$(PHOTO_API_TOKEN=$token node docs/examples/upload.mjs --api "$PHOTO_API_URL" \
        --project "$project" --file "$sample" --wait-for processing) || {
        printf '%s\n' "$output" | sed 's/^/  /'
        return 1
    }
    printf '%s\n' "$output" | sed '$d' | sed 's/^/  /'
    photo_id=$(printf '%s\n' "$output" | tail -n 1 | "$PHOTO_VENV_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["id"])')
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
            print("  5. message on the queue:", json.dumps(body, sort_keys=True))
            print("     attributes:", json.dumps(attributes, sort_keys=True))
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
    "A client uploads a photo: URL, PUT to S3, confirmation with EXIF, detection message on the queue|step_client_flow"
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
