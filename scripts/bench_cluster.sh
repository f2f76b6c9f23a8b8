#!/usr/bin/env bash
# Fanout-3 deliveries/s with the delivery stream on one Redis vs sharded
# over a 3-node Redis Cluster that this script starts (redis-server
# --cluster-enabled yes on free local ports, joined with redis-cli
# --cluster create) and removes afterwards. Each run is the in-process
# `switchyard bench` on a fresh database and prefix of its own.
#
#   ./scripts/bench_cluster.sh                    # 20 s per run
#   BENCH_SECS=30 ./scripts/bench_cluster.sh
#   BENCH_NO_BUILD=1 ./scripts/bench_cluster.sh   # use the release binary as built
#
# Rows: single Redis with 1 partition (today's layout), single Redis with 3
# partitions, the 3-node cluster with 3 partitions (one per node).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v redis-server >/dev/null || { echo "redis-server is not on PATH" >&2; exit 1; }
./scripts/services.sh >/dev/null
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release --quiet -p switchyard
bin=./target/release/switchyard
secs="${BENCH_SECS:-20}"
out="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

# Three ports whose cluster bus ports (+10000) are free too.
read -r -a ports < <(python3 - <<'PY'
import socket
ports = []
while len(ports) < 3:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    if port > 55000 or port in ports:
        continue
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port + 10000))
    except OSError:
        continue
    ports.append(port)
print(*ports)
PY
)
for port in "${ports[@]}"; do
  redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file "nodes-$port.conf" --save "" --appendonly no \
    --dir "$out" >"$out/redis-$port.log" 2>&1 &
  pids+=("$!")
done
for port in "${ports[@]}"; do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
done
redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >"$out/create.log"
for port in "${ports[@]}"; do
  until redis-cli -p "$port" cluster info | grep -q cluster_state:ok; do sleep 0.1; done
done
cluster_url="redis+cluster://$(IFS=,; echo "${ports[*]/#/127.0.0.1:}")"

run() { # name, partitions, redis url
  local name="$1" partitions="$2" url="$3"
  echo "==> bench $name: fanout 3, $secs s, partitions $partitions, $url" >&2
  SWITCHYARD_REDIS_URL="$url" SWITCHYARD_REDIS__PARTITIONS="$partitions" \
    "$bin" bench --duration-secs "$secs" --fanout 3 --concurrency 64 \
    >"$out/$name.json" 2>"$out/$name.log" || {
      echo "bench $name failed:" >&2; tail -20 "$out/$name.log" >&2; }
}

single_url="${SWITCHYARD_REDIS_URL:-redis://127.0.0.1:6379}"
run single1 1 "$single_url"
run single3 3 "$single_url"
run cluster3 3 "$cluster_url"

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
rows = [
    ("single1", "single Redis, 1 partition"),
    ("single3", "single Redis, 3 partitions"),
    ("cluster3", "3-node Redis Cluster, 3 partitions"),
]
print("| redis | deliveries/s | events/s | emit→delivered p50 / p99 | duplicates | lost |")
print("| --- | --- | --- | --- | --- | --- |")
for name, title in rows:
    try:
        r = json.load(open(os.path.join(out, name + ".json")))
    except Exception:
        print(f"| {title} | failed | | | | |")
        continue
    lost = r["expected_deliveries"] - r["delivered"]
    l = r["latency_ms"]
    print(f"| {title} | {r['delivered_per_sec']:,.0f} | {r['accepted_per_sec']:,.0f} | {l['p50']} / {l['p99']} ms | {r['duplicates']} | {lost} |")
PY
