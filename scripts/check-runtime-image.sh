#!/usr/bin/env bash
# Proves the Dockerfile's runtime stage without a Docker engine (.ci/run runs it before the tests).
#
#   scripts/check-runtime-image.sh [--skip-build]
#
# 1. Builds the three release binaries as the Dockerfile's build stage does
#    (--static-swift-stdlib), in .build-release (--skip-build: use the binaries already there).
# 2. debootstraps a minimal Debian 12 (bookworm) root in a scratch folder, from the mirror apt
#    already uses, with the host's apt sources when the host is bookworm too (as debian:12-slim
#    has), and installs exactly the Dockerfile's RUNTIME_PACKAGES, read from the Dockerfile.
# 3. Copies the binaries to /usr/local/bin and sql/ to /app/sql, adds the image's user 10001,
#    and checks with ldd, inside the root, that every library the binaries load is there and
#    belongs to an installed package.
# 4. Inside chroot, as uid 10001: every binary's --help and --version,
#    `migrator up` (in /app, the image's working directory) against a throwaway Postgres on
#    loopback (the chroot shares the network), then photo-api until /healthz and /readyz
#    answer 200 and outbox-relay until /healthz answers; photo-api must exit 0 on SIGTERM.
# Needs root (or sudo) for debootstrap and chroot. Prints how long each step took.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

build=1
while (($#)); do
    case $1 in
        --skip-build) build=0 ;;
        -h | --help)
            sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            photo_err "unknown option $1 (see --help)"
            exit 2
            ;;
    esac
    shift
done

step_started=$SECONDS
timings=()
step_done() {
    timings+=("$(printf '%-34s %5d s' "$1" $((SECONDS - step_started)))")
    step_started=$SECONDS
}

