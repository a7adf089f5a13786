#!/usr/bin/env bash
# Checks the manifests under deploy/kubernetes/ (run by KubernetesManifestTests in the test suite).
#
#   scripts/check-kubernetes.sh          PORT and RELAY_METRICS_PORT match the containers' ports
#                                        their probes use, kubernetes-validate (the Kubernetes
#                                        schemas, strict) and checkov (no failed check; every
#                                        skip gives its reason)
#   scripts/check-kubernetes.sh --env    prints "CONTAINER<TAB>VARIABLE" for every environment
#                                        variable a container gets (env, and envFrom ConfigMaps
#                                        and Secrets defined here), for the test to hold to
#                                        docs/configuration.md
#
# Uses the venv ensure_prereqs (scripts/lib.sh) installs: DEPLOY_LINT_VENV, default
# ~/.cache/photo-upload/deploy-lint-venv. Exits non-zero on any finding.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
venv=${DEPLOY_LINT_VENV:-$HOME/.cache/photo-upload/deploy-lint-venv}
if [[ ! -x $venv/bin/checkov || ! -x $venv/bin/kubernetes-validate ]]; then
    echo "error: checkov and kubernetes-validate are not installed in $venv: run scripts/test.sh (ensure_prereqs installs them)" >&2
    exit 1
fi
mapfile -t manifests < <(find deploy/kubernetes -name '*.yaml' | sort)
if ((${#manifests[@]} == 0)); then
    echo "error: no manifests under deploy/kubernetes" >&2
    exit 1
fi

if [[ ${1:-} == --env ]]; then
    exec "$venv/bin/python" - "${manifests[@]}" <<'PY'
import sys
import yaml

documents = []
for path in sys.argv[1:]:
    with open(path) as f:
        documents += [d for d in yaml.safe_load_all(f) if d]
sources = {}
for d in documents:
    if d.get("kind") in ("ConfigMap", "Secret"):
        keys = list((d.get("data") or {})) + list((d.get("stringData") or {}))
        sources[(d["kind"], d["metadata"]["name"])] = keys
for d in documents:
    spec = d.get("spec", {})
    pod = spec.get("template", {}).get("spec") if d.get("kind") in ("Deployment", "Job") else None
    if not pod:
        continue
    for container in pod.get("initContainers", []) + pod.get("containers", []):
        names = [e["name"] for e in container.get("env", [])]
        for source in container.get("envFrom", []):
            for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if ref in source:
                    key = (kind, source[ref]["name"])
                    if key not in sources:
                        sys.exit(f"error: {container['name']} reads {kind} {key[1]}, which no manifest here defines")
                    names += [source.get("prefix", "") + k for k in sources[key]]
        for name in names:
            print(f"{container['name']}\t{name}")
PY
fi

echo "==> ports: each listen port a ConfigMap sets is the container's port its probes use"
"$venv/bin/python" - "${manifests[@]}" <<'PY'
import sys
import yaml

documents = []
for path in sys.argv[1:]:
    with open(path) as f:
        documents += [d for d in yaml.safe_load_all(f) if d]
config = {d["metadata"]["name"]: d.get("data") or {} for d in documents if d.get("kind") == "ConfigMap"}
problems = []
for d in documents:
    if d.get("kind") != "Deployment":
        continue
    pod = d["spec"]["template"]["spec"]
    for c in pod.get("initContainers", []) + pod.get("containers", []):
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        settings = {}
        for source in c.get("envFrom", []):
            settings.update(config.get(source.get("configMapRef", {}).get("name"), {}))
        for variable in ("PORT", "RELAY_METRICS_PORT"):
            if variable in settings and int(settings[variable]) not in ports.values():
                problems.append(f"{c['name']}: {variable}={settings[variable]} is none of its ports {ports}")
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            port = c.get(probe, {}).get("httpGet", {}).get("port")
            if port is not None and port not in ports and port not in ports.values():
                problems.append(f"{c['name']}: {probe} uses port {port}, not one of {ports}")
for problem in problems:
    print("error:", problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

echo "==> kubernetes-validate (strict) ${manifests[*]}"
"$venv/bin/kubernetes-validate" --strict "${manifests[@]}"

# Every skip must say why: "checkov.io/skipN: CHECK_ID=reason".
if grep -nE 'checkov\.io/skip[0-9]+: *[A-Z0-9_]+ *$' "${manifests[@]}"; then
    echo "error: a checkov skip above gives no reason" >&2
    exit 1
fi
echo "==> checkov (kubernetes)"
args=()
for m in "${manifests[@]}"; do args+=(-f "$m"); done
# --skip-download: offline, and no calls home.
"$venv/bin/checkov" --framework kubernetes --skip-download --compact --quiet "${args[@]}"
