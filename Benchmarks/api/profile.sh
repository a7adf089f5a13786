#!/usr/bin/env bash
# The cost of one POST /api/v1/photos/upload-url, for comparing changes on a shared machine:
#
#   Benchmarks/api/profile.sh [--duration S] [--connections N] [--fast-postgres]
#
# Wall-clock requests/s swing with whatever else runs on the cores; CPU time per request swings
# less, so changes are compared with this and the headline figures come from
# Benchmarks/api/run.sh. (No instruction counts: this VM exposes no hardware counters to perf,
# and valgrind 3.19 fails on Swift 6.3 binaries: a DWARF 5 reader error, and with the debug
# information stripped an internal crash.)
#
# wrk -t2 -cN (N = 64) for S seconds (10, after a 3 s warm-up) against photo-api and a throwaway
# Postgres (scripts/lib.sh; durable, or with --fast-postgres fsync, synchronous_commit and
# full_page_writes off), then CPU milliseconds per request of photo-api, of every Postgres
# process (postmaster and backends, from /proc/PID/stat) and of wrk (getrusage).
# With PERF_RECORD=FILE, `perf record -e cpu-clock -g` samples photo-api during that run into
# FILE (`perf report -i FILE`); cpu-clock, because this VM exposes no hardware counters.
#
# Uses the release binaries in $BENCH_SCRATCH_PATH/release (default .build-bench), built by
# Benchmarks/api/run.sh or `swift build -c release --scratch-path ... --product photo-api`;
# PHOTO_API_BIN names another photo-api binary (e.g. a saved copy of an older build).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=Benchmarks/api/lib.sh
source Benchmarks/api/lib.sh
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh

duration=10
connections=64
fast_postgres=0
while (($#)); do
    case $1 in
        --duration) duration=${2:?}; shift ;;
        --connections) connections=${2:?}; shift ;;
        --fast-postgres) fast_postgres=1 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) photo_err "unknown option $1"; exit 2 ;;
    esac
    shift
done

bench_set_durability "$fast_postgres"
command -v wrk >/dev/null || { photo_err "wrk is required (apt-get install wrk)"; exit 1; }
scratch=${BENCH_SCRATCH_PATH:-.build-bench}
bin_dir="$repo_root/$scratch/release"
api_bin=${PHOTO_API_BIN:-$bin_dir/photo-api}
[[ -x $api_bin ]] || { photo_err "no $api_bin (build it first)"; exit 1; }
[[ -x $bin_dir/migrator ]] || { photo_err "no $bin_dir/migrator (build it first)"; exit 1; }

make_run_dir
install_cleanup_traps
bench_start_api "$api_bin" "$bin_dir/migrator"
postmaster_pid=$(head -n 1 "$PGDATA_DIR/postmaster.pid")

timeout 60 wrk -t2 -c"$connections" -d3s -s Benchmarks/api/upload_url.lua "$url" >"$RUN_DIR/wrk-warmup.txt" 2>&1
timeout $((duration + 60)) python3 Benchmarks/api/cpu_during.py "$api_pid" "$postmaster_pid" "$RUN_DIR/cpu.json" \
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s Benchmarks/api/upload_url.lua "$url" >"$RUN_DIR/wrk.txt"
python3 - "$RUN_DIR" <<'PY'
import json, re, sys
run_dir = sys.argv[1]
out = open(f"{run_dir}/wrk.txt").read()
used = json.load(open(f"{run_dir}/cpu.json"))
requests = int(re.search(r"(\d+) requests in", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = int(re.search(r"p50_us (\d+)", out).group(1)) / 1000
p99 = int(re.search(r"p99_us (\d+)", out).group(1)) / 1000
non2xx = int(re.search(r"non2xx (\d+)", out).group(1))
per = lambda seconds: 1000 * seconds / requests
machine = 100 * used["busy"] / max(1e-9, used["total"])
steal = 100 * used["steal"] / max(1e-9, used["total"])
print(f"requests {requests} (non-2xx {non2xx}), {rps:,.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms, machine busy {machine:.0f}%, stolen {steal:.0f}%")
print(f"CPU ms/request: photo-api {per(used['api']):.3f}, postgres {per(used['postgres']):.3f}, wrk {per(used['command']):.3f}, "
      f"total {per(used['api'] + used['postgres'] + used['command']):.3f}")
print(f"context switches/request: photo-api {used['api_switches'] / requests:.2f}, postgres {used['postgres_switches'] / requests:.2f}")
print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")
PY
