#!/usr/bin/env bash
# Runs the README's "Try it" block verbatim against a running stack, so the one example a
# newcomer copies is known to work. scripts/stack.sh calls it after the demo.
#
#   scripts/readme-try-it.sh RUN_DIR
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
run_dir=${1:?usage: scripts/readme-try-it.sh RUN_DIR}

# The first ```sh block after the "## Try it" heading, with RUN_DIR filled in.
block=$(awk '/^## Try it/ { section = 1; next }
             section && /^## / { exit }
             section && /^```sh$/ { inside = 1; next }
             inside && /^```$/ { exit }
             inside { print }' README.md)
if [[ -z $block ]]; then
    echo "readme-try-it: README.md has no sh block under '## Try it'" >&2
    exit 1
fi
block=${block//RUN_DIR/$run_dir}
answer=$(bash -euo pipefail -c "$block")
for member in '"photo_id"' '"upload_url"' '"complete_url"' '"status":"processing"'; do
    if [[ $answer != *$member* ]]; then
        echo "readme-try-it: the README's example did not answer with $member; it answered: $answer" >&2
        exit 1
    fi
done
echo "readme-try-it: the README's example works (an upload URL, then a photo uploaded, confirmed and processing)"
