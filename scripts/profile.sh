#!/usr/bin/env bash
# Where the time goes at full speed: runs `switchyard bench` (fanout 3, as
# fast as ingest answers; or the arguments given) and, while it runs,
#  - the CPU seconds of each process group (switchyard, postgres, redis),
#  - Postgres backends sampled every 50 ms by statement and wait event,
#  - `perf record` of the switchyard process, reported by function.
#
#   ./scripts/profile.sh                          # fanout 3, max speed, 30 s
#   ./scripts/profile.sh --preload --rate 0       # the engine alone
#
# Needs perf (Debian's linux-perf) for the last part; prints Markdown.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/services.sh >/dev/null
cargo build --release --quiet -p switchyard
secs="${PROFILE_SECS:-30}"
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--fanout 3 --concurrency 64)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

./target/release/switchyard bench --duration-secs "$secs" "${args[@]}" >"$out/bench.json" 2>"$out/bench.log" &
bench=$!
# Let the stack start and the load settle, then watch the middle of the run.
sleep 8
window=$((secs - 12))
[ "$window" -lt 5 ] && window=5
python3 scripts/profile_sample.py "$bench" "$window" >"$out/samples.md" &
sampler=$!
if command -v perf >/dev/null; then
  perf record -F 499 -g -p "$bench" -o "$out/perf.data" -- sleep "$window" >/dev/null 2>&1 || true
fi
wait "$sampler"
wait "$bench" || { echo "bench failed:" >&2; tail -20 "$out/bench.log" >&2; exit 1; }

echo "## bench: switchyard bench --duration-secs $secs ${args[*]}"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"{r['accepted_per_sec']} events/s accepted, {r.get('delivered_per_sec', r.get('delivered_per_sec_overall'))} deliveries/s\")" "$out/bench.json"
echo
cat "$out/samples.md"
if [ -s "$out/perf.data" ]; then
  echo
  echo "## switchyard by function (perf, self time, top 25)"
  echo '```'
  perf report -i "$out/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
    | grep -E '^ +[0-9]' | sed -E 's/ +-? +-? *$//; s/ +$//' | cut -c1-120 | head -25
  echo '```'
fi
