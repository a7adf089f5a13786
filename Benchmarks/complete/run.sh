#!/usr/bin/env bash
# The `complete` benchmark, in one command (docs/benchmarks.md, "## complete"):
#
#   Benchmarks/complete/run.sh [--skip-build] [--duration S] [--warmup S] [--connections N]
#                              [--latency-rate R] [--latency-seconds S] [--no-profile]
#                              [--no-latency] [--no-reference] [--callgrind N]
#
# 1. Release builds (scratch path BENCH_SCRATCH_PATH, default .build-bench) of photo-api,
#    migrator, outbox-relay, BenchSQSSink and BenchS3Stub; --skip-build reuses them.
# 2. A durable throwaway Postgres (PHOTO_PG_DURABILITY=durable: fsync, synchronous_commit and
#    full_page_writes at Postgres's defaults), migrated; one project; pending photos as upload-url
#    writes them (row + pending_upload history row), one set per phase; their objects in
#    BenchS3Stub (Benchmarks/S3Stub: HEAD and ranged GET from memory), a mix of the sample images
#    padded to camera-photo sizes (Benchmarks/complete/prepare.py).
# 3. Throughput, closed loop: wrk -t2 -cN (N = 64) for --duration (15) seconds after --warmup (3),
#    Benchmarks/complete/complete.lua (every request completes another pending photo), against
#    (a) photo-api pointed at the stub and (b) the reference (Benchmarks/reference_complete:
#    FastAPI/uvicorn with 2 workers, boto3, Pillow, psycopg 3) in the same run: requests/s,
#    p50/p99, errors (must be 0; a run that runs out of photos is refused), the outbox rows
#    written (must equal the confirmations), CPU ms per confirmation of the server, Postgres,
#    the stub and wrk (Benchmarks/api/cpu_during.py), and the share of the machine other
#    processes took meanwhile.
# 4. Unless --no-profile: a further 5 s wrk run of photo-api under `perf record -e cpu-clock -g`,
#    summarised by library and area (Benchmarks/complete/profile_summary.py).
# 4b. With --callgrind N: instructions per confirmation, stable on a noisy machine: a second
#    photo-api (its debug information stripped: valgrind 3.19 cannot read Swift 6.3's DWARF) under
#    valgrind --tool=callgrind, collecting only while N photos are completed at 20/s after 50
#    uncounted ones; Ir / N, and the functions with most instructions (callgrind_annotate).
#    Off by default: valgrind 3.19 (Debian 12) itself crashes (SIGSEGV) starting photo-api, so the
#    phase is skipped with a message when valgrind exits early.
# 5. End to end, unless --no-latency: photo-api + outbox-relay delivering to BenchSQSSink;
#    Benchmarks/complete/open_loop.py sends --latency-rate (200) completes/s for
#    --latency-seconds (20) on a fixed schedule; latency = the sink's first arrival of the
#    photo's event - the time the client had read the complete response. Every confirmation's
#    message must arrive (30 s grace).
#
# Results: Benchmarks/results/complete-latest.md and complete-latest.json. KEEP_RUN_DIR=1 keeps
# the logs. Exit status 0 when every phase ran without errors (targets are reported, not
# enforced), 1 otherwise.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
# shellcheck source=Benchmarks/api/lib.sh
source Benchmarks/api/lib.sh

skip_build=0 duration=15 warmup=3 connections=64 latency_rate=200 latency_seconds=20
profile=1 latency=1 reference=1 callgrind=0
command_line="Benchmarks/complete/run.sh${*:+ $*}"
while (($#)); do
    case $1 in
        --skip-build) skip_build=1 ;;
        --duration) duration=${2:?}; shift ;;
        --warmup) warmup=${2:?}; shift ;;
        --connections) connections=${2:?}; shift ;;
        --latency-rate) latency_rate=${2:?}; shift ;;
        --latency-seconds) latency_seconds=${2:?}; shift ;;
        --no-profile) profile=0 ;;
        --no-latency) latency=0 ;;
        --no-reference) reference=0 ;;
        --callgrind) callgrind=${2:?}; shift ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) photo_err "unknown option $1"; exit 2 ;;
    esac
    shift
