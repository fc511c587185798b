#!/usr/bin/env bash
# The MPI benchmarks of BENCHMARKS.md ("Several processes"), interleaved, twice each:
#   1. the gradient all-reduce of AlexNet's parameter tree (7.5 M floats, 16 tensors) with 2
#      ranks, against one plain MPI_Allreduce of a buffer of the same size (out of place and
#      in place, the physical limit of this machine);
#   2. W2 (AlexNet training step, batch 128, Adam) in one process and over 2 ranks (each rank
#      computes 64 rows; on a 2-core machine the ranks share the cores: this shows overhead).
# Needs Open MPI (Debian: openmpi-bin libopenmpi-dev libclang-dev). Writes benchmarks/mpi.jsonl.
#   benchmarks/mpi.sh            # STEPS=10 (AlexNet steps timed per run)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${STEPS:-10}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cargo build --release -q -p duet-examples --features mpi
DUET=target/release/duet
OUT=benchmarks/mpi.jsonl
: > "$OUT"
run() { echo "+ $*" >&2; "$@" 2>/dev/null | tail -n 1 | tee -a "$OUT"; }
for rep in 1 2; do
  run mpirun --oversubscribe -np 2 "$DUET" bench --model alexnet --allreduce --distributed mpi --steps 30
  run "$DUET" bench --model alexnet --batch-size 128 --steps "$STEPS"
  run mpirun --oversubscribe -np 2 "$DUET" bench --model alexnet --batch-size 128 --steps "$STEPS" --distributed mpi
done
