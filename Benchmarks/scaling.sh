#!/usr/bin/env bash
# Scaling curves on one machine, in one command (docs/scaling.md says what they show):
#
#   Benchmarks/scaling.sh [options]
#
#   --preset NAME      short (one run per point, for trying the harness), default (3 runs per
#                      point; 13 minutes on a loaded machine, where each drain ran twice) or
#                      long (5 runs per point, 15 s each): events per drain run, runs per
#                      point, seconds per wrk run
#   --skip-build       use the release binaries already built
#   --fast-postgres    a diagnostic: Postgres with fsync, synchronous_commit and
#                      full_page_writes off (default: durable, Postgres's defaults)
#   --only PART        relay or api: measure that part only (while working on the harness)
#   --results-dir DIR  where scaling-latest.md, scaling-latest.json and the plots go
#                      (default Benchmarks/results)
#
# One throwaway Postgres (scripts/lib.sh), migrated, on 127.0.0.1, for both parts:
#
# 1. Relay drain (Benchmarks/bench.py run, the SQS sink Benchmarks/SQSSink): the reference relay
#    (Benchmarks/reference_relay.py, one process) and outbox-relay with 1, 2 and 4 processes,
#    interleaved, each the median of the preset's runs.
# 2. POST /api/v1/photos/upload-url under wrk -t2 (Benchmarks/api/upload_url.lua): requests/s and
#    p50/p99 against wrk connections 8, 32, 64, 128 (DATABASE_POOL_SIZE at its default, 4) and
#    against DATABASE_POOL_SIZE 2, 4, 8, 16 (64 connections); each point the median of the
#    preset's runs, after a 2 s warm-up.
#
# Every point also records the WAL flushes Postgres made (pg_stat_wal: units per flush, time per
# flush), the CPU photo-api, Postgres and wrk used, and the share of the machine's CPU other
# processes took (the figures are provisional when that is more than a few %).
#
# Environment: BENCH_SCRATCH_PATH (default .build-bench): the swift build scratch path.
# KEEP_RUN_DIR=1 keeps the run directory (Postgres, logs, every run's raw output).
# Exit status 0 when every run succeeded (targets are reported, not enforced), non-zero otherwise.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh
# shellcheck source=Benchmarks/api/lib.sh
source Benchmarks/api/lib.sh

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

preset=default
skip_build=0
fast_postgres=0
results_dir=Benchmarks/results
only=""
command_line="Benchmarks/scaling.sh${*:+ $*}"
while (($#)); do
    case $1 in
        --preset) preset=${2:?--preset needs a value}; shift ;;
        --skip-build) skip_build=1 ;;
        --only) only=${2:?--only needs relay or api}; shift ;;
        --fast-postgres) fast_postgres=1 ;;
        --results-dir) results_dir=${2:?--results-dir needs a value}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) photo_err "unknown option $1"; usage >&2; exit 2 ;;
    esac
    shift
done

# events per drain run, drain runs per relay kind, wrk runs per point, seconds per wrk run,
# seconds to wait for an idle machine before each drain run
case $preset in
    short) relay_events=20000 relay_repeat=1 api_runs=1 api_seconds=3 idle_wait=5 ;;
    default) relay_events=50000 relay_repeat=3 api_runs=3 api_seconds=6 idle_wait=10 ;;
    long) relay_events=100000 relay_repeat=5 api_runs=5 api_seconds=15 idle_wait=30 ;;
    *) photo_err "--preset must be short, default or long, not $preset"; exit 2 ;;
esac
relay_kinds=reference:1,ours:1,ours:2,ours:4
api_connections=(8 32 64 128)
api_pools=(2 4 8 16)
default_pool=4
pool_connections=64

bench_set_durability "$fast_postgres"
# shellcheck disable=SC2119 # no options: the Debian packages only
ensure_prereqs
command -v wrk >/dev/null || { photo_err "wrk is required (apt-get install wrk)"; exit 1; }
python=$(bench_python)

scratch=${BENCH_SCRATCH_PATH:-.build-bench}
products=(photo-api outbox-relay migrator BenchSQSSink)
if ((!skip_build)); then
    build_log=$(mktemp -t bench-scaling-build.XXXXXX)
    for product in "${products[@]}"; do
        photo_log "swift build -c release --product $product (scratch path $scratch)"
        timeout 3600 swift build -c release --scratch-path "$scratch" --product "$product" >"$build_log" 2>&1 || {
            photo_err "the release build of $product failed"; photo_log_tail "$build_log" 60; rm -f "$build_log"; exit 1; }
    done
    rm -f "$build_log"
