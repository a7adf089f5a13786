#!/usr/bin/env bash
# Runs schemathesis against a running photo-api, using the API's own /openapi.yaml.
#
#   scripts/schemathesis.sh BASE_URL TOKEN [extra schemathesis options...]
#   scripts/schemathesis.sh http://127.0.0.1:8080 "$(mint-a-token)"
#
# TOKEN is a bearer JWT the API accepts; SCHEMATHESIS_PROJECT_ID, when set, is a project its
# organization owns, used as every `project_id` path parameter (so that listing gets past
# 403/404); SCHEMATHESIS_PHOTO_ID likewise a photo of it, used as every `photo_id` (so that
# reads, confirmations and status changes reach a real photo). Give the token the scope
# `photos:status:write` so that status changes get past 403.
# Optional: SCHEMATHESIS_MAX_EXAMPLES (20), SCHEMATHESIS_SEED (42), SCHEMATHESIS_REPORT_DIR.
#
# schemathesis comes from the venv scripts/test.sh installs
# ($HOME/.cache/photo-upload/schemathesis-venv, or SCHEMATHESIS_VENV); this script installs
# nothing. Exit status: schemathesis's (0 when every check passed).
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 BASE_URL TOKEN [schemathesis options...]" >&2
    exit 2
fi
base_url="${1%/}"
token="$2"
shift 2

venv="${SCHEMATHESIS_VENV:-$HOME/.cache/photo-upload/schemathesis-venv}"
schemathesis="$venv/bin/schemathesis"
if [[ ! -x "$schemathesis" ]]; then
    echo "$0: schemathesis is not installed at $venv; run scripts/test.sh (it installs it)" >&2
    exit 3
fi

# No telemetry, no colours in logs, no writes into the working tree.
export SCHEMATHESIS_TELEMETRY=false NO_COLOR=1
report_dir="${SCHEMATHESIS_REPORT_DIR:-$(mktemp -d)}"
mkdir -p "$report_dir"

# Every check runs (schemathesis's default when the CLI names none), with these exceptions:
# - a declared `file_size` over the maximum is rightly 413 `file_too_large` (contract), which
#   schemathesis does not count as a rejection by default;
# - `cursor` is opaque: a well-formed value the API did not issue is rightly 400, so
#   "schema-valid data must be accepted" cannot hold for the list operation;
# - an `Idempotency-Key` schemathesis already used with another body is rightly 422
#   `idempotency_key_reused`, whatever the new body.
config="$report_dir/schemathesis.toml"
cat >"$config" <<'TOML'
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5XX"]

[[operations]]
include-operation-id = "listProjectPhotos"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-operation-id = "createUploadURL"
checks.positive_data_acceptance.expected-statuses = ["2XX", "3XX", 401, 403, 404, 409, 422, 429, "5XX"]

# A valid confirmation of a photo whose object is not in S3 (or whose S3 is down) is rightly
# 409/422/503; a valid status change the lifecycle does not allow from the current status is
# rightly 409.
[[operations]]
include-operation-id = "completeUpload"
checks.positive_data_acceptance.expected-statuses = ["2XX", 404, 409, 422, 503]

[[operations]]
include-operation-id = "updatePhotoStatus"
checks.positive_data_acceptance.expected-statuses = ["2XX", 404, 409]
TOML
# A project the token's organization owns, so that the list operation also answers 200.
if [[ -n "${SCHEMATHESIS_PROJECT_ID:-}" ]]; then
    printf '\n[parameters]\n"path.project_id" = "%s"\n' "$SCHEMATHESIS_PROJECT_ID" >>"$config"
fi
if [[ -n "${SCHEMATHESIS_PHOTO_ID:-}" ]]; then
    [[ -n "${SCHEMATHESIS_PROJECT_ID:-}" ]] || printf '\n[parameters]\n' >>"$config"
    printf '"path.photo_id" = "%s"\n' "$SCHEMATHESIS_PHOTO_ID" >>"$config"
fi

exec "$schemathesis" --config-file "$config" run "$base_url/openapi.yaml" \
    --url "$base_url" \
    --header "Authorization: Bearer $token" \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-20}" \
    --seed "${SCHEMATHESIS_SEED:-42}" \
    --workers 1 \
    --report-dir "$report_dir" \
    "$@"
