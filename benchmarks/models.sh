#!/usr/bin/env bash
# W6 (ResNet-20 training step, batch 128) and W7 (GPT training step, 32 x 128 tokens) in one run:
# duet (functional, module), PyTorch eager and JAX/Flax (jit) alternate, ROUNDS times (default 2),
# one JSON line each in benchmarks/models.jsonl. The references come from the venv at $TORCH_VENV
# (default /tmp/venv, created with `pip install torch "jax[cpu]" flax optax numpy` when missing).
# Stop other work first: this VM drifts.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${TORCH_VENV:-/tmp/venv}"
ROUNDS="${ROUNDS:-2}"
STEPS="${STEPS:-10}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch "jax[cpu]" flax optax numpy
fi
source benchmarks/features.sh
cargo build --release -q -p duet-examples "${FEATURE_ARGS[@]}"
DUET=target/release/duet
OUT=benchmarks/models.jsonl
: > "$OUT"
run() { echo "+ $*" >&2; "$@" | tail -n 1 | tee -a "$OUT"; }
for round in $(seq "$ROUNDS"); do
  for api in functional module; do
    run "$DUET" bench --model resnet20 --api "$api" --batch-size 128 --steps "$STEPS"
  done
  run "$VENV/bin/python" benchmarks/models_torch.py --workload W6 --steps "$STEPS"
  run "$VENV/bin/python" benchmarks/models_flax.py --workload W6 --steps "$STEPS"
  for api in functional module; do
    run "$DUET" bench --model gpt --api "$api" --batch-size 32 --steps "$STEPS"
  done
  run "$VENV/bin/python" benchmarks/models_torch.py --workload W7 --steps "$STEPS"
  run "$VENV/bin/python" benchmarks/models_flax.py --workload W7 --steps "$STEPS"
done
