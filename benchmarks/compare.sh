#!/usr/bin/env bash
# duet against its peers on W1-W4b, side by side, ROUNDS times interleaved (default 2): per workload duet
# (burn, functional, module), PyTorch eager, torch.compile (inductor, mode default; the timed steps come
# after warm-up, its first step with the compile is reported apart), JAX/Flax linen and Flax NNX (jit);
# then the GEMM microbenchmark: `duet bench --gemm` (the gemm crate on the workloads' shapes) and numpy's
# BLAS (OpenBLAS) on the same shapes. Writes benchmarks/results.jsonl and the table benchmarks/latest.md
# (ranges over the rounds, and ratios taken within each round).
#
#   benchmarks/compare.sh                 # ROUNDS=2 STEPS=30; ANCHOR_VENV=/tmp/anchors-venv
#   ANCHOR_BENCH=path/to/shared/bench     # the reference scripts (default ../shared/bench)
#
# The reference venv (torch, jax, flax, numpy from PyPI) is created when missing. Stop other work
# first: timings on this shared 2-core VM drift by +-20% from run to run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ANCHOR_VENV:-/tmp/anchors-venv}"
BENCH="${ANCHOR_BENCH:-../shared/bench}"
STEPS="${STEPS:-30}"
ROUNDS="${ROUNDS:-2}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch "jax[cpu]" flax optax numpy threadpoolctl psutil
fi
source benchmarks/features.sh
cargo build --release -q -p duet-examples "${FEATURE_ARGS[@]}"
DUET=target/release/duet
OUT=benchmarks/results.jsonl
: > "$OUT"
run() { echo "+ $*" >&2; "$@" | grep '^{' >> "$OUT"; }
for round in $(seq "$ROUNDS"); do
  echo "{\"round\": $round}" >> "$OUT"
  for spec in "W1 lenet 128 train" "W2 alexnet 128 train" "W3 mlp 128 train" "W4a lenet 256 infer" "W4b alexnet 256 infer"; do
    set -- $spec
    w=$1 model=$2 batch=$3 kind=$4
    steps=$STEPS; [ "$model" = alexnet ] && steps=$(( STEPS / 3 > 5 ? STEPS / 3 : 5 ))
    inf=(); [ "$kind" = infer ] && inf=(--inference)
    for api in burn functional module; do
      run "$DUET" bench --model "$model" --api "$api" --batch-size "$batch" --steps "$steps" "${inf[@]}"
    done
    run "$PY" "$BENCH/bench_torch.py" --workload "$w" --steps "$steps"
    run "$PY" "$BENCH/bench_torch.py" --workload "$w" --steps "$steps" --compile
    run "$PY" "$BENCH/bench_flax.py" --workload "$w" --steps "$steps"
    run "$PY" "$BENCH/bench_flax.py" --workload "$w" --steps "$steps" --api nnx
  done
  run "$DUET" bench --gemm --steps 10 --warmup 2
  tmp=$(mktemp)
  tail -n "$(grep -c . "$OUT")" "$OUT" | awk '/"round"/{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' > "$tmp"
  # The machine's real ceiling: numpy's current OpenBLAS on the kernels it picks itself (this VM's
  # environment sets OPENBLAS_CORETYPE=Haswell and OPENBLAS_L2_SIZE for older OpenBLAS builds).
  run env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" benchmarks/gemm_numpy.py "$tmp" --steps 10 --warmup 2
  rm -f "$tmp"
done
python3 benchmarks/report.py "$OUT" > benchmarks/latest.md
cat benchmarks/latest.md