fi
bin_dir="$repo_root/$scratch/release"
for product in "${products[@]}"; do
    [[ -x $bin_dir/$product ]] || { photo_err "no $bin_dir/$product (build first, or drop --skip-build)"; exit 1; }
done

make_run_dir
install_cleanup_traps
bench_start_postgres "$bin_dir/migrator"
postmaster_pid=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
status=0

# --- 1. relay drain with 1, 2 and 4 processes, beside the reference relay ---
if [[ $only != api ]]; then
sink_port=$(free_port 1)
start_background sink "$RUN_DIR/sink.log" "$bin_dir/BenchSQSSink" --host 127.0.0.1 --port "$sink_port"
sink_pid=$PHOTO_LAST_PID
wait_http_200 "http://127.0.0.1:$sink_port/stats" 30 "$sink_pid" "$RUN_DIR/sink.log"
photo_log "relay drain: $relay_kinds, $relay_events events, $relay_repeat runs each"
"$python" Benchmarks/bench.py run \
    --sink-port "$sink_port" --sink-pid "$sink_pid" \
    --relay-bin "$bin_dir/outbox-relay" --python "$python" \
    --log-dir "$RUN_DIR/relay-logs" --results-dir "$RUN_DIR/relay" --command-line "$command_line" \
    --kinds "$relay_kinds" --events "$relay_events" --repeat "$relay_repeat" \
    --latency-seconds 0 --idle-wait "$idle_wait" --retry-noisy 1 || status=$?
kill -TERM "$sink_pid" 2>/dev/null || true
fi

# --- 2. upload-url against connections and pool size ---
points="$RUN_DIR/api-points.jsonl"
: >"$points"
[[ $only == relay ]] || bench_api_fixtures

# measure_point CONNECTIONS POOL: a warm-up, then api_runs wrk runs, one JSON line each.
measure_point() {
    local connections=$1 pool=$2 run out
    timeout 60 wrk -t2 -c"$connections" -d2s -s Benchmarks/api/upload_url.lua "$url" >/dev/null 2>&1 || true
    for ((run = 1; run <= api_runs; run++)); do
        out="$RUN_DIR/wrk-c$connections-p$pool-r$run"
        bench_pg_snapshot "$out.pg-before.json"
        timeout $((api_seconds + 60)) "$python" Benchmarks/api/cpu_during.py "$api_pid" "$postmaster_pid" "$out.cpu.json" \
            wrk -t2 -c"$connections" -d"${api_seconds}s" --latency -s Benchmarks/api/upload_url.lua "$url" \
            >"$out.txt" 2>"$out.err" || { photo_err "wrk failed (c$connections, pool $pool)"; cat "$out.err" >&2; status=1; continue; }
        sleep 1.2 # photo-api's backends report their WAL and commit counts at most a second late
        bench_pg_snapshot "$out.pg-after.json"
        "$python" Benchmarks/scaling_report.py point "$out" "$connections" "$pool" "$run" >>"$points" || status=1
    done
}

for pool in "$default_pool" "${api_pools[@]}"; do
    [[ $only == relay ]] && break
    export DATABASE_POOL_SIZE=$pool
    if [[ $pool == "$default_pool" ]]; then
        [[ -n ${default_done:-} ]] && continue
        default_done=1
        bench_launch_api "$bin_dir/photo-api"
        photo_log "upload-url: connections ${api_connections[*]} at DATABASE_POOL_SIZE=$pool"
        for connections in "${api_connections[@]}"; do measure_point "$connections" "$pool"; done
    else
        bench_launch_api "$bin_dir/photo-api"
        photo_log "upload-url: DATABASE_POOL_SIZE=$pool at $pool_connections connections"
        measure_point "$pool_connections" "$pool"
    fi
    bench_stop_api
done
unset DATABASE_POOL_SIZE

mkdir -p "$results_dir"
"$python" Benchmarks/scaling_report.py report --relay "$RUN_DIR/relay/latest.json" --api "$points" \
    --out-dir "$results_dir" --command-line "$command_line" --preset "$preset" \
    --default-pool "$default_pool" --pool-connections "$pool_connections"
exit "$status"
