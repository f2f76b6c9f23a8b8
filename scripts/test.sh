#!/usr/bin/env bash
# The whole test suite: starts Postgres and Redis if needed, lints the
# protobuf contract with buf, checks formatting and clippy, runs every
# unit and end-to-end test against the real servers, then the web
# console's browser test (headless Chromium, installed here if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/services.sh

# CI builds once from scratch: incremental caches would only double the
# disk a cold build takes (about 5 GB without them).
if [ "${CI:-}" = "true" ]; then
  export CARGO_INCREMENTAL=0
fi

echo "==> buf lint"
if [ ! -x node_modules/.bin/buf ]; then
  npm ci --no-audit --no-fund --silent
fi
npx --no-install buf lint

echo "==> cargo fmt --check"
cargo fmt --all --check

echo "==> cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "==> cargo test"
cargo test --locked --workspace

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
