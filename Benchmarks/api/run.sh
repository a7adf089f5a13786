#!/usr/bin/env bash
# The photo-api benchmark, in one command (docs/benchmarks.md, "## photo-api"):
#
#   Benchmarks/api/run.sh [--skip-build] [--duration S] [--presign-seconds S] [--fast-postgres]
#
# 1. Pre-signing throughput on one core (taskset -c 1): Benchmarks/Presign (S3Presigner.presignPut)
#    against botocore's generate_presigned_url('put_object', ContentType, ContentLength), s3v4,
#    Python signer (BOTO_DISABLE_CRT=true), same machine, same run; the ratio.
# 2. POST /api/v1/photos/upload-url under wrk -t2 -c64 --latency (Benchmarks/api/upload_url.lua):
#    HS256 token, a real throwaway Postgres (scripts/lib.sh), loopback only; requests/s, p50, p99
#    (and p10, p90, p99.9), and the non-2xx / socket error counts (must be 0); the CPU time photo-api, Postgres and wrk
#    used per request, the share of the machine's CPU (all cores) other processes took during the
#    run (kernel time serving loopback traffic counts there too), and the share the hypervisor
#    stole (steal time: this VM's CPUs given to other guests); the WAL flushes Postgres made
#    meanwhile (pg_stat_wal: requests and commits per flush, time per flush).
#
# Postgres is durable (its defaults: fsync, synchronous_commit, full_page_writes on); with
# --fast-postgres all three are off, a labelled diagnostic. The table gives the settings as the
# server reports them.
#
# Environment: BENCH_SCRATCH_PATH (default .build-bench): the swift build scratch path.
# KEEP_RUN_DIR=1 keeps the Postgres and photo-api logs. Results: Benchmarks/results/api-latest.md.
# Exit status 0 when the runs succeeded (targets are reported, not enforced), non-zero on errors.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=Benchmarks/api/lib.sh
source Benchmarks/api/lib.sh
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh

skip_build=0
duration=20
presign_seconds=5
fast_postgres=0
command_line="Benchmarks/api/run.sh${*:+ $*}"
while (($#)); do
    case $1 in
        --skip-build) skip_build=1 ;;
        --duration) duration=${2:?}; shift ;;
        --presign-seconds) presign_seconds=${2:?}; shift ;;
        --fast-postgres) fast_postgres=1 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) photo_err "unknown option $1"; exit 2 ;;
    esac
    shift
done

bench_set_durability "$fast_postgres"
command -v wrk >/dev/null || { photo_err "wrk is required (apt-get install wrk)"; exit 1; }
command -v taskset >/dev/null || { photo_err "taskset is required (util-linux)"; exit 1; }
python=python3
[[ -x Benchmarks/.venv/bin/python ]] && python=Benchmarks/.venv/bin/python
"$python" -c 'import botocore' 2>/dev/null || { photo_err "$python cannot import botocore (pip install botocore)"; exit 1; }

scratch=${BENCH_SCRATCH_PATH:-.build-bench}
products=(photo-api migrator BenchPresign)
if ((!skip_build)); then
    for product in "${products[@]}"; do
        photo_log "swift build -c release --product $product (scratch path $scratch)"
        timeout 3600 swift build -c release --scratch-path "$scratch" --product "$product" >/tmp/bench-api-build.log 2>&1 || {
            photo_err "release build of $product failed"; photo_log_tail /tmp/bench-api-build.log 60; exit 1; }
    done
fi
bin_dir="$repo_root/$scratch/release"
for product in "${products[@]}"; do
    [[ -x $bin_dir/$product ]] || { photo_err "no $bin_dir/$product"; exit 1; }
done

