#!/usr/bin/env bash
# The VAE training step of issue 18 (784-400-20, batch 128, Adam 1e-3) in one run: duet
# (functional, module), PyTorch eager, Flax (jit) and NumPyro SVI (jit) alternate, ROUNDS times
# (default 2), one JSON line each in benchmarks/vae.jsonl. The references come from the venv at
# $TORCH_VENV (default /tmp/venv; created with `pip install torch "jax[cpu]" flax optax numpyro`
# when missing). Stop other work first: this VM drifts.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${TORCH_VENV:-/tmp/venv}"
ROUNDS="${ROUNDS:-2}"
STEPS="${STEPS:-30}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch "jax[cpu]" flax optax numpyro numpy
fi
source benchmarks/features.sh
cargo build --release -q -p duet-examples "${FEATURE_ARGS[@]}"
DUET=target/release/duet
OUT=benchmarks/vae.jsonl
: > "$OUT"
run() { echo "+ $*" >&2; "$@" | tail -n 1 | tee -a "$OUT"; }
for round in $(seq "$ROUNDS"); do
  for api in functional module; do
    run "$DUET" bench --model vae --api "$api" --batch-size 128 --steps "$STEPS"
  done
  run "$VENV/bin/python" benchmarks/vae_torch.py --steps "$STEPS"
  run "$VENV/bin/python" benchmarks/vae_flax.py --framework flax --steps "$STEPS"
  run "$VENV/bin/python" benchmarks/vae_flax.py --framework numpyro --steps "$STEPS"
done
