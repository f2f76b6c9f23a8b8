#!/usr/bin/env bash
# Makes the Python environment the SDK work needs, in .venv (git-ignored):
# grpcio-tools for `buf generate`, datamodel-code-generator for
# `switchyard schema codegen --lang python`, pytest, the Python SDK
# itself (editable), and kubernetes-validate for deploy/k8s
# (scripts/check-k8s.sh). Idempotent: a second run only checks the pins.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  -r clients/python/requirements-dev.txt -r scripts/requirements-deploy.txt \
  -e clients/python
