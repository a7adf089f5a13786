#!/usr/bin/env bash
# Checks deploy/aws/photo-upload.yaml, the CloudFormation template of the AWS resources.
#
#   scripts/check-aws-template.sh [--lint-only]
#
# 1. cfn-lint (no errors) and checkov (no failed check; skips carry their reason in the
#    template's Metadata), both pinned, from PyPI, in a venv of their own.
# 2. Deploys the template to a throwaway LocalStack (with CloudFormation and IAM) three
#    times: the defaults, the FIFO queue with a KMS key, and a copy with one fault per
#    read-back. Reads back versioning, encryption, public access block, the TLS-only bucket
#    policy, CORS, the redrive policy, queue type and SSE, both IAM policies, and the lifecycle
#    rules (LocalStack's CloudFormation ignores them: they are applied from the template with
#    PutBucketLifecycleConfiguration and read back). The broken copy must fail every read-back.
# 3. Runs the demo (scripts/stack.sh --no-wait --skip-build --use-aws-env: Postgres, photo-api,
#    outbox-relay, scripts/demo.sh) against the bucket and queue the stack created.
# LocalStack does not enforce bucket policies or IAM, so those are checked as documents.
# Uses the binaries in .build/debug (build first). Exit status 0 when all passed.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

template=deploy/aws/photo-upload.yaml
# Pinned: a new rule in either linter must not turn a green build red on its own.
lint_specs=("cfn-lint==1.58.0" "checkov==3.3.30")

lint_only=0
while (($#)); do
    case $1 in
        --lint-only) lint_only=1 ;;
        -h | --help)
            sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            photo_err "unknown option $1 (see --help)"
            exit 2
            ;;
    esac
    shift
done

t0=$SECONDS
if ((lint_only)); then ensure_prereqs; else ensure_prereqs --localstack; fi

# The linters' venv (checkov brings boto3, which the read-backs use too). Locked, so that two
# runs started together do not install into it at once.
lint_venv="$(dirname "$(photo_venv_dir)")/aws-lint-venv"
(
    flock 9 || exit 1
    if [[ -f $lint_venv/.pip-specs && $(<"$lint_venv/.pip-specs") == "${lint_specs[*]}" ]]; then exit 0; fi
    photo_log "installing ${lint_specs[*]} into $lint_venv (one-off)"
    [[ -x $lint_venv/bin/python ]] || python3 -m venv "$lint_venv" || exit 1
    "$lint_venv/bin/python" -m pip install --quiet --disable-pip-version-check "${lint_specs[@]}" || exit 1
    printf '%s' "${lint_specs[*]}" >"$lint_venv/.pip-specs"
) 9>"$lint_venv.lock" || {
    photo_err "could not install ${lint_specs[*]} into $lint_venv"
    exit 1
}
photo_log "linters ready after $((SECONDS - t0)) s"

photo_log "cfn-lint $template"
"$lint_venv/bin/cfn-lint" "$template"
photo_log "checkov -f $template"
# --quiet prints only failed checks; its exit status is 1 when any failed. --skip-download: no
# guidelines from the vendor's service (offline here; the checks themselves ship in the package).
"$lint_venv/bin/checkov" --quiet --compact --skip-download --framework cloudformation -f "$template"
photo_log "linters passed after $((SECONDS - t0)) s"
if ((lint_only)); then exit 0; fi

for exe in migrator photo-api outbox-relay; do
    if [[ ! -x .build/debug/$exe ]]; then
        photo_err ".build/debug/$exe is missing: run swift build first"
        exit 1
    fi
done

make_run_dir
install_cleanup_traps
PHOTO_LOCALSTACK_SERVICES=s3,sqs,iam,sts,cloudformation start_localstack "$RUN_DIR"

outputs="$RUN_DIR/stack-outputs.env"
AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL "$lint_venv/bin/python" scripts/aws-template-stack.py \
    --template "$template" --outputs "$outputs"
photo_log "stacks deployed and read back after $((SECONDS - t0)) s"

PHOTOS_BUCKET=$(sed -n 's/^PHOTOS_BUCKET=//p' "$outputs")
DETECTION_QUEUE_URL=$(sed -n 's/^DETECTION_QUEUE_URL=//p' "$outputs")
export PHOTOS_BUCKET DETECTION_QUEUE_URL
# The binaries may be built with coverage (scripts/test.sh): their profiles go to the run
# directory, not into the working directory or the test run's coverage.
export LLVM_PROFILE_FILE="$RUN_DIR/profiles/%p.profraw"
photo_log "demo against bucket $PHOTOS_BUCKET and queue $DETECTION_QUEUE_URL"
scripts/stack.sh --no-wait --skip-build --use-aws-env
photo_log "AWS template check passed in $((SECONDS - t0)) s"
