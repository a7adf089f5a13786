#!/usr/bin/env bash
# Checks the alert rules and the dashboard under deploy/ (part of scripts/test.sh; needs no
# service):
#   - `promtool check rules`: deploy/prometheus/alerts.yaml parses and its expressions are valid;
#   - `promtool test rules`: the unit tests in deploy/prometheus/alerts.test.yaml pass (each alert
#     fires on the series that should trigger it, and not on healthy ones);
#   - deploy/grafana/photo-upload.json is valid JSON with a unique id per panel.
# That both name only metrics the processes export is ObservabilityContractTests' job: it
# scrapes the real /metrics of photo-api and outbox-relay.
#
#   scripts/check-observability.sh
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

if ! command -v promtool >/dev/null 2>&1; then
    echo "check-observability: promtool not found (Debian package prometheus; scripts/lib.sh ensure_prereqs installs it)" >&2
    exit 1
fi
promtool check rules deploy/prometheus/alerts.yaml
promtool test rules deploy/prometheus/alerts.test.yaml
python3 - deploy/grafana/photo-upload.json <<'PY'
import json, sys

path = sys.argv[1]
with open(path, encoding="utf-8") as file:
    dashboard = json.load(file)
ids = []
def walk(panels):
    for panel in panels:
        ids.append(panel["id"])
        walk(panel.get("panels", []))
walk(dashboard["panels"])
duplicates = sorted({i for i in ids if ids.count(i) > 1})
if duplicates:
    sys.exit(f"{path}: panel ids used twice: {duplicates}")
print(f"{path}: {len(ids)} panels")
PY
