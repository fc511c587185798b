#!/usr/bin/env python3
"""numpy (its BLAS: OpenBLAS in PyPI's wheels) on the GEMM shapes `duet bench --gemm` printed: one JSON line
per shape, read from the duet lines of FILE (`"kind": "gemm"`), so both sides time exactly the same products.

Usage: python gemm_numpy.py FILE [--steps 10] [--warmup 2]
Timing: median of the timed products after warm-up; float32; the BLAS's default threading (both cores).
The `impl` field names the BLAS and the kernels it runs (threadpoolctl's `architecture`, e.g. SkylakeX):
`OPENBLAS_CORETYPE=Haswell` in the environment halves OpenBLAS's rate on an AVX-512 machine, so
compare.sh runs this script with that variable (and `OPENBLAS_L2_SIZE`) unset.
"""
import argparse
import json
import statistics
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    shapes, seen = [], set()
    for line in open(a.file):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if r.get("kind") == "gemm" and r.get("impl", "").startswith("duet") and r["name"] not in seen:
            seen.add(r["name"])
            shapes.append(r)
    blas = "numpy " + np.__version__
    try:
        from threadpoolctl import threadpool_info

        libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            blas += " %s %s" % (libs[0].get("internal_api"), libs[0].get("architecture"))
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    for s in shapes:
        m, n, k = s["m"], s["n"], s["k"]
        a_ = rng.uniform(-1, 1, (k, m) if s["ta"] else (m, k)).astype(np.float32)
        b_ = rng.uniform(-1, 1, (n, k) if s["tb"] else (k, n)).astype(np.float32)
        lhs = a_.T if s["ta"] else a_
        rhs = b_.T if s["tb"] else b_
        out = np.empty((m, n), dtype=np.float32)
        times = []
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            np.matmul(lhs, rhs, out=out)
            if i >= a.warmup:
                times.append((time.perf_counter() - t0) * 1e3)
        ms = statistics.median(times)
        print(json.dumps({"kind": "gemm", "impl": blas, "name": s["name"], "m": m, "n": n,
                          "k": k, "ta": s["ta"], "tb": s["tb"], "median_ms": ms,
                          "gflops": 2.0 * m * n * k / (ms / 1e3) / 1e9}))


if __name__ == "__main__":
    main()
