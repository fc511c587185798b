# Sourced by the benchmark scripts: the cargo features duet is built with. The `openblas` feature
# (dense layers' large products through the system's OpenBLAS) is used when the library is
# installed (`apt install libopenblas-dev`); DUET_FEATURES overrides (DUET_FEATURES= for none).
if [ -z "${DUET_FEATURES+set}" ]; then
  if ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so '; then
    DUET_FEATURES="openblas"
  else
    DUET_FEATURES=""
  fi
fi
echo "duet features: ${DUET_FEATURES:-none}" >&2
FEATURE_ARGS=()
if [ -n "$DUET_FEATURES" ]; then
  FEATURE_ARGS=(--features "$DUET_FEATURES")
fi
