#!/usr/bin/env bash
# Validates every resource deploy/k8s/kustomization.yaml lists against the
# Kubernetes API schemas (strict: an unknown field fails too), for the
# oldest and newest versions we support. Offline: kubernetes-validate
# bundles the schemas. The test command runs it; so can you.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ ! -x .venv/bin/kubernetes-validate ]; then
  ./scripts/python-env.sh
fi
mapfile -t resources < <(.venv/bin/python - <<'PY'
import yaml
with open("deploy/k8s/kustomization.yaml") as file:
    for resource in yaml.safe_load(file)["resources"]:
        print(f"deploy/k8s/{resource}")
PY
)
for version in 1.30.0 1.37.0; do
  .venv/bin/kubernetes-validate --strict --quiet --kubernetes-version "$version" "${resources[@]}"
done
echo "deploy/k8s: ${#resources[@]} files valid against Kubernetes 1.30 and 1.37"
