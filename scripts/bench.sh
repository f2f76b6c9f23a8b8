#!/usr/bin/env bash
# The performance table: builds the release binary, runs each scenario of
# `switchyard bench` on a fresh database and Redis prefix of its own (so no
# run inherits another's backlog), and prints a Markdown table.
#
#   ./scripts/bench.sh                 # every row, 20 s each (the 60 s row: BENCH_LONG_SECS)
#   BENCH_SECS=10 ./scripts/bench.sh   # shorter runs
#
# Needs Postgres and Redis (started by ./scripts/services.sh if absent).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/services.sh >/dev/null
cargo build --release --quiet -p switchyard
bin=./target/release/switchyard
secs="${BENCH_SECS:-20}"
long="${BENCH_LONG_SECS:-60}"
admin="${SWITCHYARD_BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

run() { # name, bench arguments...
  local name="$1"; shift
  local db="sy_bench_$(date +%s%N)"
  psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
  SWITCHYARD_DATABASE_URL="${admin%/*}/$db" SWITCHYARD_REDIS_PREFIX="$db" \
    "$bin" bench "$@" >"$out/$name.json" 2>"$out/$name.log" || {
      echo "bench $name failed:" >&2; tail -20 "$out/$name.log" >&2; }
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  redis-cli --scan --pattern "$db:*" | xargs -r redis-cli del >/dev/null
}

run emit64 --duration-secs "$secs" --fanout 0 --concurrency 64
run batch100 --duration-secs "$secs" --fanout 0 --concurrency 8 --batch 100
run fanout3 --duration-secs "$long" --fanout 3 --concurrency 64
run rate1000 --duration-secs "$secs" --fanout 3 --rate 1000 --concurrency 64
run preload --duration-secs "$secs" --fanout 3 --preload --rate 0

python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
def load(name):
    try:
        return json.load(open(os.path.join(out, name + ".json")))
    except Exception:
        return None
rows = [
    ("emit64", "`EmitEvent`, 64 in flight, no rules", "accepted/s", lambda r: r["accepted_per_sec"], lambda r: f'emit p50 {r["emit_latency_ms"]["p50"]} ms, p99 {r["emit_latency_ms"]["p99"]} ms'),
    ("batch100", "`EmitEvents`, 100 per call, 8 in flight", "events/s", lambda r: r["accepted_per_sec"], lambda r: f'call p99 {r["emit_latency_ms"]["p99"]} ms'),
    ("fanout3", "fanout 3, max speed", "deliveries/s", lambda r: r["delivered_per_sec"], lambda r: f'{r["accepted_per_sec"]} events/s; emit p99 {r["emit_latency_ms"]["p99"]} ms; emit→delivered p50 {r["latency_ms"]["p50"]} ms, p99 {r["latency_ms"]["p99"]} ms; drain after {r["drain_secs"]} s'),
    ("rate1000", "1,000 events/s × 3", "deliveries/s", lambda r: r["delivered_per_sec"], lambda r: f'emit p99 {r["emit_latency_ms"]["p99"]} ms; emit→delivered p50 {r["latency_ms"]["p50"]} ms, p99 {r["latency_ms"]["p99"]} ms'),
    ("preload", "backlog drain (`--preload`), fanout 3", "deliveries/s", lambda r: r["delivered_per_sec_overall"], lambda r: f'{r["delivered"]} deliveries'),
]
print("| scenario | throughput | latency and notes | duplicates | signature failures | refused | lost |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for name, title, unit, rate, notes in rows:
    r = load(name)
    if r is None:
        print(f"| {title} | failed | | | | | |")
        continue
    lost = r["expected_deliveries"] - r["delivered"]
    refused = ", ".join(f"{k} {v}" for k, v in (r.get("emit_refused_by_code") or {}).items()) or "0"
    print(f"| {title} | {rate(r):,.0f} {unit} | {notes(r)} | {r['duplicates']} | {r['signature_failures']} | {refused} | {lost} |")
PY