done
bench_set_durability 0 # durable: Postgres's defaults

command -v wrk >/dev/null || { photo_err "wrk is required (apt-get install wrk)"; exit 1; }
if ((profile)) && ! command -v perf >/dev/null; then photo_err "perf is required for the profile (or --no-profile)"; exit 1; fi

# The venv of the reference and the latency client (git ignores .venv*/).
venv=Benchmarks/.venv-complete
if ! "$venv/bin/python" -c 'import fastapi, uvicorn, boto3, PIL, psycopg, psycopg_pool' 2>/dev/null; then
    photo_log "creating $venv (Benchmarks/reference_complete/requirements.txt)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r Benchmarks/reference_complete/requirements.txt
fi
python=$venv/bin/python

scratch=${BENCH_SCRATCH_PATH:-.build-bench}
products=(photo-api migrator outbox-relay BenchSQSSink BenchS3Stub)
if ((!skip_build)); then
    for product in "${products[@]}"; do
        photo_log "swift build -c release --product $product (scratch path $scratch)"
        timeout 3600 swift build -c release --scratch-path "$scratch" --product "$product" >/tmp/bench-complete-build.log 2>&1 || {
            photo_err "release build of $product failed"; photo_log_tail /tmp/bench-complete-build.log 60; exit 1; }
    done
fi
bin_dir=${BENCH_BIN_DIR:-$repo_root/$scratch/release}
for product in "${products[@]}"; do
    [[ -x $bin_dir/$product ]] || { photo_err "no $bin_dir/$product"; exit 1; }
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
make_run_dir
install_cleanup_traps
bench_start_postgres "$bin_dir/migrator"
bench_api_fixtures # one project, HS256 tokens: token, project_id, _bench_secret
BENCH_USER_ID=$(python3 -c 'import base64, json, sys
claims = sys.argv[1].split(".")[1]
print(json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["sub"])' "$token")
postmaster_pid=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
bucket=photos-bench

# --- objects and pending photos ---
# Enough photos for a fast photo-api (4,000/s) and reference (600/s); a phase that runs out
# reports it and fails.
sets=("warm-ours=$((warmup * 4000 + 1000))" "ours=$((duration * 4000 + 1000))" "profile=21000"
    "latency=$((latency_rate * latency_seconds + 100))" "callgrind-warm=60" "callgrind=$((callgrind + 10))")
((reference)) && sets+=("warm-reference=$((warmup * 600 + 500))" "reference=$((duration * 600 + 500))")
photo_log "preparing objects and pending photos (${sets[*]})"
python3 Benchmarks/complete/prepare.py "$RUN_DIR" "$project_id" "$BENCH_USER_ID" "$bucket" "${sets[@]}"
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q <<SQL >/dev/null
\copy photos (id, project_id, user_id, file_name, mime_type, file_size, s3_bucket, s3_key, upload_expires_at) FROM '$RUN_DIR/photos.csv' WITH (FORMAT csv)
INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by)
    SELECT id, 'pending_upload', NULL, 'api' FROM photos;
SQL
psql "$DATABASE_URL" -q -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >/dev/null
photos_seeded=$(psql "$DATABASE_URL" -At -c "SELECT count(*) FROM photos WHERE status = 'pending_upload'")
photo_log "$photos_seeded pending photos"

stub_port=$(free_port 1)
start_background s3-stub "$RUN_DIR/stub.log" "$bin_dir/BenchS3Stub" --port "$stub_port" --manifest "$RUN_DIR/manifest.tsv"
stub_pid=$PHOTO_LAST_PID
first_key=$(head -n 1 "$RUN_DIR/manifest.tsv" | cut -f1)
wait_http_200 "http://127.0.0.1:$stub_port/$bucket/$first_key" 60 "$stub_pid" "$RUN_DIR/stub.log"

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$stub_port
unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SQS

