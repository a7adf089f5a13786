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

# "title|function", in order.
STEPS=(
    "The API is alive and ready (GET /healthz, /readyz)|step_api_health"
    "The outbox relay is alive and ready (GET /healthz, /readyz)|step_relay_health"
    "Every migration is applied (migrator status)|step_migrations"
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
