#!/usr/bin/env bash
# Builds the libFuzzer target in Fuzz/ (ImageInspector + ExifReader, with AddressSanitizer) and
# runs it for a bounded time on a copy of the committed seed corpus Fuzz/corpus/.
#
#   scripts/fuzz.sh [--seconds N] [--instrument-libexif] [-- EXTRA_LIBFUZZER_ARGS...]
#
# Default 60 seconds. With --instrument-libexif, Debian's libexif source (the installed version,
# with Debian's patches) is fetched with apt-get into Fuzz/.build-libexif (private apt lists: the
# system's apt configuration is not touched), compiled with coverage and AddressSanitizer, and
# linked in statically, so that the fuzzer also explores and checks libexif itself; without it the
# system libexif is used, uninstrumented.
#
# Crash, leak and timeout inputs land in Fuzz/artifacts/ (ignored by git); new inputs the fuzzer
# finds go to Fuzz/work-corpus/ (also ignored), never into the committed corpus. Exit status is
# libFuzzer's: non-zero when it found a crash.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz_dir="$repo_root/Fuzz"

seconds=60
instrument_libexif=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --seconds)
            [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { echo "fuzz: --seconds needs a number" >&2; exit 2; }
            seconds=$2
            shift 2
            ;;
        --instrument-libexif)
            instrument_libexif=1
            shift
            ;;
        --)
            shift
            break
            ;;
        *)
            echo "usage: scripts/fuzz.sh [--seconds N] [--instrument-libexif] [-- LIBFUZZER_ARGS...]" >&2
            exit 2
            ;;
    esac
done

# Builds Fuzz/.build-libexif/lib/libexif.a from Debian's source of the installed libexif.
build_instrumented_libexif() {
    local work="$fuzz_dir/.build-libexif" version clang
    version=$(dpkg-query -W -f '${Version}' libexif-dev)
    clang="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
    if [[ -f $work/lib/libexif.a && $(cat "$work/lib/version" 2>/dev/null) == "$version" ]]; then
        return
    fi
    rm -rf "$work"
    mkdir -p "$work/apt/lists/partial" "$work/download" "$work/lib"
    printf 'deb-src http://deb.debian.org/debian bookworm main\ndeb-src http://deb.debian.org/debian-security bookworm-security main\n' \
        >"$work/apt/sources.list"
    local apt_options=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$work/apt/lists")
    apt-get "${apt_options[@]}" -qq update
    (cd "$work/download" && apt-get "${apt_options[@]}" -qq source --download-only "libexif=$version")
    local src="$work/src"
    mkdir -p "$src"
    tar -xzf "$work"/download/libexif_*.orig.tar.gz -C "$work/src" --strip-components=1
    tar -xJf "$work"/download/libexif_*.debian.tar.xz -C "$work/src"
    if [[ -f $work/src/debian/patches/series ]]; then
        while read -r patch; do
            [[ -z $patch || $patch == \#* ]] && continue
            patch -d "$work/src" -p1 -s <"$work/src/debian/patches/$patch"
        done <"$work/src/debian/patches/series"
    fi
    printf '#define GETTEXT_PACKAGE "libexif-12"\n#define PACKAGE "libexif"\n' >"$src/config.h"
    local file object objects=()
    for file in "$src"/libexif/*.c "$src"/libexif/*/*.c; do
        object="$work/lib/$(basename "$file" .c).o"
        "$clang" -c -g -O1 -fsanitize=fuzzer-no-link,address -DHAVE_CONFIG_H -I"$src" -I"$src/libexif" \
            "$file" -o "$object"
        objects+=("$object")
    done
    "$(dirname "$clang")/llvm-ar" rcs "$work/lib/libexif.a" "${objects[@]}"
    echo "$version" >"$work/lib/version"
}

cd "$fuzz_dir"
# -parse-as-library: libFuzzer supplies main(); the Swift file only exports LLVMFuzzerTestOneInput.
scratch="$fuzz_dir/.build"
link_flags=()
if ((instrument_libexif)); then
    build_instrumented_libexif
    # A scratch path of its own, so the two variants never share (and relink) one binary.
    scratch="$fuzz_dir/.build-libexif/swift"
    # Whole archive: its definitions win over the system libexif.so that -lexif also names.
    link_flags=(-Xlinker --whole-archive -Xlinker "$fuzz_dir/.build-libexif/lib/libexif.a"
        -Xlinker --no-whole-archive)
fi
build_flags=(-c debug --scratch-path "$scratch" -Xswiftc "-sanitize=fuzzer,address" -Xswiftc -parse-as-library
    "${link_flags[@]}")
# SwiftPM may keep a stale build plan for a path dependency (a source file added to ../Sources is
# then missed); dropping the plan makes it re-plan, which costs a second or two.
rm -f "$scratch/debug.yaml"
swift build "${build_flags[@]}" --product FuzzImageHeader
binary="$(swift build "${build_flags[@]}" --show-bin-path)/FuzzImageHeader"

mkdir -p "$fuzz_dir/artifacts" "$fuzz_dir/work-corpus"
# The first corpus directory receives new inputs; the committed seeds are only read.
"$binary" "$fuzz_dir/work-corpus" "$fuzz_dir/corpus" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
    -artifact_prefix="$fuzz_dir/artifacts/" -print_final_stats=1 "$@"