# --- photo-api, pointed at the stub ---
api_port=$(free_port 1)
HOST=127.0.0.1 PORT=$api_port JWT_HS256_SECRET=$_bench_secret LOG_LEVEL=warning PHOTOS_BUCKET=$bucket \
    RATE_LIMIT_PER_MINUTE=1000000 COMPLETE_RATE_LIMIT_PER_MINUTE=1000000 RECONCILE_ENABLED=false \
    start_background photo-api "$RUN_DIR/api.log" "$bin_dir/photo-api"
api_pid=$PHOTO_LAST_PID
wait_http_200 "http://127.0.0.1:$api_port/readyz" 60 "$api_pid" "$RUN_DIR/api.log"

# closed_loop KIND PORT PIDS: warm-up, then the measured wrk run with the CPU accounting.
closed_loop() {
    local kind=$1 port=$2 pids=$3
    photo_log "$kind: warm-up, wrk -t2 -c$connections -d${warmup}s"
    BENCH_TOKEN=$token BENCH_IDS_FILE=$RUN_DIR/ids-warm-$kind.txt BENCH_WRK_THREADS=2 \
        timeout $((warmup + 60)) wrk -t2 -c"$connections" -d"${warmup}s" -s Benchmarks/complete/complete.lua \
        "http://127.0.0.1:$port" >"$RUN_DIR/wrk-warm-$kind.txt" 2>&1
    photo_log "$kind: measuring, wrk -t2 -c$connections -d${duration}s"
    BENCH_TOKEN=$token BENCH_IDS_FILE=$RUN_DIR/ids-$kind.txt BENCH_WRK_THREADS=2 CPU_EXTRA_PIDS=stub:$stub_pid \
        timeout $((duration + 60)) "$python" Benchmarks/api/cpu_during.py "$pids" "$postmaster_pid" "$RUN_DIR/cpu-$kind.json" \
        wrk -t2 -c"$connections" -d"${duration}s" --latency -s Benchmarks/complete/complete.lua "http://127.0.0.1:$port" \
        >"$RUN_DIR/wrk-$kind.txt" 2>"$RUN_DIR/wrk-$kind.err"
    # The measured set's photos now confirmed, and their outbox rows (requests still in flight
    # when wrk stopped finish meanwhile): one row per confirmed photo, at least one per 2xx.
    sleep 2
    psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -At -F' ' >"$RUN_DIR/outbox-$kind.txt" <<SQL
CREATE TEMP TABLE measured (id uuid);
\copy measured FROM '$RUN_DIR/ids-$kind.txt'
SELECT count(*) FILTER (WHERE p.status = 'uploaded'),
       (SELECT count(*) FROM outbox_events o JOIN measured m ON o.aggregate_id = m.id)
    FROM photos p JOIN measured m ON p.id = m.id;
SQL
    cat "$RUN_DIR/wrk-$kind.txt" >&2
}

closed_loop ours "$api_port" "$api_pid"
psql "$DATABASE_URL" -At -c "SELECT payload::text FROM outbox_events LIMIT 1" >"$RUN_DIR/payload-ours.txt"

if ((profile)); then
    photo_log "ours: profiling, perf record -e cpu-clock -g, wrk 5 s"
    BENCH_TOKEN=$token BENCH_IDS_FILE=$RUN_DIR/ids-profile.txt BENCH_WRK_THREADS=2 PERF_RECORD=$RUN_DIR/perf.data \
        timeout 120 "$python" Benchmarks/api/cpu_during.py "$api_pid" "$postmaster_pid" "$RUN_DIR/cpu-profile.json" \
        wrk -t2 -c"$connections" -d5s -s Benchmarks/complete/complete.lua "http://127.0.0.1:$api_port" \
        >"$RUN_DIR/wrk-profile.txt" 2>&1
    python3 Benchmarks/complete/profile_summary.py "$RUN_DIR/perf.data" >"$RUN_DIR/profile.json" 2>"$RUN_DIR/profile.err" || {
        photo_err "perf summary failed"; photo_log_tail "$RUN_DIR/profile.err"; }
