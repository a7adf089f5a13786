# shellcheck shell=bash
# Helpers shared by scripts/stack.sh and scripts/test.sh. Source it; do not run it.
#
# It deliberately does not change the caller's shell options (the scripts set
# `set -euo pipefail` themselves), so every important step checks its own status
# and the functions also behave when sourced into an interactive shell.
#
# Started processes are tracked in _PHOTO_* variables so that cleanup_stack
# (for `trap cleanup_stack EXIT`) stops exactly what this shell started.

# Debian packages the build, the tests and the local stack need.
PHOTO_APT_PACKAGES=(
    libpq-dev libcurl4-openssl-dev libssl-dev libexif-dev
    postgresql libimage-exiftool-perl pkg-config curl openssl
    # promtool, for scripts/check-observability.sh (the alert rules and their unit tests).
    prometheus
    debootstrap # scripts/check-runtime-image.sh: the container image's runtime stage without Docker
    chromium chromium-driver # BrowserExampleTests: docs/examples/browser/ in a real browser
)

# scripts/check-kubernetes.sh: the manifests under deploy/kubernetes against the Kubernetes
# schemas, and checkov's policies. Pinned, so a new release's new checks cannot fail CI unasked.
PHOTO_DEPLOY_LINT_PIP_SPECS=("checkov==3.3.30" "kubernetes-validate==1.37.0")

# BrowserExampleTests: selenium drives Debian's Chromium; boto3 sets the bucket's CORS rules, which
# PyYAML reads from deploy/aws/photo-upload.yaml.
PHOTO_BROWSER_PIP_SPECS=("selenium==4.27.1" "boto3==1.35.99" "PyYAML==6.0.2")

# LocalStack from PyPI: 4.13.1 is the newest that loads on Python 3.11, and its
# dependencies need these pins (found by trying: newer ones fail to import there). One pip
# command, so that pip resolves the pins together with LocalStack's own requirements.
PHOTO_LOCALSTACK_PIP_SPECS=(
    "localstack-core[runtime]==4.13.1" "cbor2<6" "pyopenssl<26" "cryptography<47"
    service_identity boto3
)

# Directories LocalStack writes because it believes it runs in a container
# (/.dockerenv exists here). It removes /tmp/localstack itself on a clean stop only.
PHOTO_LOCALSTACK_DIRS=(
    /var/lib/localstack /etc/localstack /usr/lib/localstack /tmp/localstack-s3-storage
    /tmp/localstack
)

_PHOTO_PG_DATA=""       # data directory of the cluster start_postgres started
_PHOTO_PG_LOG=""
_PHOTO_PG_AS=()         # command prefix to act as the cluster's owner
_PHOTO_LS_PID=""        # LocalStack started by start_localstack
_PHOTO_BG_PIDS=()       # other background processes (start_background)
_PHOTO_BG_NAMES=()
_PHOTO_OWN_RUN_DIR=""   # RUN_DIR made by make_run_dir (the only one we delete)

photo_log() { printf '==> %s\n' "$*" >&2; }
photo_err() { printf 'error: %s\n' "$*" >&2; }

# Print the last lines of a log file, framed, to stderr (used on every failure path).
photo_log_tail() {
    local file=$1 lines=${2:-40}
    [[ -f $file ]] || return 0
    printf -- '----- last %s lines of %s -----\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2 || true
    printf -- '----- end of %s -----\n' "$file" >&2
}

photo_venv_dir() { printf '%s\n' "${PHOTO_VENV:-$HOME/.cache/photo-upload/localstack-venv}"; }

# Run a command as root: directly when we are root, else through sudo if present.
_photo_as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        photo_err "need root (or sudo) to run: $*"
        return 1
    fi
}

_photo_pkg_installed() {
    # dpkg -s also succeeds for removed-but-configured packages; "ii" means installed.
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]
}

