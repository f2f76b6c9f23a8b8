#!/usr/bin/env bash
# Fanout-3 deliveries/s with 1 and with 3 delivery processes: for each
# count, a fresh database and Redis prefix, one registry, one ingest and one
# router process plus N `switchyard serve delivery` processes (release
# build), then `switchyard bench --external --fanout 3` at full speed
# against them. Prints one Markdown row per count; the JSON reports stay in
# the printed directory.
#
#   ./scripts/bench_replicas.sh                  # 1 and 3 delivery processes, 20 s each
#   BENCH_SECS=30 BENCH_COUNTS="1 2 3" ./scripts/bench_replicas.sh
#
# Needs Postgres and Redis (started by ./scripts/services.sh if absent).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/services.sh >/dev/null
cargo build --release --locked --quiet -p switchyard
bin="$PWD/target/release/switchyard"
secs="${BENCH_SECS:-20}"
counts="${BENCH_COUNTS:-1 3}"
out="$(mktemp -d -t bench-replicas.XXXXXX)"
admin_url="${SWITCHYARD_BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${SWITCHYARD_REDIS_URL:-redis://127.0.0.1:6379}"
pids=()

stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap stop_all EXIT

wait_serving() { # endpoint
  for _ in $(seq 1 300); do
    "$bin" health "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$1 did not start; see $out" >&2
  return 1
}

run() { # delivery process count
  local count="$1" name="bench_replicas_$$_$1"
  export SWITCHYARD_DATABASE_URL="${admin_url%/*}/$name"
  export SWITCHYARD_REDIS_URL="$redis_url"
  export SWITCHYARD_REDIS_PREFIX="$name"
  export SWITCHYARD_INTERNAL_TOKEN="bench-replicas-internal"
  export SWITCHYARD_API_KEY_PEPPER="bench-replicas-pepper"
  SWITCHYARD_SECRETS__KEYS__K1="$("$bin" keys generate)"
  export SWITCHYARD_SECRETS__KEYS__K1
  export SWITCHYARD_ALLOWED_DESTINATION_NETWORKS=127.0.0.1/32
  export SWITCHYARD_TELEMETRY__METRICS_ADDR=127.0.0.1:0
  export SWITCHYARD_TELEMETRY__TRACING=off
  export SWITCHYARD_REGISTRY_ADDR=127.0.0.1:56051 SWITCHYARD_INGEST_ADDR=127.0.0.1:56052
  export SWITCHYARD_ROUTER_ADDR=127.0.0.1:56053
  export SWITCHYARD_REGISTRY_ENDPOINT=http://127.0.0.1:56051
  export SWITCHYARD_INGEST_ENDPOINT=http://127.0.0.1:56052
  export SWITCHYARD_ROUTER_ENDPOINT=http://127.0.0.1:56053
  export SWITCHYARD_DELIVERY_ENDPOINT=http://127.0.0.1:56060
  export RUST_LOG=warn
  "$bin" migrate >/dev/null
  SWITCHYARD_API_KEY="$("$bin" workspace create bench | tail -n 1)"
  export SWITCHYARD_API_KEY
  for service in registry ingest router; do
    "$bin" serve "$service" >"$out/$count-$service.log" 2>&1 &
    pids+=("$!")
  done
  for i in $(seq 0 $((count - 1))); do
    SWITCHYARD_DELIVERY_ADDR="127.0.0.1:$((56060 + i))" \
      "$bin" serve delivery >"$out/$count-delivery-$i.log" 2>&1 &
    pids+=("$!")
  done
  for port in 56051 56052 56053 $(seq 56060 $((56060 + count - 1))); do
    wait_serving "http://127.0.0.1:$port"
  done
  echo "==> $count delivery process(es): bench --external --fanout 3 for ${secs}s" >&2
  "$bin" bench --external --fanout 3 --concurrency 64 --duration-secs "$secs" \
    >"$out/$count.json" 2>"$out/$count-bench.log"
  stop_all
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
  redis-cli -u "$redis_url" --scan --pattern "$name:*" | xargs -r redis-cli -u "$redis_url" DEL >/dev/null
}

for count in $counts; do
  run "$count"
done

echo "| delivery processes | deliveries/s (fanout 3) | events/s accepted | emit→delivered p50 / p99 ms | duplicates | lost |"
echo "| --- | --- | --- | --- | --- | --- |"
for count in $counts; do
  python3 - "$out/$count.json" "$count" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lost = r["expected_deliveries"] - r["delivered"]
print(f'| {sys.argv[2]} | {r["delivered_per_sec"]} | {r["accepted_per_sec"]} | '
      f'{r["latency_ms"]["p50"]} / {r["latency_ms"]["p99"]} | {r["duplicates"]} | {lost} |')
PY
done
echo "reports in $out" >&2