fi

if ((callgrind)); then
    command -v valgrind >/dev/null || { photo_err "valgrind is required for --callgrind (or --callgrind 0)"; exit 1; }
    objcopy --strip-debug "$bin_dir/photo-api" "$RUN_DIR/photo-api-nodebug"
    cg_port=$(free_port 1)
    HOST=127.0.0.1 PORT=$cg_port JWT_HS256_SECRET=$_bench_secret LOG_LEVEL=warning PHOTOS_BUCKET=$bucket \
        RATE_LIMIT_PER_MINUTE=1000000 COMPLETE_RATE_LIMIT_PER_MINUTE=1000000 RECONCILE_ENABLED=false \
        start_background photo-api-callgrind "$RUN_DIR/callgrind.log" valgrind --tool=callgrind --collect-atstart=no \
        --callgrind-out-file="$RUN_DIR/callgrind.out" "$RUN_DIR/photo-api-nodebug"
    cg_pid=$PHOTO_LAST_PID
    photo_log "callgrind: photo-api under valgrind (pid $cg_pid), waiting for /readyz"
    if ! wait_http_200 "http://127.0.0.1:$cg_port/readyz" 300 "$cg_pid" "$RUN_DIR/callgrind.log"; then
        photo_err "photo-api under valgrind did not start (above): no instruction counts in this run"
        callgrind=0
    fi
fi
if ((callgrind)); then
    "$python" Benchmarks/complete/open_loop.py --port "$cg_port" --token "$token" --ids "$RUN_DIR/ids-callgrind-warm.txt" \
        --rate 20 --seconds 2.5 --out "$RUN_DIR/callgrind-warm.json"
    callgrind_control -i on "$cg_pid" >/dev/null
    photo_log "callgrind: $callgrind confirmations at 20/s"
    "$python" Benchmarks/complete/open_loop.py --port "$cg_port" --token "$token" --ids "$RUN_DIR/ids-callgrind.txt" \
        --rate 20 --seconds "$(python3 -c "print($callgrind / 20)")" --out "$RUN_DIR/callgrind-run.json"
    callgrind_control -i off "$cg_pid" >/dev/null
    _photo_stop_pid "$cg_pid" 60 || true
    callgrind_annotate --inclusive=no "$RUN_DIR/callgrind.out"* >"$RUN_DIR/callgrind-self.txt" 2>&1 || true
    callgrind_annotate --inclusive=yes "$RUN_DIR/callgrind.out"* >"$RUN_DIR/callgrind-inclusive.txt" 2>&1 || true
    python3 Benchmarks/complete/profile_summary.py --callgrind "$RUN_DIR/callgrind-self.txt" >"$RUN_DIR/callgrind.json" \
        2>"$RUN_DIR/callgrind-summary.err" || { photo_err "callgrind summary failed"; photo_log_tail "$RUN_DIR/callgrind-summary.err"; }
fi