# CPU busy % of the whole machine over 2 s (from /proc/stat), to show it was otherwise idle.
cpu_busy() {
    "$python" - <<'PY'
import time
def snap():
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return sum(v), v[3] + v[4]
t0, i0 = snap(); time.sleep(2); t1, i1 = snap()
print(f"{100 * (1 - (i1 - i0) / max(1, t1 - t0)):.1f}")
PY
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
busy_before=$(cpu_busy)
photo_log "before: load average $load_before, CPU busy ${busy_before}% (2 s)"

make_run_dir
install_cleanup_traps

# --- 1. pre-signing, one core each ---
photo_log "pre-signing: ours (taskset -c 1, ${presign_seconds}s)"
ours_json=$(timeout 120 taskset -c 1 "$bin_dir/BenchPresign" "$presign_seconds")
photo_log "pre-signing: botocore (taskset -c 1, ${presign_seconds}s)"
boto_json=$(timeout 120 taskset -c 1 "$python" Benchmarks/api/botocore_presign_rate.py "$presign_seconds")
echo "$ours_json" >"$RUN_DIR/presign-ours.json"
echo "$boto_json" >"$RUN_DIR/presign-botocore.json"

# --- 2. upload-url under wrk ---
bench_start_api "$bin_dir/photo-api" "$bin_dir/migrator"

code=$(curl -s -o "$RUN_DIR/one.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' \
    -d "{\"project_id\":\"$project_id\",\"file_name\":\"one.jpg\",\"file_size\":2048000,\"mime_type\":\"image/jpeg\"}" "$url")
[[ $code == 2* ]] || { photo_err "one upload-url request answered $code: $(cat "$RUN_DIR/one.json")"; photo_log_tail "$RUN_DIR/api.log"; exit 1; }

photo_log "warm-up: wrk -t2 -c64 -d5s"
timeout 60 wrk -t2 -c64 -d5s -s Benchmarks/api/upload_url.lua "$url" >"$RUN_DIR/wrk-warmup.txt" 2>&1
photo_log "measuring: wrk -t2 -c64 -d${duration}s --latency"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
postmaster_pid=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
bench_pg_snapshot "$RUN_DIR/pg-before.json"
# Benchmarks/api/cpu_during.py reads, from /proc, the CPU time photo-api, Postgres (the postmaster
# and its children) and wrk used during the run, and the machine's busy time: the CPU per request,
# and how much of the machine other work took meanwhile.
timeout $((duration + 60)) "$python" Benchmarks/api/cpu_during.py "$api_pid" "$postmaster_pid" "$RUN_DIR/cpu.json" \
    wrk -t2 -c64 -d"${duration}s" --latency -s Benchmarks/api/upload_url.lua "$url" \
    >"$RUN_DIR/wrk.txt" 2>"$RUN_DIR/wrk.err"
cat "$RUN_DIR/wrk.txt" >&2
sleep 2 # photo-api's backends report their WAL and commit counts at most a second late
bench_pg_snapshot "$RUN_DIR/pg-after.json"
rows=$(psql "$DATABASE_URL" -At -c "SELECT count(*) FROM photos")

mkdir -p Benchmarks/results
"$python" - "$RUN_DIR" "$command_line" "$load_before" "$busy_before" "$load_start" "$rows" "$duration" <<'PY'
import json, platform, re, subprocess, sys, time
sys.path.insert(0, "Benchmarks")
from pgwal import difference, settings_line
run_dir, command, load_before, busy_before, load_start, rows, duration = sys.argv[1:8]
ours = json.load(open(f"{run_dir}/presign-ours.json"))
boto = json.load(open(f"{run_dir}/presign-botocore.json"))
wrk = open(f"{run_dir}/wrk.txt").read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
total = int(re.search(r"(\d+) requests in", wrk).group(1))
p50 = int(re.search(r"p50_us (\d+)", wrk).group(1)) / 1000
p99 = int(re.search(r"p99_us (\d+)", wrk).group(1)) / 1000
percentile = lambda name: int(re.search(name + r"_us (\d+)", wrk).group(1)) / 1000
spread = ", ".join(f"{percentile(name):.2f}" for name in ("p10", "p90", "p999"))
non2xx = int(re.search(r"non2xx (\d+)", wrk).group(1))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
non2xx = max(non2xx, int(m.group(1)) if m else 0)
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", wrk)
socket_errors = sum(map(int, m.groups())) if m else 0
ratio = ours["urls_per_second"] / boto["urls_per_second"]
cpu_used = json.load(open(f"{run_dir}/cpu.json"))
wal = difference(json.load(open(f"{run_dir}/pg-before.json")), json.load(open(f"{run_dir}/pg-after.json")), total)
per_flush = lambda v, spec: "–" if v is None else format(v, spec)
per_request = lambda seconds: 1000 * seconds / total
others = max(0.0, cpu_used["busy"] - cpu_used["api"] - cpu_used["postgres"] - cpu_used["command"])
others_share = 100 * others / max(1e-9, cpu_used["total"])
steal_share = 100 * cpu_used["steal"] / max(1e-9, cpu_used["total"])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ok = lambda b: "PASS" if b else "FAIL"
lines = [
    "# photo-api benchmark (Benchmarks/api/run.sh)", "",
    f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    f"- Machine: {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} CPUs, {platform.system()} {platform.release()}",
    f"- Command: `{command}`",
    f"- Postgres, as the server reports it: {settings_line(wal['settings'])}",
    f"- Load average before: {load_before} (CPU busy {busy_before}% over 2 s); at the start of the wrk run: {load_start}",
    "", "| Measure | Value | Target | |", "|---|---:|---|---|",
    f"| Pre-signing, ours (1 core) | {ours['urls_per_second']:,} URLs/s | | |",
    f"| Pre-signing, botocore {boto['botocore_version']} (1 core) | {boto['urls_per_second']:,} URLs/s | | |",
    f"| Ratio | {ratio:.1f}x | >= 20x | {ok(ratio >= 20)} |",
    f"| upload-url throughput (wrk -t2 -c64 -d{duration}s) | {rps:,.0f} req/s | >= 6,000 | {ok(rps >= 6000)} |",
    f"| upload-url p50 | {p50:.2f} ms | | |",
    f"| upload-url p10, p90, p99.9 | {spread} ms | | |",
    f"| upload-url p99 | {p99:.2f} ms | < 25 ms | {ok(p99 < 25)} |",
    f"| Requests / non-2xx / socket errors | {total:,} / {non2xx} / {socket_errors} | 0 errors | {ok(non2xx == 0 and socket_errors == 0)} |",
    f"| Photo rows written (warm-up + run + 1) | {int(rows):,} | | |",
    f"| CPU per request: photo-api / Postgres / wrk | {per_request(cpu_used['api']):.3f} / "
    f"{per_request(cpu_used['postgres']):.3f} / {per_request(cpu_used['command']):.3f} ms | | |",
    f"| Machine CPU taken by other processes during the run | {others_share:.1f} % | | |",
    f"| Machine CPU stolen by the hypervisor during the run (steal) | {steal_share:.1f} % | | |",
    f"| WAL flushes (fdatasync) during the run, requests / commits per flush | {wal['wal_sync']:,}, "
    f"{per_flush(wal['units_per_sync'], '.1f')} / {per_flush(wal['commits_per_sync'], '.1f')} | | |",
    f"| WAL flush time: mean per flush, share of the run | {per_flush(wal['mean_sync_ms'], '.2f')} ms, "
    f"{100 * wal['wal_sync_time_ms'] / 1000 / float(duration):.0f} % | | |",
]
text = "\n".join(lines) + "\n"
open("Benchmarks/results/api-latest.md", "w").write(text)
print(text)
PY
