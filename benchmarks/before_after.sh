#!/usr/bin/env bash
# Two builds of `duet` side by side in one run, interleaved (this VM drifts 10-20% over minutes):
# W1 (LeNet train, batch 128) and W3 (MLP train, batch 128) in both APIs, ROUNDS rounds, each
# round running BEFORE then AFTER for every row. Prints the median ms per step of every run and,
# per row, the ratio of steps/s after/before from the same round.
#
#   benchmarks/before_after.sh /tmp/duet-before target/release/duet   # ROUNDS=3 STEPS=30
set -euo pipefail
BEFORE="$1" AFTER="$2"
ROUNDS="${ROUNDS:-3}" STEPS="${STEPS:-30}"
ms() { "$1" bench --model "$2" --api "$3" --batch-size 128 --steps "$STEPS" 2>/dev/null | tail -n 1 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])'; }
RAW=$(mktemp)
for r in $(seq "$ROUNDS"); do
  for row in "W1 lenet" "W3 mlp"; do
    set -- $row
    for api in functional module; do
      # Alternate which build goes first, so drift within a round cancels over rounds.
      if [ $((r % 2)) = 1 ]; then b=$(ms "$BEFORE" "$2" "$api"); a=$(ms "$AFTER" "$2" "$api")
      else a=$(ms "$AFTER" "$2" "$api"); b=$(ms "$BEFORE" "$2" "$api"); fi
      echo "$r $1 $api $b $a" >> "$RAW"
    done
  done
done
python3 - "$RAW" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
print("| workload | api | before ms (median, range) | after ms (median, range) | after/before steps/s: median of per-round ratios (range) |")
print("|---|---|---|---|---|")
for w, api in [("W1", "functional"), ("W1", "module"), ("W3", "functional"), ("W3", "module")]:
    b = [float(r[3]) for r in rows if r[1] == w and r[2] == api]
    a = [float(r[4]) for r in rows if r[1] == w and r[2] == api]
    q = [x / y for x, y in zip(b, a)]
    print(f"| {w} | {api} | {st.median(b):.2f} ({min(b):.2f}-{max(b):.2f}) | {st.median(a):.2f} ({min(a):.2f}-{max(a):.2f}) | {st.median(q):.3f} ({min(q):.2f}-{max(q):.2f}) |")
PY
rm -f "$RAW"
