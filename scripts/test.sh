#!/usr/bin/env bash
# The whole test suite: starts Postgres and Redis if needed, lints the
# protobuf contract with buf, validates deploy/k8s against the Kubernetes
# API schemas, checks that the SDKs' generated code is
# current and that the contract has no breaking change against main,
# checks formatting and clippy, runs every unit and end-to-end test against
# the real servers, then the TypeScript and Python SDK tests against a live
# stack, then the web console's browser test (headless Chromium, installed
# here if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/services.sh --brokers

# CI builds once from scratch: incremental caches would only double the
# disk a cold build takes (about 5 GB without them).
if [ "${CI:-}" = "true" ]; then
  export CARGO_INCREMENTAL=0
fi

echo "==> npm ci, Python venv"
# Reinstalled only when package-lock.json changed since the last install.
if ! cmp -s package-lock.json node_modules/.switchyard-lock; then
  npm ci --no-audit --no-fund --silent
  cp package-lock.json node_modules/.switchyard-lock
fi
./scripts/python-env.sh

echo "==> Kubernetes manifests against the API schemas"
./scripts/check-k8s.sh

echo "==> buf lint"
npx --no-install buf lint

echo "==> buf generate (the checked-in SDK code is current)"
npx --no-install buf generate
if ! git diff --exit-code --stat -- clients/ts/gen clients/python/gen ||
  [ -n "$(git status --porcelain -- clients/ts/gen clients/python/gen)" ]; then
  echo "the generated SDK code is stale: run \`npx buf generate\` and commit clients/" >&2
  exit 1
fi

echo "==> buf breaking against ${BUF_BREAKING_AGAINST:-main}"
# The contract as the base branch has it, from git (worktrees and shallow
# clones alike), so a wire-incompatible change fails here.
against="$(mktemp -d)"
trap 'rm -rf "$against"' EXIT
git archive "${BUF_BREAKING_AGAINST:-main}" -- buf.yaml proto | tar -x -C "$against"
npx --no-install buf breaking --against "$against"

echo "==> cargo fmt --check"
cargo fmt --all --check

echo "==> cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "==> cargo test"
cargo test --locked --workspace

echo "==> SDK tests (TypeScript, Python)"
./scripts/sdk-test.sh

echo "==> console browser test"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is not installed: install Debian's chromium package (or run this as root)" >&2
    exit 1
  fi
  echo "installing chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d tests/console/node_modules/playwright-core ]; then
  (cd tests/console && npm ci --no-audit --no-fund --silent)
fi
# Ignored by a plain `cargo test`: it needs what the lines above install.
cargo test --locked -p switchyard-tests --test console -- --ignored