# The Dockerfile is the one list: `ARG RUNTIME_PACKAGES="..."` in its runtime stage.
runtime_packages=$(sed -n 's/^ARG RUNTIME_PACKAGES="\([^"]*\)"$/\1/p' Dockerfile)
read -r -a packages <<<"$runtime_packages"
if ((${#packages[@]} == 0)); then
    photo_err 'no ARG RUNTIME_PACKAGES="..." line in Dockerfile'
    exit 1
fi
photo_log "runtime packages (from Dockerfile): ${packages[*]}"

ensure_prereqs
products=(photo-api outbox-relay migrator)
build_path="$repo_root/.build-release"
if ((build)); then
    scripts/stamp-build.sh
    for product in "${products[@]}"; do
        photo_log "swift build -c release --static-swift-stdlib --product $product"
        swift build -c release --static-swift-stdlib --build-path "$build_path" --product "$product"
    done
    step_done "release build (3 products)"
fi
bin_dir="$build_path/release"
for product in "${products[@]}"; do
    if [[ ! -x $bin_dir/$product ]]; then
        photo_err "$bin_dir/$product is missing (run without --skip-build)"
        exit 1
    fi
done

make_run_dir
root="$RUN_DIR/root"
# The root gets /proc mounted: unmount it before cleanup_stack deletes RUN_DIR, and keep
# RUN_DIR rather than delete through a mount that would not go.
cleanup_root() {
    local rc=$?
    if [[ -d $root/proc ]] && mountpoint -q "$root/proc"; then
        _photo_as_root umount "$root/proc" || {
            photo_err "could not unmount $root/proc: keeping $RUN_DIR"
            KEEP_RUN_DIR=1
        }
    fi
    (exit "$rc")
    cleanup_stack
}
trap cleanup_root EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The Debian mirror apt already uses (deb822 sources first, then the one-line format).
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [[ -z $mirror ]]; then
    mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
fi
if [[ -z $mirror ]]; then
    photo_err "no Debian mirror found in apt's sources"
    exit 1
fi
photo_log "debootstrap --variant=minbase bookworm $root $mirror"
if ! _photo_as_root debootstrap --variant=minbase bookworm "$root" "$mirror" >"$RUN_DIR/debootstrap.log" 2>&1; then
    photo_err "debootstrap failed"
    photo_log_tail "$RUN_DIR/debootstrap.log"
    exit 1
fi
step_done "debootstrap minbase bookworm"

# Updates and security fixes as debian:12-slim gets them: the host's sources, when it is bookworm.
if [[ -f /etc/apt/sources.list.d/debian.sources ]] && grep -q '^VERSION_CODENAME=bookworm$' /etc/os-release; then
    _photo_as_root cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
    _photo_as_root rm -f "$root/etc/apt/sources.list"
fi
_photo_as_root cp /etc/resolv.conf "$root/etc/resolv.conf"
_photo_as_root mount -t proc proc "$root/proc"
in_root() { _photo_as_root chroot "$root" "$@"; }
photo_log "apt-get install --no-install-recommends ${packages[*]} (in the root)"
if ! { in_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"; } \
    >"$RUN_DIR/apt.log" 2>&1; then
    photo_err "installing the runtime packages failed"
    photo_log_tail "$RUN_DIR/apt.log"
    exit 1
fi
in_root groupadd --gid 10001 photo
in_root useradd --uid 10001 --gid photo --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin photo
_photo_as_root install -m 755 "${products[@]/#/$bin_dir/}" "$root/usr/local/bin/"
_photo_as_root mkdir -p "$root/app"
_photo_as_root cp -R sql "$root/app/sql"
step_done "runtime packages, binaries, sql/"

# Every library must resolve inside the root and belong to a package there (none copied in loose).
status=0
for product in "${products[@]}"; do
    ldd_out=$(in_root ldd "/usr/local/bin/$product") || {
        photo_err "ldd $product failed"
        exit 1
    }
    if grep -q 'not found' <<<"$ldd_out"; then
        photo_err "$product: libraries missing in the runtime root:"
        grep 'not found' <<<"$ldd_out" >&2
        status=1
    fi
    owners=()
    while read -r lib; do
        real=$(in_root readlink -f "$lib")
        owner=""
        for candidate in "$lib" "$real" "/usr$lib" "/usr$real" "${real#/usr}"; do
            owner=$(in_root dpkg-query -S "$candidate" 2>/dev/null | head -n 1 | cut -d: -f1) && [[ -n $owner ]] && break
        done
        if [[ -z $owner ]]; then
            photo_err "$product loads $lib, which no installed package owns"
            status=1
        else
            owners+=("$(basename "$lib") ($owner)")
        fi
    done < <(awk '/=>/ && $3 ~ /^\// { print $3 } !/=>/ && $1 ~ /^\// { print $1 }' <<<"$ldd_out")
    photo_log "$product loads: ${owners[*]}"
done
((status == 0)) || exit 1
step_done "ldd"

for product in photo-api outbox-relay migrator; do
    for flag in --help --version; do
        if ! _photo_as_root chroot --userspec=10001:10001 "$root" "/usr/local/bin/$product" "$flag" >/dev/null; then
            photo_err "$product $flag failed in the runtime root"
            exit 1
        fi
    done
done
photo_log "--help and --version of all three: exit 0"

start_postgres "$RUN_DIR"
# As the image runs them: uid 10001, working directory /app, nothing but the given environment.
# A plain command (no shell function), so a background one's PID is the process itself.
as_user=(chroot --userspec=10001:10001 "$root" /usr/bin/env --chdir=/app -i PATH=/usr/local/bin:/usr/bin:/bin)
if [[ $(id -u) -ne 0 ]]; then as_user=(sudo "${as_user[@]}"); fi
run_as_user() { "${as_user[@]}" "$@"; }
photo_log "migrator up (in the root, working directory /app)"
run_as_user DATABASE_URL="$DATABASE_URL" migrator up
run_as_user DATABASE_URL="$DATABASE_URL" migrator verify >/dev/null

mapfile -t ports < <(free_port 2)
api_log="$RUN_DIR/photo-api.log"
relay_log="$RUN_DIR/outbox-relay.log"
# Development settings with a test-only HS256 secret and static credentials; S3 and SQS on a
# loopback port nobody listens on: start-up and health need neither.
common_env=(
    APP_ENV=development LOG_LEVEL=notice DATABASE_URL="$DATABASE_URL"
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
    AWS_ENDPOINT_URL=http://127.0.0.1:1
)
start_background photo-api "$api_log" "${as_user[@]}" "${common_env[@]}" \
    HOST=127.0.0.1 PORT="${ports[0]}" JWT_HS256_SECRET=check-runtime-image-only-secret-0000000000 \
    PHOTOS_BUCKET=photos-runtime-check photo-api
api_pid=$PHOTO_LAST_PID
start_background outbox-relay "$relay_log" "${as_user[@]}" "${common_env[@]}" \
    RELAY_METRICS_HOST=127.0.0.1 RELAY_METRICS_PORT="${ports[1]}" \
    DETECTION_QUEUE_URL=http://127.0.0.1:1/000000000000/runtime-check outbox-relay run
relay_pid=$PHOTO_LAST_PID
wait_http_200 "http://127.0.0.1:${ports[0]}/healthz" 60 "$api_pid" "$api_log"
wait_http_200 "http://127.0.0.1:${ports[0]}/readyz" 30 "$api_pid" "$api_log"
photo_log "photo-api in the root: /healthz and /readyz 200"
wait_http_200 "http://127.0.0.1:${ports[1]}/healthz" 60 "$relay_pid" "$relay_log"
photo_log "outbox-relay in the root: /healthz 200"

# SIGTERM as Kubernetes sends it after preStop: photo-api must drain and exit 0.
t0=$SECONDS
kill -TERM "$api_pid"
api_status=0
wait "$api_pid" || api_status=$?
if ((api_status != 0)); then
    photo_err "photo-api exited $api_status on SIGTERM"
    photo_log_tail "$api_log"
    exit 1
fi
photo_log "photo-api exited 0 on SIGTERM after $((SECONDS - t0)) s"
step_done "the binaries in the root"

printf '\nruntime image check passed (%s)\n' "${packages[*]}"
printf '  %s\n' "${timings[@]}"
