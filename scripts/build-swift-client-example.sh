#!/usr/bin/env bash
# Builds docs/examples/swift-client, the client generated from Sources/API/openapi.yaml by
# swift-openapi-generator's build plugin: a package of its own, in its own .build.
#
#   scripts/build-swift-client-example.sh [STATUS_FILE]
#
# Prints where the executable is. With STATUS_FILE, writes the build's exit status there when it
# ends (scripts/test.sh runs this beside the tests; GeneratedSwiftClientTests waits for the file).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
package="$repo_root/docs/examples/swift-client"
status_file=${1:-}

# Stopped (scripts/test.sh's cleanup), stop the build too.
build_pid=""
trap '[[ -n $build_pid ]] && kill -TERM "$build_pid" 2>/dev/null; exit 143' TERM INT
status=0
swift build --package-path "$package" &
build_pid=$!
wait "$build_pid" || status=$?
build_pid=""
if ((status == 0)); then
    echo "built $(swift build --package-path "$package" --show-bin-path)/PhotoUploadClient"
fi
if [[ -n $status_file ]]; then
    echo "$status" >"$status_file"
fi
exit "$status"
