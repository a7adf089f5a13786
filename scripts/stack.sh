#!/usr/bin/env bash
# README command 1: bring up the whole stack locally and run the demo.
#
#   scripts/stack.sh [--no-wait] [--skip-build] [--use-aws-env]
#
# Builds (debug), starts a throwaway Postgres and LocalStack (S3 + SQS), creates
# the bucket and the detection queue, applies the migrations, starts photo-api
# and outbox-relay, prints where everything is and runs scripts/demo.sh.
# Then the stack stays up until Ctrl-C; with --no-wait (CI) it stops right after
# the demo. Everything is stopped and the run directory (logs included) removed
# on exit; KEEP_RUN_DIR=1 keeps it. --skip-build uses the binaries already in .build/debug;
# --use-aws-env starts no LocalStack and uses the S3/SQS endpoint, bucket and queue already in
# AWS_ENDPOINT_URL, PHOTOS_BUCKET and DETECTION_QUEUE_URL (scripts/check-aws-template.sh: the
# ones its CloudFormation stack created).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# Development-only HS256 secret (40 characters: jwt-kit needs at least 32 bytes).
# It is public in this repository, so it must never be configured anywhere real.
DEV_ONLY_JWT_HS256_SECRET=dev-only-insecure-hs256-secret-000000000

wait_for_ctrl_c=1
skip_build=0
use_aws_env=0
while (($#)); do
    case $1 in
        --no-wait) wait_for_ctrl_c=0 ;;
        --skip-build) skip_build=1 ;;
        --use-aws-env) use_aws_env=1 ;;
        -h | --help)
            sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            photo_err "unknown option $1 (see --help)"
            exit 2
            ;;
    esac
    shift
done

ensure_prereqs --localstack

if ((!skip_build)); then
    photo_log "swift build (debug)"
    scripts/stamp-build.sh
    swift build
fi
bin_dir="$repo_root/.build/debug"
for exe in migrator photo-api outbox-relay; do
    if [[ ! -x $bin_dir/$exe ]]; then
        photo_err "$bin_dir/$exe was not built (is it a product in Package.swift?)"
        exit 1
    fi
done

make_run_dir
install_cleanup_traps
start_postgres "$RUN_DIR"
if ((use_aws_env)); then
    : "${AWS_ENDPOINT_URL:?--use-aws-env needs AWS_ENDPOINT_URL}" "${PHOTOS_BUCKET:?--use-aws-env needs PHOTOS_BUCKET}"
    : "${DETECTION_QUEUE_URL:?--use-aws-env needs DETECTION_QUEUE_URL}"
    photo_log "bucket $PHOTOS_BUCKET, queue $DETECTION_QUEUE_URL on $AWS_ENDPOINT_URL (--use-aws-env)"
else
    start_localstack "$RUN_DIR"
    create_bucket_and_queue companycam-photos-development detection-requests
fi

photo_log "migrator up --dir sql"
"$bin_dir/migrator" up --dir sql

mapfile -t ports < <(free_port 2)
api_port=${ports[0]}
relay_port=${ports[1]}
api_log="$RUN_DIR/photo-api.log"
relay_log="$RUN_DIR/outbox-relay.log"

export APP_ENV=development
export JWT_HS256_SECRET=$DEV_ONLY_JWT_HS256_SECRET
# DATABASE_URL, PHOTOS_BUCKET, AWS_* and DETECTION_QUEUE_URL are already exported
# by the helpers above; HOST/PORT and RELAY_METRICS_PORT go to their process only.
start_background photo-api "$api_log" \
    env HOST=127.0.0.1 PORT="$api_port" "$bin_dir/photo-api"
api_pid=$PHOTO_LAST_PID
start_background outbox-relay "$relay_log" \
    env RELAY_METRICS_PORT="$relay_port" "$bin_dir/outbox-relay" run
relay_pid=$PHOTO_LAST_PID

export PHOTO_API_URL="http://127.0.0.1:$api_port"
export RELAY_METRICS_URL="http://127.0.0.1:$relay_port"
export MIGRATOR_BIN="$bin_dir/migrator"
export PHOTO_API_BIN="$bin_dir/photo-api"
export OUTBOX_RELAY_BIN="$bin_dir/outbox-relay"

wait_http_200 "$PHOTO_API_URL/readyz" 60 "$api_pid" "$api_log"
wait_http_200 "$RELAY_METRICS_URL/readyz" 60 "$relay_pid" "$relay_log"

# The same settings for a second terminal: `source RUN_DIR/stack.env`, then e.g.
# scripts/demo.sh or "$MIGRATOR_BIN" status.
env_file="$RUN_DIR/stack.env"
for name in APP_ENV DATABASE_URL PHOTOS_BUCKET DETECTION_QUEUE_URL AWS_ENDPOINT_URL \
    AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION JWT_HS256_SECRET \
    PHOTO_API_URL RELAY_METRICS_URL MIGRATOR_BIN PHOTO_API_BIN OUTBOX_RELAY_BIN PHOTO_VENV_PYTHON; do
    printf 'export %s=%q\n' "$name" "${!name}"
done >"$env_file"

cat <<EOF

The photo upload stack is up (run directory $RUN_DIR)
  API            $PHOTO_API_URL
  relay metrics  $RELAY_METRICS_URL/metrics
  Postgres       $DATABASE_URL
  S3 / SQS       $AWS_ENDPOINT_URL   (LocalStack, credentials test/test, $AWS_REGION)
  bucket         $PHOTOS_BUCKET
  queue          $DETECTION_QUEUE_URL
  logs           $api_log
                 $relay_log
                 $RUN_DIR/pg.log
                 $RUN_DIR/localstack.log
  environment    source $env_file

EOF

if ! scripts/demo.sh; then
    photo_err "the demo failed"
    photo_log_tail "$api_log"
    photo_log_tail "$relay_log"
    exit 1
fi

if ! scripts/readme-try-it.sh "$RUN_DIR"; then
    photo_err "the README's example failed"
    photo_log_tail "$api_log"
    exit 1
fi

if ((!wait_for_ctrl_c)); then
    photo_log "--no-wait: stopping the stack"
    exit 0
fi

# Ctrl-C is the normal way to stop here, so it exits 0 (cleanup runs on EXIT).
trap 'echo; photo_log "stopping the stack"; exit 0' INT
photo_log "stack running; press Ctrl-C to stop it"
# Returns when one of the services exits (or a trapped signal arrives).
status=0
wait -n "$api_pid" "$relay_pid" || status=$?
photo_err "a service exited on its own (status $status)"
photo_log_tail "$api_log"
photo_log_tail "$relay_log"
exit 1
