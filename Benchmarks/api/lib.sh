# Shared by Benchmarks/api/run.sh, Benchmarks/api/profile.sh and Benchmarks/scaling.sh (source it
# after scripts/lib.sh and Benchmarks/lib.sh, with RUN_DIR made and the cleanup traps installed).

# bench_start_api PHOTO_API_BIN MIGRATOR_BIN
# Starts a throwaway Postgres in RUN_DIR (Benchmarks/lib.sh bench_start_postgres:
# PHOTO_PG_DURABILITY says which settings), then bench_api_fixtures and bench_launch_api.
bench_start_api() {
    local api_bin=$1 migrator_bin=$2
    bench_start_postgres "$migrator_bin" || return 1
    bench_api_fixtures
    bench_launch_api "$api_bin"
}

# bench_api_fixtures
# Inserts one project into the migrated DATABASE_URL and mints HS256 tokens for users of its
# organization. Sets token and project_id. BENCH_USERS=N (default 1) mints tokens for N users
# into RUN_DIR/tokens.txt, one a line, which the wrk script takes in turn (the rate limit counts
# per user).
bench_api_fixtures() {
    local org_id user_id
    org_id=$(python3 -c 'import uuid; print(uuid.uuid4())')
    user_id=$(python3 -c 'import uuid; print(uuid.uuid4())')
    project_id=$(python3 -c 'import uuid; print(uuid.uuid4())')
    _bench_secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
    psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -c \
        "INSERT INTO projects (id, organization_id, name) VALUES ('$project_id', '$org_id', 'bench')" >/dev/null
    python3 - "$_bench_secret" "$user_id" "$org_id" "${BENCH_USERS:-1}" >"$RUN_DIR/tokens.txt" <<'PY'
import base64, hashlib, hmac, json, sys, time, uuid
secret, first_user, org, users = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
for sub in [first_user] + [str(uuid.uuid4()) for _ in range(users - 1)]:
    claims = b64(json.dumps({"sub": sub, "org_id": org, "exp": int(time.time()) + 3600}, separators=(",", ":")).encode())
    signature = b64(hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest())
    print(f"{header}.{claims}.{signature}")
PY
    token=$(head -n 1 "$RUN_DIR/tokens.txt")
}

# bench_launch_api PHOTO_API_BIN
# Starts photo-api on a free loopback port as the benchmarks run it (fake AWS credentials, no S3
# endpoint: pre-signing needs no server; LOG_LEVEL=warning; DATABASE_POOL_SIZE from the
# environment, else its default), after bench_api_fixtures. Sets url (the upload-url endpoint)
# and api_pid, and exports BENCH_TOKEN, BENCH_TOKENS_FILE and BENCH_PROJECT_ID for
# Benchmarks/api/upload_url.lua. BENCH_RATE_LIMIT (default 1000000, which no run reaches) is
# RATE_LIMIT_PER_MINUTE. Stop it with bench_stop_api before launching another.
bench_launch_api() {
    local api_bin=$1 api_port
    api_port=$(free_port 1)
    export HOST=127.0.0.1 PORT=$api_port JWT_HS256_SECRET=$_bench_secret RATE_LIMIT_PER_MINUTE=${BENCH_RATE_LIMIT:-1000000} LOG_LEVEL=warning \
        AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY AWS_REGION=us-east-1 \
        PHOTOS_BUCKET=photos-bench
    unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_SQS
    start_background photo-api "$RUN_DIR/api.log" "$api_bin"
    api_pid=$PHOTO_LAST_PID
    wait_http_200 "http://127.0.0.1:$api_port/readyz" 60 "$api_pid" "$RUN_DIR/api.log" || return 1
    url="http://127.0.0.1:$api_port/api/v1/photos/upload-url"
    export BENCH_TOKEN=$token BENCH_TOKENS_FILE=$RUN_DIR/tokens.txt BENCH_PROJECT_ID=$project_id
}

# bench_stop_api: SIGTERM to the photo-api bench_launch_api started, and waits (bounded) for it.
bench_stop_api() {
    kill -TERM "$api_pid" 2>/dev/null || return 0
    local waited=0
    while kill -0 "$api_pid" 2>/dev/null && ((waited < 100)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -0 "$api_pid" 2>/dev/null && kill -KILL "$api_pid" 2>/dev/null
    wait "$api_pid" 2>/dev/null || true
}
