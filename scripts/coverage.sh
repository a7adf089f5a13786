#!/usr/bin/env bash
# Line-coverage summary per module (Sources/<Module>) from the data that
# `swift test --enable-code-coverage` left in .build/debug/codecov.
#
#   scripts/coverage.sh [BIN_DIR]        (default: .build/debug)
#
# The core modules (the contract's Domain, API, OutboxRelay and Migrator, with PhotoStore, Auth
# and HTTPSupport, the libraries photo-api's code was split into) get a total line; every
# other module with coverage data is listed for information. A core module with
# no data yet is shown as such rather than failing.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

bin_dir=${1:-.build/debug}
profdata="$bin_dir/codecov/default.profdata"
core_modules=(Domain API PhotoStore Auth HTTPSupport OutboxRelay Migrator)

# The profile format belongs to the toolchain's LLVM, so use the llvm-cov next to
# swift (Debian's llvm-cov may not read it).
llvm_cov=""
if swift_path=$(command -v swift 2>/dev/null); then
    swift_dir=$(dirname "$(readlink -f "$swift_path")")
    [[ -x $swift_dir/llvm-cov ]] && llvm_cov="$swift_dir/llvm-cov"
fi
[[ -n $llvm_cov ]] || llvm_cov=/opt/swift/usr/bin/llvm-cov
if [[ ! -x $llvm_cov ]]; then
    echo "coverage: llvm-cov not found next to swift nor in /opt/swift/usr/bin" >&2
    exit 1
fi

shopt -s nullglob
test_bins=("$bin_dir"/*PackageTests.xctest)
raw_profiles=("$bin_dir"/codecov/*.profraw)
shopt -u nullglob
# swift test merges the raw profiles only when every test passed; after a
# failure, merge them here so the summary still appears.
if [[ ! -f $profdata ]] && ((${#raw_profiles[@]})); then
    "$(dirname "$llvm_cov")/llvm-profdata" merge -sparse "${raw_profiles[@]}" -o "$profdata"
fi
if [[ ! -f $profdata ]]; then
    echo "coverage: no $profdata (run the tests with --enable-code-coverage first)" >&2
    exit 1
fi
if ((${#test_bins[@]} == 0)); then
    echo "coverage: no *PackageTests.xctest in $bin_dir" >&2
    exit 1
fi

# The executables the tests spawn write their own profiles into the same
# directory (swift test exports LLVM_PROFILE_FILE); adding them as objects also
# covers the *Main modules.
objects=()
for exe in migrator photo-api outbox-relay; do
    [[ -x $bin_dir/$exe ]] && objects+=(-object "$bin_dir/$exe")
done

export_json() {
    "$llvm_cov" export -summary-only -instr-profile "$profdata" \
        -ignore-filename-regex='(^|/)(\.build[^/]*|Tests)/' "${test_bins[0]}" "$@"
}
# An executable built without coverage (e.g. by `swift build` after the tests)
# makes llvm-cov fail: fall back to the test binary alone.
json_file=$(mktemp)
trap 'rm -f "$json_file"' EXIT
if ! export_json "${objects[@]}" >"$json_file" 2>/dev/null; then
    export_json >"$json_file"
fi

python3 - "$json_file" "$repo_root" "${core_modules[*]}" <<'PY'
import json, os, sys

json_file, repo_root, core = sys.argv[1], sys.argv[2], sys.argv[3].split()
root = os.path.join(repo_root, "Sources") + os.sep
keys = ("files", "lines", "covered", "fns", "fns_cov")
modules = {}
with open(json_file) as f:
    files = json.load(f)["data"][0]["files"]
for entry in files:
    name = entry["filename"]
    if not name.startswith(root):
        continue
    module = name[len(root):].split(os.sep, 1)[0]
    m = modules.setdefault(module, dict.fromkeys(keys, 0))
    s = entry["summary"]
    m["files"] += 1
    m["lines"] += s["lines"]["count"]
    m["covered"] += s["lines"]["covered"]
    m["fns"] += s["functions"]["count"]
    m["fns_cov"] += s["functions"]["covered"]


def pct(a, b):
    return f"{100.0 * a / b:.2f}%" if b else "-"


def row(label, m):
    line_pct = pct(m["covered"], m["lines"])
    fn_pct = pct(m["fns_cov"], m["fns"])
    print(f"{label:<26} {m['files']:>5} {m['lines']:>7} {m['covered']:>7} {line_pct:>8} {fn_pct:>8}")


header = f"{'module (Sources/...)':<26} {'files':>5} {'lines':>7} {'covered':>7} {'line %':>8} {'func %':>8}"
rule = "-" * len(header)
print("Line coverage per module (llvm-cov; Tests/ and .build/ excluded)")
print(header)
print(rule)
total = dict.fromkeys(keys, 0)
for name in core:
    if name in modules:
        row(name, modules[name])
        for k in keys:
            total[k] += modules[name][k]
    else:
        print(f"{name:<26} (no coverage data)")
print(rule)
row(f"TOTAL ({len(core)} core modules)", total)
others = sorted(set(modules) - set(core))
if others:
    print()
    print("Other modules, for information:")
    for name in others:
        row(name, modules[name])
PY
