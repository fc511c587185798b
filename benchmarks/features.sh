# Sourced by the benchmark scripts: the cargo features duet is built with, from DUET_FEATURES (default
# none: the plain build a user gets, its products on the `gemm` crate's AVX-512 kernels).
# DUET_FEATURES=openblas routes the dense layers' large products through the system's OpenBLAS
# (`apt install libopenblas-dev`); on this VM, whose environment pins OpenBLAS to its AVX2 kernels
# (OPENBLAS_CORETYPE=Haswell), that build measured slower (BENCHMARKS.md, "Issue 20, round 3").
DUET_FEATURES="${DUET_FEATURES:-}"
echo "duet features: ${DUET_FEATURES:-none}" >&2
FEATURE_ARGS=()
if [ -n "$DUET_FEATURES" ]; then
  FEATURE_ARGS=(--features "$DUET_FEATURES")
fi
