#!/usr/bin/env bash
# The whole stack on one machine, with a walk-through: starts Postgres and
# Redis if needed, builds Switchyard, runs the four services and a webhook
# receiver in one process, and sends one event to a signed webhook.
# Pass --exit to stop after the walk-through.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/services.sh
# A debug build, as the tests make: it compiles much faster than a release
# build (and shares the test command's build cache), and one event needs no
# more speed. Deployments build release (README, deploy/Dockerfile).
cargo build --locked -p switchyard
exec ./target/debug/switchyard demo "$@"
