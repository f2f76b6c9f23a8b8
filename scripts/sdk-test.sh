#!/usr/bin/env bash
# The TypeScript and Python SDKs' tests: compiles the TypeScript SDK with
# tsc, then runs `node --test` and pytest against a live stack of their own
# (scripts/with-stack.sh). Needs `npm ci`, scripts/python-env.sh and the
# debug `switchyard` binary (the test command does all three first).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

(cd clients/ts && ../../node_modules/.bin/tsc -p tsconfig.json)
# The codegen tests run `switchyard schema codegen`, which finds
# datamodel-codegen on the PATH and json2ts through npx.
export PATH="$root/.venv/bin:$root/node_modules/.bin:$PATH"
./scripts/with-stack.sh bash -c '
  set -e
  echo "==> node --test (clients/ts)"
  node --test clients/ts/dist/test/*.test.js
  echo "==> pytest (clients/python)"
  .venv/bin/python -m pytest clients/python/tests
'
