#!/usr/bin/env bash
# Runs duet's benchmarks and the PyTorch / JAX reference scripts one after the other, in one run,
# and writes a table (benchmarks/latest.md) with steps/s, duet's ratios, and GEMM efficiency.
#
#   benchmarks/compare.sh                 # STEPS=30 REPS=1; ANCHOR_VENV=/tmp/anchors-venv
#   ANCHOR_BENCH=path/to/shared/bench     # the reference scripts (default ../shared/bench)
#
# The reference venv (torch, jax, flax from PyPI) is created when missing. The machine should be
# quiet: timings on a shared 2-core VM drift by +-20% from run to run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ANCHOR_VENV:-/tmp/anchors-venv}"
BENCH="${ANCHOR_BENCH:-../shared/bench}"
STEPS="${STEPS:-30}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch "jax[cpu]" flax optax numpy threadpoolctl psutil
fi
cargo build --release -q -p duet-examples
DUET=target/release/duet
OUT=benchmarks/results.jsonl
: > "$OUT"
run() { echo "+ $*" >&2; "$@" | tail -n 1 >> "$OUT"; }
for spec in "W1 lenet 128 train" "W2 alexnet 128 train" "W3 mlp 128 train" "W4a lenet 256 infer" "W4b alexnet 256 infer"; do
  set -- $spec
  w=$1 model=$2 batch=$3 kind=$4
  steps=$STEPS; [ "$model" = alexnet ] && steps=$(( STEPS / 3 > 5 ? STEPS / 3 : 5 ))
  inf=(); [ "$kind" = infer ] && inf=(--inference)
  for api in burn functional module; do
    run env W="$w" "$DUET" bench --model "$model" --api "$api" --batch-size "$batch" --steps "$steps" "${inf[@]}"
  done
  run "$PY" "$BENCH/bench_torch.py" --workload "$w" --steps "$steps"
  run "$PY" "$BENCH/bench_flax.py" --workload "$w" --steps "$steps"
done
run "$PY" "$BENCH/bench_gemm.py" --lib torch --sizes 1024,2048
python3 benchmarks/report.py "$OUT" "$BENCH" > benchmarks/latest.md
cat benchmarks/latest.md
