#!/usr/bin/env bash
# The soak run, in one command (docs/benchmarks.md, "## Soak", says what it checks):
#
#   Benchmarks/soak.sh [options]
#
#   --minutes N     length of the load (default 10; a drain of up to 90 s follows)
#   --rate R        confirmations per second (default 5): each is upload-url, a PUT of a real
#                   JPEG or PNG to LocalStack S3, complete, GET and list; the fake pipeline adds
#                   a GET and a PATCH to completed per photo
#   --relays N      outbox-relay processes delivering to the sink (default 2)
#   --skip-build    use the release binaries already built
#
# Environment: BENCH_SCRATCH_PATH (default .build) is the swift build scratch path: release
# binaries come from $BENCH_SCRATCH_PATH/release. KEEP_RUN_DIR=1 keeps the throwaway Postgres
# and every process's log.
#
# Starts, on loopback only: a durable throwaway Postgres (migrated; expired idempotency keys
# seeded), LocalStack S3 with signature validation on, BenchSQSSink, the relays (their SQS
# endpoint is the sink) and photo-api; then Benchmarks/soak.py drives the load, plays the
# detection pipeline, samples every few seconds and checks. Everything stops on exit. Results:
# Benchmarks/results/soak-latest.md, soak-latest.json, soak-samples.csv and soak-*.png.
# Exit status 0 when every check passed, 1 when one failed, other non-zero on errors.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

minutes=10
rate=5
relays=2
skip_build=0
command_line="Benchmarks/soak.sh${*:+ $*}"
while (($#)); do
    case $1 in
        --minutes | --rate | --relays)
            (($# >= 2)) || { photo_err "$1 needs a value"; exit 2; }
            [[ $2 =~ ^[0-9]+([.][0-9]+)?$ && $2 != 0 ]] || { photo_err "$1 needs a positive number, got '$2'"; exit 2; }
            case $1 in
                --minutes) minutes=$2 ;;
                --rate) rate=$2 ;;
                --relays) relays=$2 ;;
            esac
            shift
            ;;
        --skip-build) skip_build=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            photo_err "unknown option $1"
            usage >&2
            exit 2
            ;;
    esac
    shift
done
[[ $relays =~ ^[1-9][0-9]?$ ]] || { photo_err "--relays needs a whole number from 1 to 99"; exit 2; }

ensure_prereqs --localstack

# The driver's Python side: Benchmarks/.venv (psycopg 3, and matplotlib with Pillow, which makes
# the generated images).
python=$(bench_python)

bench_release_build "${BENCH_SCRATCH_PATH:-.build}" "$skip_build" photo-api outbox-relay migrator BenchSQSSink

make_run_dir
install_cleanup_traps
bench_set_durability 0
bench_start_postgres "$bin_dir/migrator"

# A project, user tokens, the pipeline's service token, and the expired idempotency keys, all
# before photo-api (and so its reconciler) starts.
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
project_id=$("$python" Benchmarks/soak.py setup --database-url "$DATABASE_URL" --secret "$secret" \
    --token-seconds "$(python3 -c "print(int($minutes * 60 + 3600))")" --out-dir "$RUN_DIR")

start_localstack "$RUN_DIR"
create_bucket_and_queue photos-soak soak-unused >/dev/null
s3_endpoint=$AWS_ENDPOINT_URL

sink_port=$(free_port 1)
start_background sink "$RUN_DIR/sink.log" "$bin_dir/BenchSQSSink" --host 127.0.0.1 --port "$sink_port" --record-photos
sink_pid=$PHOTO_LAST_PID
wait_http_200 "http://127.0.0.1:$sink_port/stats" 30 "$sink_pid" "$RUN_DIR/sink.log"

# The sink keeps every message it received (the delivery check needs them), so its RSS grows
# with the run by design: only its fds are checked.
# Sockets a process may add after warm-up: its libcurl pool (one keep-alive connection per request
# in flight, up to 16 in photo-api's S3 client and in each relay's SQS client) fills up when a burst
# of CPU contention makes requests overlap; a leak of one socket per request or photo would pass
# that within seconds at the soak's rate.
proc_args=(--fds-proc "sink=$sink_pid" --socket-allowance "sink=$((16 * relays))" --socket-allowance photo-api=16)
for ((i = 1; i <= relays; i++)); do
    metrics_port=$(free_port 1)
    start_background "relay-$i" "$RUN_DIR/relay-$i.log" env -u AWS_ENDPOINT_URL \
        DETECTION_QUEUE_URL="http://127.0.0.1:$sink_port/000000000000/soak" \
        AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$sink_port" \
        AWS_ACCESS_KEY_ID=soak AWS_SECRET_ACCESS_KEY=soak AWS_REGION=us-east-1 \
        RELAY_METRICS_HOST=127.0.0.1 RELAY_METRICS_PORT="$metrics_port" LOG_LEVEL=info \
        "$bin_dir/outbox-relay" run
    relay_pid=$PHOTO_LAST_PID
    wait_http_200 "http://127.0.0.1:$metrics_port/readyz" 60 "$relay_pid" "$RUN_DIR/relay-$i.log"
    proc_args+=(--proc "relay-$i=$relay_pid" --socket-allowance "relay-$i=16")
done

api_port=$(free_port 1)
start_background photo-api "$RUN_DIR/api.log" env HOST=127.0.0.1 PORT="$api_port" JWT_HS256_SECRET="$secret" \
    LOG_LEVEL=info AWS_ENDPOINT_URL="$s3_endpoint" PHOTOS_BUCKET="$PHOTOS_BUCKET" \
    "$bin_dir/photo-api"
api_pid=$PHOTO_LAST_PID
wait_http_200 "http://127.0.0.1:$api_port/readyz" 60 "$api_pid" "$RUN_DIR/api.log"
proc_args=(--proc "photo-api=$api_pid" "${proc_args[@]}")
photo_log "photo-api on 127.0.0.1:$api_port, $relays relay(s) and the sink on 127.0.0.1:$sink_port, S3 $s3_endpoint"

status=0
"$python" Benchmarks/soak.py run \
    --api "http://127.0.0.1:$api_port" --sink "http://127.0.0.1:$sink_port" --s3 "$s3_endpoint" \
    --database-url "$DATABASE_URL" --project "$project_id" --run-dir "$RUN_DIR" \
    --minutes "$minutes" --rate "$rate" --relays "$relays" "${proc_args[@]}" \
    --info-proc "localstack=$_PHOTO_LS_PID" \
    --commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Benchmarks/SQSSink Package.swift || echo '+changes')" \
    --command-line "$command_line" || status=$?
for log in "$RUN_DIR"/api.log "$RUN_DIR"/relay-*.log; do
    errors=$(grep -c '"level":"error"' "$log" || true)
    ((errors == 0)) || photo_log "$(basename "$log"): $errors error lines (KEEP_RUN_DIR=1 keeps it)"
done
exit "$status"
