#!/usr/bin/env bash
# The transformation benchmark side by side: duet (examples/examples/transforms_bench.rs) and
# torch.func (benchmarks/transforms_torch.py), alternating, ROUNDS rounds, LeNet batch B.
#
#   benchmarks/transforms.sh            # ROUNDS=2 B=128 REPS=20; ANCHOR_VENV=/tmp/anchors-venv
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ANCHOR_VENV:-/tmp/anchors-venv}" ROUNDS="${ROUNDS:-2}" B="${B:-128}" REPS="${REPS:-20}"
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV"; "$VENV/bin/pip" install -q torch numpy; }
source benchmarks/features.sh
cargo build --release -q -p duet-examples "${FEATURE_ARGS[@]}" --example transforms_bench
for r in $(seq "$ROUNDS"); do
  target/release/examples/transforms_bench "$B" "$REPS"
  "$VENV/bin/python" benchmarks/transforms_torch.py --batch "$B" --reps "$REPS" 2>/dev/null
done