# ensure_prereqs [--localstack]
# Installs missing Debian packages (apt only when something is missing, so the
# common case costs a few dpkg-query calls), moto_server (the private SQS of the
# relay's delivery and fault tests) when it is not on PATH, and, with --localstack,
# the LocalStack venv. Exports PHOTO_VENV_PYTHON with --localstack, and
# MOTO_SERVER_BIN when moto had to be installed into its own venv.
ensure_prereqs() {
    local want_localstack=0 arg
    for arg in "$@"; do
        case $arg in
            --localstack) want_localstack=1 ;;
            *) photo_err "ensure_prereqs: unknown option $arg"; return 2 ;;
        esac
    done

    local -a missing=()
    local pkg
    for pkg in "${PHOTO_APT_PACKAGES[@]}"; do
        _photo_pkg_installed "$pkg" || missing+=("$pkg")
    done
    # moto_server is looked for on PATH, then in the venv this function makes for it.
    local moto_spec="moto[server]==5.2.1" moto_venv want_moto=0
    moto_venv="$(dirname "$(photo_venv_dir)")/moto-venv"
    if [[ -x ${MOTO_SERVER_BIN:-} ]] || command -v moto_server >/dev/null 2>&1; then
        :
    elif [[ -x $moto_venv/bin/moto_server ]]; then
        export MOTO_SERVER_BIN="$moto_venv/bin/moto_server"
    else
        want_moto=1
    fi
    # docs/examples/upload.mjs and scripts/dev-token.mjs need Node (18+ has fetch); Debian's
    # nodejs only when no node is on PATH (this machine kind ships Node 20).
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    # The venvs need python3 with venv/ensurepip (Debian splits it into python3-venv).
    local schemathesis_venv want_schemathesis=0
    schemathesis_venv="$(dirname "$(photo_venv_dir)")/schemathesis-venv"
    [[ -x $schemathesis_venv/bin/schemathesis ]] || want_schemathesis=1
    local deploy_lint_venv want_deploy_lint=0
    deploy_lint_venv="$(dirname "$(photo_venv_dir)")/deploy-lint-venv"
    [[ -f $deploy_lint_venv/.photo-upload-pip-specs && $(<"$deploy_lint_venv/.photo-upload-pip-specs") == "${PHOTO_DEPLOY_LINT_PIP_SPECS[*]}" ]] ||
        want_deploy_lint=1
    local browser_venv want_browser=0
    browser_venv="$(dirname "$(photo_venv_dir)")/browser-venv"
    [[ -f $browser_venv/.photo-upload-pip-specs && $(<"$browser_venv/.photo-upload-pip-specs") == "${PHOTO_BROWSER_PIP_SPECS[*]}" ]] ||
        want_browser=1
    if ((want_localstack || want_moto || want_schemathesis || want_deploy_lint || want_browser)) && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        missing+=(python3 python3-venv)
    fi
    if ((${#missing[@]})); then
        photo_log "installing Debian packages: ${missing[*]}"
        _photo_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        _photo_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" || return 1
    fi

    # The Swift toolchain lives in /opt/swift here; be tolerant of a PATH without it.
    if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    fi

    if ((want_moto)); then
        # A venv of its own: Debian's python3 refuses a system-wide pip install (PEP 668).
        # Locked, so that two scripts started together do not install into it at once.
        mkdir -p "$(dirname "$moto_venv")" || return 1
        (
            flock 9 || exit 1
            [[ -x $moto_venv/bin/moto_server ]] && exit 0
            photo_log "installing $moto_spec into $moto_venv (one-off)"
            [[ -x $moto_venv/bin/python ]] || python3 -m venv "$moto_venv" || exit 1
            "$moto_venv/bin/python" -m pip install --quiet --disable-pip-version-check "$moto_spec"
        ) 9>"$moto_venv.lock" || { photo_err "could not install $moto_spec into $moto_venv"; return 1; }
        export MOTO_SERVER_BIN="$moto_venv/bin/moto_server"
    fi

    # schemathesis checks the live API against /openapi.yaml (OpenAPISchemathesisTests).
    if ((want_schemathesis)); then
        mkdir -p "$(dirname "$schemathesis_venv")" || return 1
        (
            flock 9 || exit 1
            [[ -x $schemathesis_venv/bin/schemathesis ]] && exit 0
            photo_log "installing schemathesis into $schemathesis_venv (one-off)"
            [[ -x $schemathesis_venv/bin/python ]] || python3 -m venv "$schemathesis_venv" || exit 1
            "$schemathesis_venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==4.32.5"
        ) 9>"$schemathesis_venv.lock" || { photo_err "could not install schemathesis into $schemathesis_venv"; return 1; }
    fi
    export SCHEMATHESIS_VENV=$schemathesis_venv

    if ((want_deploy_lint)); then
        _photo_ensure_pip_venv "$deploy_lint_venv" "${PHOTO_DEPLOY_LINT_PIP_SPECS[@]}" || return 1
    fi
    export DEPLOY_LINT_VENV=$deploy_lint_venv
    # selenium drives Debian's Chromium through the browser example (BrowserExampleTests).
    if ((want_browser)); then
        _photo_ensure_pip_venv "$browser_venv" "${PHOTO_BROWSER_PIP_SPECS[@]}" || return 1
    fi
    export BROWSER_VENV=$browser_venv

    if ((want_localstack)); then
        _photo_ensure_localstack_venv || return 1
    fi
    return 0
}

_photo_ensure_localstack_venv() {
    _photo_ensure_pip_venv "$(photo_venv_dir)" "${PHOTO_LOCALSTACK_PIP_SPECS[@]}" || return 1
    PHOTO_VENV_PYTHON="$(photo_venv_dir)/bin/python"
    export PHOTO_VENV_PYTHON
}

# _photo_ensure_pip_venv VENV SPEC...: a venv with exactly these pip specs, installed in one pip
# command (so pip resolves the pins together) unless its marker file already lists them.
_photo_ensure_pip_venv() {
    local venv=$1 marker want
    shift
    marker="$venv/.photo-upload-pip-specs"
    want="$*"
    if [[ -x $venv/bin/python && -f $marker && $(<"$marker") == "$want" ]]; then
        return 0
    fi
    mkdir -p "$(dirname "$venv")" || return 1
    # A lock, so that two scripts started together do not install into one venv at once.
    (
        flock 9 || exit 1
        if [[ -f $marker && $(<"$marker") == "$want" ]]; then exit 0; fi
        photo_log "installing $want into $venv (one-off, a minute or more)"
        [[ -x $venv/bin/python ]] || python3 -m venv "$venv" || exit 1
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" || exit 1
        printf '%s' "$want" >"$marker"
    ) 9>"$venv.lock" || { photo_err "could not install $want into $venv"; return 1; }
}

# free_port [N]: prints N (default 1) distinct free TCP ports on 127.0.0.1, one
# per line. All N sockets are held open together so the ports differ.
free_port() {
    python3 - "${1:-1}" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

# make_run_dir: RUN_DIR=$(mktemp -d), remembered so cleanup_stack may delete it.
make_run_dir() {
    RUN_DIR=$(mktemp -d -t photo-upload.XXXXXX) || return 1
    _PHOTO_OWN_RUN_DIR=$RUN_DIR
    export RUN_DIR
}

_photo_pg_bindir() {
    if [[ -n ${PG_BINDIR:-} ]]; then
        printf '%s\n' "$PG_BINDIR"
        return 0
    fi
    # Newest installed server version (Debian keeps the binaries off PATH).
    local dir
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    if [[ -z $dir || ! -x $dir/initdb ]]; then
        photo_err "no PostgreSQL server binaries under /usr/lib/postgresql (set PG_BINDIR)"
        return 1
    fi
    printf '%s\n' "$dir"
}

# Writes an executable helper script that runs pg_ctl on our cluster; tests call
# these for fault injection, so they must not need lib.sh or this shell's state.
_photo_write_pg_script() {
    local path=$1 purpose=$2 body=$3 bindir=$4
    {
        printf '#!/usr/bin/env bash\n'
        printf '# %s (written by scripts/lib.sh start_postgres).\n' "$purpose"
        printf 'set -euo pipefail\n'
        printf 'pg_ctl=%q\n' "$bindir/pg_ctl"
        printf 'data=%q\n' "$_PHOTO_PG_DATA"
        printf 'log=%q\n' "$_PHOTO_PG_LOG"
        printf 'as_owner=('
        if ((${#_PHOTO_PG_AS[@]})); then printf '%q ' "${_PHOTO_PG_AS[@]}"; fi
        printf ')\n'
        # The caller is typically a test process. Foundation's Process notices a
        # child's exit through a socket the child inherits: a postmaster started
        # from here would inherit it too and the caller's waitUntilExit() would
        # never return. So the server must get nothing but stdin/stdout/stderr.
        cat <<'CLOSE'
for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if ((fd > 2)); then exec {fd}>&-; fi
done
CLOSE
        printf '%s\n' "$body"
    } >"$path" && chmod 755 "$path"
}

# start_postgres RUN_DIR
# A throwaway cluster in RUN_DIR/pg on a free port, listening on 127.0.0.1 only,
# its socket inside RUN_DIR/pg. Durability is off (nothing here must survive) unless
# PHOTO_PG_DURABILITY=durable, which keeps Postgres's defaults (fsync, synchronous_commit,
# full_page_writes on), as production runs: benchmarks use that.
# Exports DATABASE_URL PG_PORT PGDATA_DIR TEST_PG_RESTART TEST_PG_STOP TEST_PG_START.
start_postgres() {
    local run_dir=${1:?usage: start_postgres RUN_DIR}
    local bindir pgdir data log
    bindir=$(_photo_pg_bindir) || return 1
    run_dir=$(cd "$run_dir" && pwd) || return 1
    pgdir="$run_dir/pg"
    data="$pgdir/data"
    log="$run_dir/pg.log"
    mkdir -p "$pgdir" || return 1
    : >"$log" || return 1

    _PHOTO_PG_AS=()
    if [[ $(id -u) -eq 0 ]]; then
        # Postgres refuses to run as root: the cluster belongs to the postgres user,
        # who must be able to reach RUN_DIR/pg and write RUN_DIR/pg.log.
        _PHOTO_PG_AS=(runuser -u postgres --)
        chmod a+x "$run_dir" || return 1
        chown postgres:postgres "$pgdir" "$log" || return 1
        if ! runuser -u postgres -- test -w "$pgdir"; then
            photo_err "user postgres cannot reach $pgdir (a parent directory is not searchable)"
            return 1
        fi
    fi

    # -U postgres: same superuser name whoever runs this; --no-sync: throwaway data.
    if ! "${_PHOTO_PG_AS[@]}" "$bindir/initdb" -D "$data" -A trust -U postgres \
        -E UTF8 --no-locale --no-sync >"$pgdir/initdb.log" 2>&1; then
        photo_err "initdb failed"
        photo_log_tail "$pgdir/initdb.log"
        return 1
    fi
    printf "\ninclude 'photo-upload.conf'\n" >>"$data/postgresql.conf" || return 1
    _PHOTO_PG_DATA=$data
    _PHOTO_PG_LOG=$log

    local durability_settings
    case ${PHOTO_PG_DURABILITY:-fast} in
        fast) durability_settings=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off' ;;
        durable) durability_settings='# durable: fsync, synchronous_commit and full_page_writes keep their defaults' ;;
        *)
            photo_err "PHOTO_PG_DURABILITY must be fast or durable, not ${PHOTO_PG_DURABILITY}"
            return 1
            ;;
    esac

    # Another process may grab the port between free_port and the bind: retry.
    local attempt port=""
    for attempt in 1 2 3; do
        port=$(free_port 1) || return 1
        cat >"$data/photo-upload.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pgdir'
max_connections = 200
$durability_settings
EOF
        if "${_PHOTO_PG_AS[@]}" "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -s start; then
            break
        fi
        photo_log "postgres did not start on port $port (attempt $attempt)"
        port=""
    done
    if [[ -z $port ]]; then
        photo_err "could not start postgres"
        photo_log_tail "$log"
        _PHOTO_PG_DATA=""
        return 1
    fi

    if ! "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres photos; then
        photo_err "createdb photos failed"
        photo_log_tail "$log"
        return 1
    fi

    # Restart/stop/start scripts for the integration tests' fault tests. -l keeps
    # the server's output in pg.log (not the caller's pipes, which would then never
    # close); start and stop are idempotent so a test's cleanup can always call them.
    # shellcheck disable=SC2016 # the bodies are expanded by the generated scripts
    _photo_write_pg_script "$run_dir/pg-restart" "Fast restart of the test cluster" \
        'exec "${as_owner[@]}" "$pg_ctl" -D "$data" -l "$log" -w -t 60 -s -m fast restart' \
        "$bindir" || return 1
    # shellcheck disable=SC2016
    _photo_write_pg_script "$run_dir/pg-stop" "Stop the test cluster; optional mode: fast (default) or immediate" \
        'mode=${1:-fast}
if ! "${as_owner[@]}" "$pg_ctl" -D "$data" status >/dev/null 2>&1; then exit 0; fi
exec "${as_owner[@]}" "$pg_ctl" -D "$data" -w -t 60 -s -m "$mode" stop' \
        "$bindir" || return 1
    # shellcheck disable=SC2016
    _photo_write_pg_script "$run_dir/pg-start" "Start the test cluster again (no-op when running)" \
        'if "${as_owner[@]}" "$pg_ctl" -D "$data" status >/dev/null 2>&1; then exit 0; fi
exec "${as_owner[@]}" "$pg_ctl" -D "$data" -l "$log" -w -t 60 -s start' \
        "$bindir" || return 1

    export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/photos"
    export PG_PORT=$port
    export PGDATA_DIR=$data
    export TEST_PG_RESTART="$run_dir/pg-restart"
    export TEST_PG_STOP="$run_dir/pg-stop"
    export TEST_PG_START="$run_dir/pg-start"
    photo_log "postgres ready: $DATABASE_URL (log $log)"
}

# stop_postgres: immediate stop of the cluster start_postgres started (no-op otherwise).
stop_postgres() {
    [[ -n $_PHOTO_PG_DATA ]] || return 0
    local bindir
    bindir=$(_photo_pg_bindir) || return 1
    if "${_PHOTO_PG_AS[@]}" "$bindir/pg_ctl" -D "$_PHOTO_PG_DATA" status >/dev/null 2>&1; then
        "${_PHOTO_PG_AS[@]}" "$bindir/pg_ctl" -D "$_PHOTO_PG_DATA" -w -t 30 -s -m immediate stop || return 1
    fi
    _PHOTO_PG_DATA=""
}

_photo_localstack_health() {
    # Prints "ok" when both s3 and sqs report "running".
    curl -fsS --max-time 2 "http://127.0.0.1:$1/_localstack/health" 2>/dev/null |
        "$PHOTO_VENV_PYTHON" -c '
import json, sys
try:
    services = json.load(sys.stdin).get("services", {})
except ValueError:
    sys.exit(0)
if services.get("s3") == "running" and services.get("sqs") == "running":
    print("ok")
' 2>/dev/null || true
}

# start_localstack RUN_DIR
# LocalStack (S3 + SQS, signature validation on) from the venv, on a free port.
# PHOTO_LOCALSTACK_SERVICES overrides its SERVICES (scripts/check-aws-template.sh adds
# cloudformation).
# Exports AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION LOCALSTACK_PORT.
start_localstack() {
    local run_dir=${1:?usage: start_localstack RUN_DIR}
    local venv log port attempt started=0 deadline pid
    venv=$(photo_venv_dir)
    if [[ ! -x $venv/bin/python ]]; then
        photo_err "no LocalStack venv at $venv: run ensure_prereqs --localstack first"
        return 1
    fi
    PHOTO_VENV_PYTHON="$venv/bin/python"
    log="$run_dir/localstack.log"
    local t0=$SECONDS
    # Leftovers of a LocalStack that was killed (S3 objects, state) would leak
    # into this run; they are only ours to remove when no other one is running.
    if ! _photo_other_localstack_running; then
        _photo_as_root rm -rf "${PHOTO_LOCALSTACK_DIRS[@]}" || return 1
    fi

    for attempt in 1 2 3; do
        port=$(free_port 1) || return 1
        # S3 signature validation on, so pre-signed URLs are enforced as by AWS; cwd RUN_DIR so nothing
        # it might drop in the working directory lands in the repository.
        (
            cd "$run_dir" &&
                exec env SERVICES="${PHOTO_LOCALSTACK_SERVICES:-s3,sqs,iam,sts}" EAGER_SERVICE_LOADING=1 \
                    GATEWAY_LISTEN="127.0.0.1:$port" LOCALSTACK_HOST="127.0.0.1:$port" \
                    SQS_ENDPOINT_STRATEGY=path S3_SKIP_SIGNATURE_VALIDATION=0 \
                    DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 \
                    "$venv/bin/python" -m localstack.runtime.main
        ) >>"$log" 2>&1 </dev/null &
        pid=$!
        _PHOTO_LS_PID=$pid
        deadline=$((SECONDS + 90))
        while ((SECONDS < deadline)); do
            if [[ $(_photo_localstack_health "$port") == ok ]]; then
                started=1
                break
            fi
            # Died early (typically: the port was taken meanwhile): try another port.
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        ((started)) && break
        if kill -0 "$pid" 2>/dev/null; then
            photo_err "LocalStack not healthy after 90 s"
            photo_log_tail "$log" 60
            stop_localstack
            return 1
        fi
        wait "$pid" 2>/dev/null || true
        _PHOTO_LS_PID=""
        photo_log "LocalStack exited during start-up (attempt $attempt)"
    done
    if ((!started)); then
        photo_err "could not start LocalStack"
        photo_log_tail "$log" 60
        return 1
    fi

    export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
    export AWS_ACCESS_KEY_ID=test
    export AWS_SECRET_ACCESS_KEY=test
    export AWS_REGION=us-east-1
    export LOCALSTACK_PORT=$port
    photo_log "LocalStack ready in $((SECONDS - t0)) s: $AWS_ENDPOINT_URL (log $log)"
}

# create_bucket_and_queue BUCKET QUEUE
# Creates both on AWS_ENDPOINT_URL (idempotent). Exports PHOTOS_BUCKET DETECTION_QUEUE_URL.
create_bucket_and_queue() {
    local bucket=${1:?usage: create_bucket_and_queue BUCKET QUEUE} queue=${2:?usage: create_bucket_and_queue BUCKET QUEUE}
    local py url
    py=${PHOTO_VENV_PYTHON:-$(photo_venv_dir)/bin/python}
    if [[ -z ${AWS_ENDPOINT_URL:-} ]]; then
        photo_err "create_bucket_and_queue: AWS_ENDPOINT_URL is not set (start_localstack first)"
        return 1
    fi
    url=$("$py" - "$bucket" "$queue" <<'PY'
import os, sys
import boto3
from botocore.config import Config

bucket, queue = sys.argv[1], sys.argv[2]
endpoint = os.environ["AWS_ENDPOINT_URL"]
region = os.environ.get("AWS_REGION", "us-east-1")
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region,
                  config=Config(s3={"addressing_style": "path"}))
try:
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
print(sqs.create_queue(QueueName=queue)["QueueUrl"])
PY
    ) || { photo_err "could not create bucket $bucket / queue $queue"; return 1; }
    export PHOTOS_BUCKET=$bucket
    export DETECTION_QUEUE_URL=$url
    photo_log "bucket $PHOTOS_BUCKET, queue $DETECTION_QUEUE_URL"
}

# Sends SIGTERM, waits up to $2 seconds (default 10), then SIGKILL. Our own children only.
_photo_stop_pid() {
    local pid=$1 grace=${2:-10} i
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true # reap it; its status is of no interest here
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        photo_log "pid $pid ignored SIGTERM for ${grace} s: killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# Any LocalStack on this machine (ours is already stopped when this is asked).
_photo_other_localstack_running() {
    pgrep -f 'localstack\.runtime\.main' >/dev/null 2>&1
}

# stop_localstack: stops the LocalStack start_localstack started, then removes the
# directories it writes outside RUN_DIR. They are shared by every LocalStack on the
# machine, so they stay while another one still runs.
stop_localstack() {
    [[ -n $_PHOTO_LS_PID ]] || return 0
    _photo_stop_pid "$_PHOTO_LS_PID" 10
    _PHOTO_LS_PID=""
    if _photo_other_localstack_running; then
        photo_log "another LocalStack is running: leaving ${PHOTO_LOCALSTACK_DIRS[*]}"
        return 0
    fi
    _photo_as_root rm -rf "${PHOTO_LOCALSTACK_DIRS[@]}" || true
}

# start_background NAME LOG CMD...: runs CMD in the background with output in LOG,
# tracked for cleanup_stack. Sets PHOTO_LAST_PID.
start_background() {
    local name=$1 log=$2
    shift 2
    "$@" >>"$log" 2>&1 </dev/null &
    PHOTO_LAST_PID=$!
    _PHOTO_BG_PIDS+=("$PHOTO_LAST_PID")
    _PHOTO_BG_NAMES+=("$name")
}

# wait_http_200 URL TIMEOUT_S PID LOG: waits until URL answers 200; fails early
# (with the log's tail) when PID exits, and after TIMEOUT_S seconds.
wait_http_200() {
    local url=$1 timeout=$2 pid=$3 log=$4 code deadline
    deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null || true)
        [[ $code == 200 ]] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            photo_err "process $pid exited before $url answered 200"
            photo_log_tail "$log"
            return 1
        fi
        sleep 0.3
    done
    photo_err "$url did not answer 200 within $timeout s (last status: ${code:-none})"
    photo_log_tail "$log"
    return 1
}

# cleanup_stack: for `trap cleanup_stack EXIT`. Stops, in reverse dependency order,
# everything this shell started, and removes RUN_DIR (if make_run_dir made it)
# unless KEEP_RUN_DIR=1. Keeps the caller's exit status.
cleanup_stack() {
    local rc=$? i
    trap - EXIT INT TERM
    # Best effort from here on: one failing stop must not skip the others.
    set +e
    for ((i = ${#_PHOTO_BG_PIDS[@]} - 1; i >= 0; i--)); do
        _photo_stop_pid "${_PHOTO_BG_PIDS[i]}" 10
    done
    _PHOTO_BG_PIDS=()
    _PHOTO_BG_NAMES=()
    stop_localstack || true
    stop_postgres || true
    if [[ -n $_PHOTO_OWN_RUN_DIR ]]; then
        if [[ ${KEEP_RUN_DIR:-0} == 1 ]]; then
            photo_log "kept $_PHOTO_OWN_RUN_DIR (KEEP_RUN_DIR=1)"
        else
            rm -rf "$_PHOTO_OWN_RUN_DIR"
        fi
        _PHOTO_OWN_RUN_DIR=""
    fi
    return "$rc"
}

# install_cleanup_traps: cleanup on exit, and turn Ctrl-C / SIGTERM into an exit
# (with the conventional status) so the EXIT trap runs.
install_cleanup_traps() {
    trap cleanup_stack EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
