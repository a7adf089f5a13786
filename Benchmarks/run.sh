#!/usr/bin/env bash
# The outbox relay benchmark, in one command (docs/benchmarks.md says what it measures):
#
#   Benchmarks/run.sh [options]
#
#   --repeat N            drain runs per relay kind (default 3; the table shows medians)
#   --events N            pending events per drain run (default 100000)
#   --kinds LIST          relay kinds, comma-separated IMPL:PROCESSES with IMPL reference
#                         (Benchmarks/reference_relay.py), ours (outbox-relay) or baseline
#                         (the outbox-relay binary BASELINE_RELAY_BIN names, e.g. the build
#                         before a change) (default reference:1,ours:1,ours:2)
#   --latency-rate R      events/s of the latency run (default 200)
#   --latency-seconds S   length of each latency run (default 20; 0 skips them)
#   --timeout S           give up on a drain run after S seconds (default 120)
#   --idle-wait S         before each drain run, wait up to S seconds for the machine to be
#                         idle (under 10 % CPU busy without us; default 30)
#   --retry-noisy N       run a drain or latency run again, up to N times, when other
#                         processes took over 10 % of the CPU during it (default 2)
#   --no-sink-ceiling     skip the sink-alone measurement (needs wrk; skipped without it)
#   --fast-postgres       a diagnostic: Postgres with fsync, synchronous_commit and
#                         full_page_writes off (default: durable, Postgres's defaults)
#   --results-dir DIR     where latest.md and latest.json go (default Benchmarks/results)
#   --skip-build          use the binaries already built
#
# Environment: BENCH_SCRATCH_PATH (default .build) is the swift build scratch path: release
# binaries come from $BENCH_SCRATCH_PATH/release. KEEP_RUN_DIR=1 keeps the throwaway
# Postgres, the sink's and the relays' logs.
#
# Starts a throwaway Postgres (scripts/lib.sh; durable unless --fast-postgres), migrates it, starts the SQS sink
# (Benchmarks/SQSSink), runs Benchmarks/bench.py and stops everything on exit. Results:
# Benchmarks/results/latest.md and latest.json. Exit status 0 when every run succeeded, 3
# when some relay run failed or timed out (the table says which), other non-zero on errors.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

bench_args=()
skip_build=0
fast_postgres=0
sink_ceiling=1
command_line="Benchmarks/run.sh${*:+ $*}"
while (($#)); do
    case $1 in
        --repeat | --events | --kinds | --latency-rate | --latency-seconds | --timeout | --idle-wait | --retry-noisy | --results-dir)
            (($# >= 2)) || { photo_err "$1 needs a value"; exit 2; }
            bench_args+=("$1" "$2")
            shift
            ;;
        --no-sink-ceiling) sink_ceiling=0 ;;
        --fast-postgres) fast_postgres=1 ;;
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

# shellcheck disable=SC2119 # no options: the Debian packages only
ensure_prereqs

bench_set_durability "$fast_postgres"
# Python side: psycopg 3, boto3 (and matplotlib) in Benchmarks/.venv (ignored by git through .venv*/).
python=$(bench_python)

# Release builds are what we benchmark.
bench_release_build "${BENCH_SCRATCH_PATH:-.build}" "$skip_build" BenchSQSSink migrator outbox-relay

make_run_dir
install_cleanup_traps
bench_start_postgres "$bin_dir/migrator"

sink_port=$(free_port 1)
start_background sink "$RUN_DIR/sink.log" "$bin_dir/BenchSQSSink" --host 127.0.0.1 --port "$sink_port"
sink_pid=$PHOTO_LAST_PID
wait_http_200 "http://127.0.0.1:$sink_port/stats" 30 "$sink_pid" "$RUN_DIR/sink.log"
photo_log "sink ready on 127.0.0.1:$sink_port"

ceiling_args=()
if ((sink_ceiling)); then
    if command -v wrk >/dev/null 2>&1; then
        "$python" Benchmarks/bench.py sink-ceiling --sink-port "$sink_port" --sink-pid "$sink_pid" \
            --out "$RUN_DIR/sink-ceiling.json"
        ceiling_args=(--sink-ceiling "$RUN_DIR/sink-ceiling.json")
    else
        photo_log "wrk is not installed (apt-get install wrk): skipping the sink-alone measurement"
    fi
fi

baseline_args=()
if [[ -n ${BASELINE_RELAY_BIN:-} ]]; then baseline_args=(--baseline-relay-bin "$BASELINE_RELAY_BIN"); fi
status=0
"$python" Benchmarks/bench.py run \
    --sink-port "$sink_port" --sink-pid "$sink_pid" \
    --relay-bin "$bin_dir/outbox-relay" --python "$python" \
    "${baseline_args[@]}" \
    --log-dir "$RUN_DIR/logs" --command-line "$command_line" \
    "${ceiling_args[@]}" "${bench_args[@]}" || status=$?
if ((status == 3)); then
    photo_err "some relay runs failed or timed out: see the table above and Benchmarks/results/latest.md"
fi
exit "$status"