# --- the reference, same stub, same Postgres ---
if ((reference)); then
    ref_port=$(free_port 1)
    photo_log "reference: uvicorn --workers $(nproc) on 127.0.0.1:$ref_port"
    JWT_HS256_SECRET=$_bench_secret start_background reference "$RUN_DIR/reference.log" \
        "$venv/bin/uvicorn" --app-dir Benchmarks/reference_complete app:app --host 127.0.0.1 --port "$ref_port" \
        --workers "$(nproc)" --log-level warning --no-access-log
    ref_pid=$PHOTO_LAST_PID
    wait_http_200 "http://127.0.0.1:$ref_port/healthz" 60 "$ref_pid" "$RUN_DIR/reference.log"
    sleep 2 # every worker imported and listening
    ref_pids=$ref_pid
    for child in $(cat /proc/"$ref_pid"/task/*/children 2>/dev/null); do ref_pids+=",$child"; done
    closed_loop reference "$ref_port" "$ref_pids"
    psql "$DATABASE_URL" -At -c "SELECT payload::text FROM outbox_events ORDER BY created_at DESC LIMIT 1" >"$RUN_DIR/payload-reference.txt"
    _photo_stop_pid "$ref_pid" 10 || true
fi

# --- end to end: complete response -> message at the sink ---
if ((latency)); then
    # The relay starts on an empty outbox; each event's photo is recorded (the sink keeps event
    # ids only) by a row trigger into an unlogged table, the only change to the measured path.
    psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q <<'SQL' >/dev/null
TRUNCATE outbox_events;
CREATE UNLOGGED TABLE bench_event_photo (event_id uuid PRIMARY KEY, photo_id uuid NOT NULL);
CREATE FUNCTION bench_event_photo() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_event_photo VALUES (NEW.id, NEW.aggregate_id);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_event_photo AFTER INSERT ON outbox_events FOR EACH ROW EXECUTE FUNCTION bench_event_photo();
SQL
    sink_port=$(free_port 1)
    start_background sink "$RUN_DIR/sink.log" "$bin_dir/BenchSQSSink" --host 127.0.0.1 --port "$sink_port"
    sink_pid=$PHOTO_LAST_PID
    wait_http_200 "http://127.0.0.1:$sink_port/stats" 30 "$sink_pid" "$RUN_DIR/sink.log"
    relay_metrics_port=$(free_port 1)
    DETECTION_QUEUE_URL=http://127.0.0.1:$sink_port/000000000000/bench AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$sink_port \
        RELAY_METRICS_HOST=127.0.0.1 RELAY_METRICS_PORT=$relay_metrics_port LOG_LEVEL=warning \
        start_background relay "$RUN_DIR/relay.log" "$bin_dir/outbox-relay" run
    relay_pid=$PHOTO_LAST_PID
    sleep 2
    kill -0 "$relay_pid" 2>/dev/null || { photo_err "outbox-relay exited"; photo_log_tail "$RUN_DIR/relay.log"; exit 1; }
    expected=$((latency_rate * latency_seconds))
    photo_log "end to end: $latency_rate completes/s for ${latency_seconds}s ($expected), photo-api -> outbox-relay -> sink"
    CPU_EXTRA_PIDS=stub:$stub_pid,relay:$relay_pid,sink:$sink_pid \
        timeout $((latency_seconds + 120)) "$python" Benchmarks/api/cpu_during.py "$api_pid" "$postmaster_pid" "$RUN_DIR/cpu-latency.json" \
        "$python" Benchmarks/complete/open_loop.py --port "$api_port" --token "$token" --ids "$RUN_DIR/ids-latency.txt" \
        --rate "$latency_rate" --seconds "$latency_seconds" --out "$RUN_DIR/open-loop.json"
    deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        unique=$(curl -s "http://127.0.0.1:$sink_port/stats" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["unique"])')
        ((unique >= expected)) && break
        sleep 0.2
    done
    curl -s "http://127.0.0.1:$sink_port/arrivals" >"$RUN_DIR/arrivals.json"
    curl -s "http://127.0.0.1:$sink_port/stats" >"$RUN_DIR/sink-stats.json"
    psql "$DATABASE_URL" -At -F, -c 'SELECT event_id, photo_id FROM bench_event_photo' >"$RUN_DIR/event-photo.csv"
fi

mkdir -p Benchmarks/results
"$python" Benchmarks/complete/report.py "$RUN_DIR" "$command_line" "$load_before" "$duration" "$connections" \
    "$latency_rate" "$latency_seconds" "$(git rev-parse --short HEAD)" "$callgrind"
