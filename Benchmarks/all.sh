#!/usr/bin/env bash
# Every benchmark, in one command, on a durable Postgres (docs/benchmarks.md, docs/scaling.md):
#
#   Benchmarks/all.sh [--quick] [--soak-minutes N] [--skip-build] [--only LIST]
#
#   --quick            short runs of everything (harness checks; the figures are not the
#                      documented ones): fewer events, shorter wrk runs, a 1-minute soak
#   --soak-minutes N   length of the soak run (default 10)
#   --skip-build       use the release binaries already built in BENCH_SCRATCH_PATH
#   --only LIST        comma-separated subset of: relay, api, complete, scaling, soak
#
# One release build (scratch path BENCH_SCRATCH_PATH, default .build-bench) of every product the
# benchmarks start, then, one after the other so that none measures beside another:
#
#   relay     Benchmarks/run.sh           outbox-relay drain against the reference relay (50,000
#                                         events a run), commit-to-send latency -> results/latest.md
#   api       Benchmarks/api/run.sh       pre-signing against botocore, upload-url under wrk
#                                                                          -> results/api-latest.md
#   complete  Benchmarks/complete/run.sh  complete against a FastAPI/boto3/Pillow/psycopg
#                                         reference, its profile, complete -> SQS latency
#                                                                          -> results/complete-latest.md
#   scaling   Benchmarks/scaling.sh       relay processes 1/2/4, upload-url against connections
#                                         and pool size, with plots        -> results/scaling-latest.md
#   soak      Benchmarks/soak.sh          mixed load with leak and delivery checks, with plots
#                                                                          -> results/soak-latest.md
#
# Writes Benchmarks/results/all-latest.md (what ran, how long, its exit status). Exit status 0
# when every benchmark exited 0, 1 otherwise (each one's own output says why).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=Benchmarks/lib.sh
source Benchmarks/lib.sh

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

quick=0
soak_minutes=10
skip_build=0
only="relay,api,complete,scaling,soak"
command_line="Benchmarks/all.sh${*:+ $*}"
while (($#)); do
    case $1 in
        --quick) quick=1 ;;
        --soak-minutes)
            soak_minutes=${2:?--soak-minutes needs a value}
            shift
            ;;
        --skip-build) skip_build=1 ;;
        --only)
            only=${2:?--only needs a value}
            shift
            ;;
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
for part in ${only//,/ }; do
    case $part in
        relay | api | complete | scaling | soak) ;;
        *)
            photo_err "--only: unknown benchmark $part (relay, api, complete, scaling, soak)"
            exit 2
            ;;
    esac
done

export BENCH_SCRATCH_PATH=${BENCH_SCRATCH_PATH:-.build-bench}
# shellcheck disable=SC2119 # no options: the Debian packages only
ensure_prereqs
bench_release_build "$BENCH_SCRATCH_PATH" "$skip_build" \
    photo-api migrator outbox-relay BenchSQSSink BenchS3Stub BenchPresign

relay_args=(--events 50000) api_args=() complete_args=() scaling_args=() soak_args=(--minutes "$soak_minutes")
if ((quick)); then
    relay_args=(--repeat 1 --events 20000 --latency-seconds 5 --idle-wait 5 --retry-noisy 0)
    api_args=(--duration 5 --presign-seconds 2)
    complete_args=(--duration 5 --warmup 2 --latency-seconds 5)
    scaling_args=(--preset short)
    ((soak_minutes == 10)) && soak_args=(--minutes 1)
fi

summary="Benchmarks/results/all-latest.md"
mkdir -p Benchmarks/results
{
    printf '# Benchmarks/all.sh\n\n'
    printf 'Command: `%s`, commit `%s`, started %s UTC on %s (%s CPUs, %s).\n\n' \
        "$command_line" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        "$(date -u +%Y-%m-%dT%H:%M:%S)" "$(uname -n)" "$(nproc)" \
        "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    printf '| benchmark | command | seconds | exit status |\n|---|---|---:|---:|\n'
} >"$summary"

failed=0
# run_benchmark NAME SCRIPT ARGS...: runs one benchmark with --skip-build, records it.
run_benchmark() {
    local name=$1 script=$2 started status=0
    shift 2
    [[ ,$only, == *,$name,* ]] || return 0
    photo_log "$name: $script --skip-build $*"
    started=$(date +%s)
    "$script" --skip-build "$@" || status=$?
    printf '| %s | `%s --skip-build %s` | %d | %d |\n' \
        "$name" "$script" "$*" "$(($(date +%s) - started))" "$status" >>"$summary"
    if ((status != 0)); then
        photo_err "$name exited $status"
        failed=1
    fi
}

run_benchmark relay Benchmarks/run.sh "${relay_args[@]}"
run_benchmark api Benchmarks/api/run.sh "${api_args[@]}"
run_benchmark complete Benchmarks/complete/run.sh "${complete_args[@]}"
run_benchmark scaling Benchmarks/scaling.sh "${scaling_args[@]}"
run_benchmark soak Benchmarks/soak.sh "${soak_args[@]}"

printf '\nFinished %s UTC.\n' "$(date -u +%Y-%m-%dT%H:%M:%S)" >>"$summary"
photo_log "summary: $summary"
exit "$failed"
