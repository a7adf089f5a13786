#!/usr/bin/env bash
# Builds the libFuzzer target in Fuzz/ (ImageInspector + ExifReader, with AddressSanitizer) and
# runs it for a bounded time on a copy of the committed seed corpus Fuzz/corpus/.
#
#   scripts/fuzz.sh [--seconds N] [-- EXTRA_LIBFUZZER_ARGS...]     (default 60 seconds)
#
# Crash, leak and timeout inputs land in Fuzz/artifacts/ (ignored by git); new inputs the fuzzer
# finds go to Fuzz/work-corpus/ (also ignored), never into the committed corpus. Exit status is
# libFuzzer's: non-zero when it found a crash.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz_dir="$repo_root/Fuzz"

seconds=60
while [[ $# -gt 0 ]]; do
    case $1 in
        --seconds)
            [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { echo "fuzz: --seconds needs a number" >&2; exit 2; }
            seconds=$2
            shift 2
            ;;
        --)
            shift
            break
            ;;
        *)
            echo "usage: scripts/fuzz.sh [--seconds N] [-- LIBFUZZER_ARGS...]" >&2
            exit 2
            ;;
    esac
done

cd "$fuzz_dir"
# -parse-as-library: libFuzzer supplies main(); the Swift file only exports LLVMFuzzerTestOneInput.
build_flags=(-c debug --scratch-path "$fuzz_dir/.build" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
# SwiftPM may keep a stale build plan for a path dependency (a source file added to ../Sources is
# then missed); dropping the plan makes it re-plan, which costs a second or two.
rm -f "$fuzz_dir/.build/debug.yaml"
swift build "${build_flags[@]}" --product FuzzImageHeader
binary="$(swift build "${build_flags[@]}" --show-bin-path)/FuzzImageHeader"

mkdir -p "$fuzz_dir/artifacts" "$fuzz_dir/work-corpus"
# The first corpus directory receives new inputs; the committed seeds are only read.
"$binary" "$fuzz_dir/work-corpus" "$fuzz_dir/corpus" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
    -artifact_prefix="$fuzz_dir/artifacts/" -print_final_stats=1 "$@"
