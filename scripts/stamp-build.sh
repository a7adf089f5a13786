#!/usr/bin/env bash
# Writes the git commit the next build comes from into Sources/CBuildStamp/generated/build-stamp.h
# (ignored by git), which the executables report in `--version` and the `build_info` metric.
#
#   scripts/stamp-build.sh
#
# The commit is PHOTO_BUILD_COMMIT when set (an image build without .git passes it as a build
# argument), else `git rev-parse --short=12 HEAD`, with "-dirty" when tracked files differ from
# it, else "unknown". The file is rewritten only when the commit changed, and then
# BuildStamp.c's time is bumped: the compiler's dependency list does not know about a header
# that did not exist at the previous build, so without it the new stamp would not be compiled in.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target="$repo_root/Sources/CBuildStamp"

commit=${PHOTO_BUILD_COMMIT:-}
if [[ -z $commit ]] && git -C "$repo_root" rev-parse --git-dir >/dev/null 2>&1; then
    commit=$(git -C "$repo_root" rev-parse --short=12 HEAD 2>/dev/null || true)
    if [[ -n $commit ]] && [[ -n $(git -C "$repo_root" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
        commit+="-dirty"
    fi
fi
# Into a C string literal: nothing but what a commit id or a tag can hold.
if [[ -z $commit ]] || [[ ! $commit =~ ^[A-Za-z0-9._+-]{1,64}$ ]]; then
    commit=unknown
fi

mkdir -p "$target/generated"
header="$target/generated/build-stamp.h"
content="// Written by scripts/stamp-build.sh; not in git.
#define PHOTO_BUILD_COMMIT \"$commit\""
if [[ ! -f $header ]] || [[ $(cat "$header") != "$content" ]]; then
    printf '%s\n' "$content" >"$header.tmp"
    mv "$header.tmp" "$header"
    touch "$target/BuildStamp.c"
fi
echo "build stamp: commit $commit"
