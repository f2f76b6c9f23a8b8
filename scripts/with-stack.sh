#!/usr/bin/env bash
# Runs a command against a live Switchyard stack of its own, then tears the
# stack down: `scripts/with-stack.sh CMD ARGS…`. The SDK tests use it.
#
# The stack is `switchyard serve` (the debug binary the test command builds,
# or $SWITCHYARD_BIN) with a fresh database, a fresh Redis prefix, free
# ports, a fresh master key and pepper, and one workspace. CMD sees:
#   SWITCHYARD_{REGISTRY,INGEST,ROUTER,DELIVERY}_ENDPOINT  the services
#   SWITCHYARD_API_KEY   the workspace's admin key
#   SWITCHYARD_WORKSPACE_ID  its id, `ws_…` (the `ws` claim of machine JWTs)
#   SWITCHYARD_BIN       the binary (for `switchyard schema codegen`)
# The database is dropped and the Redis keys deleted on the way out.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${SWITCHYARD_BIN:-$root/target/debug/switchyard}"
[ -x "$bin" ] || { echo "with-stack: no $bin (cargo build -p switchyard)" >&2; exit 1; }

suffix="$(date +%s)_$$"
admin_url="${SWITCHYARD_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
database="sy_sdk_$suffix"
redis_url="${SWITCHYARD_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

export SWITCHYARD_BIN="$bin"
export SWITCHYARD_DATABASE_URL="${admin_url%/*}/$database"
export SWITCHYARD_REDIS_URL="$redis_url"
export SWITCHYARD_REDIS_PREFIX="sy_sdk_$suffix"
export SWITCHYARD_TELEMETRY__METRICS_ADDR=127.0.0.1:0
export SWITCHYARD_API_KEY_PEPPER="$("$bin" keys generate)"
export SWITCHYARD_SECRETS__KEYS__K1="$("$bin" keys generate)"
export SWITCHYARD_LOG_FORMAT=json
for service in REGISTRY INGEST ROUTER DELIVERY; do
  addr="127.0.0.1:$(free_port)"
  export "SWITCHYARD_${service}_ADDR=$addr"
  export "SWITCHYARD_${service}_ENDPOINT=http://$addr"
done

log="$(mktemp -t switchyard-sdk-stack.XXXXXX.log)"
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
  redis-cli -u "$redis_url" --scan --pattern "$SWITCHYARD_REDIS_PREFIX*" 2>/dev/null |
    xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1 || true
  rm -f "$log"
}
trap cleanup EXIT

"$bin" migrate >>"$log" 2>&1
created="$("$bin" workspace create "sdk-$$" 2>>"$log")"
SWITCHYARD_API_KEY="$(tail -n 1 <<<"$created")"
SWITCHYARD_WORKSPACE_ID="$(grep -o 'ws_[0-9A-Za-z_]*' <<<"$created" | head -n 1)"
export SWITCHYARD_API_KEY SWITCHYARD_WORKSPACE_ID
"$bin" serve >>"$log" 2>&1 &
server=$!

# Ready: every service accepts connections and the registry answers.
port_open() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
ready=""
for _ in $(seq 1 100); do
  if port_open "$SWITCHYARD_REGISTRY_ADDR" && port_open "$SWITCHYARD_INGEST_ADDR" &&
    port_open "$SWITCHYARD_ROUTER_ADDR" && port_open "$SWITCHYARD_DELIVERY_ADDR" &&
    "$bin" schema list >/dev/null 2>&1; then
    ready=1
    break
  fi
  kill -0 "$server" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "with-stack: the stack did not start; its log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi

status=0
"$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "with-stack: the command failed ($status); the last lines of the stack's log:" >&2
  tail -n 20 "$log" >&2
fi
exit "$status"
