#!/usr/bin/env bash
# README command 2: run all tests, with code coverage and a per-module summary.
#
#   scripts/test.sh [--without-localstack] [swift test options, e.g. --filter X]
#
# Integration tests need real services, so this starts a throwaway Postgres
# and LocalStack for S3/SQS (S3 signature validation on; --without-localstack
# skips it, and the tests that need it then fail saying so) and stops them on exit.
# A bare `swift test` skips the tests that need these services; here they always
# run (REQUIRE_TEST_DATABASE=1, REQUIRE_LOCALSTACK=1), so a missing one fails loudly.
# Variables the tests can read:
#   TEST_DATABASE_URL (and DATABASE_URL)             the throwaway database
#   TEST_PG_RESTART, TEST_PG_STOP, TEST_PG_START      scripts for Postgres fault tests
#   MIGRATOR_BIN, PHOTO_API_BIN, OUTBOX_RELAY_BIN     absolute paths of the executables
#   SWIFT_CLIENT_EXAMPLE_BIN, _BUILD_STATUS, _BUILD_LOG  the generated Swift client example,
#     built beside the main build (its exit status lands in _BUILD_STATUS when it ends)
#   unless --without-localstack: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#     AWS_REGION, LOCALSTACK_PORT, PHOTO_VENV_PYTHON (python with boto3/botocore)
# A full run (no --filter/--skip, with LocalStack) also runs scripts/check-aws-template.sh
# beside the tests, on its own LocalStack and Postgres, and prints its log after them.
# Exits with swift test's status, or 1 when that passed and the template check failed.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

usage() {
    sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

with_localstack=1
swift_test_args=()
while (($#)); do
    case $1 in
        --with-localstack) with_localstack=1 ;;
        --without-localstack) with_localstack=0 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) swift_test_args+=("$1") ;;
    esac
    shift
done

prereq_args=()
if ((with_localstack)); then prereq_args+=(--localstack); fi
ensure_prereqs "${prereq_args[@]}"

# Formatting is part of the suite: .swift-format at the root, toolchain's swift-format.
swift format lint --strict --recursive Package.swift Sources Tests

make_run_dir
install_cleanup_traps
# The Swift client generated from the OpenAPI document (docs/examples/swift-client) is a package
# of its own: it builds beside the service's build, niced, into its own .build (what the
# generator's own build costs overlaps the main build); GeneratedSwiftClientTests waits for the
# status file, then runs it against the stack. A failed main build stops it (cleanup_stack).
export SWIFT_CLIENT_EXAMPLE_BIN="$repo_root/docs/examples/swift-client/.build/debug/PhotoUploadClient"
export SWIFT_CLIENT_EXAMPLE_BUILD_STATUS="$RUN_DIR/swift-client-build.status"
export SWIFT_CLIENT_EXAMPLE_BUILD_LOG="$RUN_DIR/swift-client-build.log"
start_background swift-client-example "$SWIFT_CLIENT_EXAMPLE_BUILD_LOG" \
    nice -n 10 scripts/build-swift-client-example.sh "$SWIFT_CLIENT_EXAMPLE_BUILD_STATUS"
# Build before starting services, so a compile error fails fast. Coverage
# instrumentation is a build setting: `swift test --skip-build
# --enable-code-coverage` only collects it, so the build must have it too.
scripts/stamp-build.sh
swift build --build-tests --enable-code-coverage

# The migrations' locking hazards are part of the suite too, next to the format check: it
# needs the migrator just built, and no database (docs/operations.md#lint).
.build/debug/migrator lint sql
# The alert rules (promtool check and unit tests) and the dashboard, in seconds.
scripts/check-observability.sh

start_postgres "$RUN_DIR"
export TEST_DATABASE_URL=$DATABASE_URL
# Never a skip here: a test that needs a service runs, and fails if the service is missing.
export REQUIRE_TEST_DATABASE=1 REQUIRE_LOCALSTACK=1
if ((with_localstack)); then
    start_localstack "$RUN_DIR"
fi

bin_dir="$repo_root/.build/debug"
export MIGRATOR_BIN="$bin_dir/migrator"
export PHOTO_API_BIN="$bin_dir/photo-api"
export OUTBOX_RELAY_BIN="$bin_dir/outbox-relay"

# The CloudFormation template's check needs only the binaries just built, so it runs beside
# the tests (tracked for cleanup_stack), niced: some tests time waits, the check has no tight
# deadline. A partial run skips it.
aws_check_pid=""
aws_check_log="$RUN_DIR/check-aws-template.log"
partial_run=$((!with_localstack))
for arg in "${swift_test_args[@]}"; do
    case $arg in --filter* | --skip*) partial_run=1 ;; esac
done
if ((!partial_run)); then
    start_background check-aws-template "$aws_check_log" nice -n 10 scripts/check-aws-template.sh
    aws_check_pid=$PHOTO_LAST_PID
else
    photo_log "not running scripts/check-aws-template.sh (a partial run)"
fi

# No --parallel by default: Swift Testing already runs tests concurrently in one
# process and honours .serialized; XCTest's --parallel would fork per test and
# change the output. Pass it explicitly if wanted.
test_log="$RUN_DIR/swift-test.log"
status=0
swift test --skip-build --enable-code-coverage "${swift_test_args[@]}" 2>&1 | tee "$test_log" ||
    status=${PIPESTATUS[0]}

if [[ -n $aws_check_pid ]]; then
    aws_check_status=0
    wait "$aws_check_pid" || aws_check_status=$?
    printf '\n----- scripts/check-aws-template.sh (exit status %s) -----\n' "$aws_check_status"
    cat "$aws_check_log"
    printf -- '----- end of scripts/check-aws-template.sh -----\n'
    if ((aws_check_status != 0)); then
        photo_err "scripts/check-aws-template.sh failed (exit status $aws_check_status)"
        if ((status == 0)); then status=1; fi
    fi
fi

echo
# The summary is information: never let it change the tests' verdict.
scripts/coverage.sh "$bin_dir" || echo "coverage summary unavailable (see above)" >&2

# Repeat swift test's verdict line last, so that it stays the closing line of
# the run (CI reads it) and is easy to find below the coverage table.
verdict=$(grep -E '^. Test run with [0-9]+ tests?' "$test_log" | tail -n 1 || true)
if [[ -n $verdict ]]; then
    printf '\n%s\n' "$verdict"
fi
exit "$status"
