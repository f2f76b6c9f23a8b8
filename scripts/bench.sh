#!/usr/bin/env bash
# The performance table: builds the release binary, runs each scenario of
# `switchyard bench` (each on a fresh database and Redis prefix of its own,
# which the bench creates and drops, so no run inherits another's backlog),
# and prints Markdown tables.
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
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

run() { # name, bench arguments...
  local name="$1"; shift
  echo "==> bench $name: $*" >&2
  "$bin" bench "$@" >"$out/$name.json" 2>"$out/$name.log" || {
      echo "bench $name failed:" >&2; tail -20 "$out/$name.log" >&2; }
}

run emit64 --duration-secs "$secs" --fanout 0 --concurrency 64
run batch100 --duration-secs "$secs" --fanout 0 --concurrency 8 --batch 100
run fanout3 --duration-secs "$long" --fanout 3 --concurrency 64
run rate1000 --duration-secs "$secs" --fanout 3 --rate 1000 --concurrency 64
run preload --duration-secs "$secs" --fanout 3 --preload --rate 0
if [ -z "${BENCH_SKIP_BAD_APPLE:-}" ]; then
  for rate in 200 1000; do
    run "slow$rate" --compare-bad-apple --duration-secs 15 --fanout 3 --rate "$rate" --slow 1 --slow-delay-ms 2000 --concurrency 64
    run "failing$rate" --compare-bad-apple --duration-secs 15 --fanout 3 --rate "$rate" --failing 1 --concurrency 64
  done
fi

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

bad = [(f"{kind}{rate}", kind, rate) for rate in (200, 1000) for kind in ("slow", "failing")]
if any(load(name) for name, _, _ in bad):
    print()
    print("| one bad destination beside 3 healthy | healthy p50 / p99 alone | with the bad one | p99 ratio |")
    print("| --- | --- | --- | --- |")
    for name, kind, rate in bad:
        r = load(name)
        if r is None:
            continue
        what = "answers after 2 s" if kind == "slow" else "answers 500"
        h, b = r["healthy"]["latency_ms"], r["bad_apple"]["latency_ms"]
        print(f"| {rate} events/s, one {what} | {h['p50']} / {h['p99']} ms | {b['p50']} / {b['p99']} ms | {r['p99_ratio']} |")
PY
