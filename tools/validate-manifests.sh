#!/usr/bin/env bash
# Validates deploy/'s Kubernetes manifests offline and strictly (an unknown field is an error):
#  - built-in kinds against the OpenAPI schemas that the PyPI package kubernetes-validate ships
#    (tools/deps.sh installs it), for the oldest and the newest Kubernetes version checked here;
#  - NetworkAttachmentDefinitions (examples) against the schema in crd.yml itself, with
#    jsonschema (a dependency of kubernetes-validate), plus: spec.config is a JSON object.
# Usage: tools/validate-manifests.sh [DIR]   (default deploy; DIR/*.yml and DIR/examples/*.yml)
# Exit 0 when all pass; every problem is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-deploy}"
files=("$dir"/*.yml "$dir"/examples/*.yml)
status=0
for version in 1.28.0 1.37.0; do
  if ! out=$(python3 -m kubernetes_validate --strict --kubernetes-version "$version" "${files[@]}" 2>&1); then
    status=1
  fi
  printf '%s\n' "$out"
  # A missing schema is only a warning to kubernetes-validate; here only the CRD's own kind may lack one.
  if printf '%s\n' "$out" | grep '^WARN' | grep -v "Couldn't find schema for kind NetworkAttachmentDefinition with api version k8s.cni.cncf.io/v1 " >&2; then
    echo "validate-manifests: unexpected warnings (above) for Kubernetes $version" >&2
    status=1
  fi
done
python3 - "$dir/crd.yml" "${files[@]}" <<'PY' || status=1
import json, sys, yaml, jsonschema
crd = yaml.safe_load(open(sys.argv[1]))
schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
checked, bad = 0, 0
for path in sys.argv[2:]:
    for doc in yaml.safe_load_all(open(path)):
        if not doc or doc.get("kind") != "NetworkAttachmentDefinition":
            continue
        checked += 1
        name = f'{path}: {doc["metadata"]["name"]}'
        try:
            jsonschema.validate(doc, schema)
            if set(doc) - {"apiVersion", "kind", "metadata", "spec"} or set(doc["spec"]) - {"config"}:
                raise ValueError("fields the CRD does not define")
            if doc["apiVersion"] != "k8s.cni.cncf.io/v1":
                raise ValueError("apiVersion is not k8s.cni.cncf.io/v1")
            if not isinstance(json.loads(doc["spec"]["config"]), dict):
                raise ValueError("spec.config is not a JSON object")
            print(f"INFO {name} passed against {sys.argv[1]}")
        except Exception as e:
            bad += 1
            print(f"ERROR {name}: {e}")
if checked == 0:
    print("ERROR no NetworkAttachmentDefinition was checked")
    bad += 1
sys.exit(1 if bad else 0)
PY
exit $status
