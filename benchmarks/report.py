"""Turns benchmarks/results.jsonl (compare.sh: `{"round": N}` markers, then one JSON line per measurement)
into benchmarks/latest.md: per workload the range over the rounds of each column, the ratio of the best peer's
time to duet's taken within each round (> 1: duet is faster), torch.compile's first step (compile included),
and the GEMM table (duet's products against numpy's BLAS on the same shapes)."""
import json
import sys

rows, round_ = [], 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if set(r) == {"round"}:
        round_ = r["round"]
        continue
    r["_round"] = round_
    rows.append(r)

NAMES = {("lenet", False): "W1", ("alexnet", False): "W2", ("mlp", False): "W3", ("lenet", True): "W4a", ("alexnet", True): "W4b"}
PEERS = ["pytorch eager", "torch.compile", "flax linen", "flax nnx"]
COLS = ["duet burn", "duet functional", "duet module"] + PEERS
cells, compile_s, rss = {}, {}, {}
for r in rows:
    if r.get("kind") == "gemm":
        continue
    if "api" in r and "model" in r:
        w, col = NAMES[(r["model"], bool(r.get("inference")))], f"duet {r['api']}"
    elif "workload" in r:
        w = r["workload"]
        col = {("torch", "eager"): "pytorch eager", ("torch", "compile"): "torch.compile",
               ("flax", "linen"): "flax linen", ("flax", "nnx"): "flax nnx"}.get((r.get("framework"), r.get("variant")))
        if col is None:
            continue
        if col == "torch.compile":
            compile_s.setdefault(w, []).append(r.get("first_step_s"))
    else:
        continue
    cells.setdefault((w, col), {})[r["_round"]] = r["median_ms"]
    if r.get("peak_rss_mb") is not None:
        rss.setdefault((w, col), {})[r["_round"]] = r["peak_rss_mb"]


def span(vals):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return "-"
    return f"{vals[0]:.2f}" if len(vals) == 1 or vals[0] == vals[-1] else f"{vals[0]:.2f}-{vals[-1]:.2f}"


def ratios(w, api):
    out = []
    for rnd, ms in cells.get((w, f"duet {api}"), {}).items():
        peers = [cells[(w, p)][rnd] for p in PEERS if rnd in cells.get((w, p), {})]
        if peers:
            out.append(min(peers) / ms)
    return span(out)


print("| workload | " + " | ".join(f"{c} ms" for c in COLS) + " | best peer / functional | best peer / module | torch.compile first step s |")
print("|---" * (len(COLS) + 4) + "|")
for w in ["W1", "W2", "W3", "W4a", "W4b"]:
    print(f"| {w} | " + " | ".join(span(cells.get((w, c), {}).values()) for c in COLS)
          + f" | {ratios(w, 'functional')} | {ratios(w, 'module')} | {span(compile_s.get(w, []))} |")
print("\nRanges are over the rounds; ratios are taken within each round (best of the four peers / duet; > 1: duet is faster).")

if rss:
    print("\n| workload | " + " | ".join(f"{c} peak RSS MiB" for c in COLS[1:]) + " | PyTorch eager / duet module (same round) |")
    print("|---" * (len(COLS) + 1) + "|")
    for w in ["W1", "W2", "W3", "W4a", "W4b"]:
        mine, theirs = rss.get((w, "duet module"), {}), rss.get((w, "pytorch eager"), {})
        rat = [theirs[k] / mine[k] for k in mine if k in theirs]
        print(f"| {w} | " + " | ".join(span(rss.get((w, c), {}).values()) for c in COLS[1:]) + f" | {span(rat)} |")
    print("\nPeak resident memory of each process (duet: `VmHWM`; the peers: `getrusage`), > 1 in the last column: duet uses less.")

gemm = {}
for r in rows:
    if r.get("kind") == "gemm":
        side = "duet" if r["impl"].startswith("duet") else "numpy"
        gemm.setdefault(r["name"], {}).setdefault(side, {})[r["_round"]] = r["gflops"]
if gemm:
    print("\n| GEMM shape (m x n x k) | duet GFLOP/s | numpy BLAS GFLOP/s | duet / numpy (same round) |")
    print("|---|---|---|---|")
    dims = {r["name"]: (r["m"], r["n"], r["k"], r["ta"], r["tb"]) for r in rows if r.get("kind") == "gemm"}
    for name, sides in gemm.items():
        d, n = sides.get("duet", {}), sides.get("numpy", {})
        rat = [d[k] / n[k] for k in d if k in n]
        m_, n_, k_, ta, tb = dims[name]
        t = ("A^T " if ta else "") + ("B^T" if tb else "")
        print(f"| {name} ({m_} x {n_} x {k_}{', ' + t.strip() if t else ''}) | {span(d.values())} | {span(n.values())} | {span(rat)} |")
    print("\nduet's column times each shape as a training step computes it: the dense layers' products (W3, W2 fc, W7) "
          "through duet's dense kernel (split over the threads; `dx = dy W^T` formed transposed for small batches), "
          "the convolutions' through one `gemm` crate call on all threads.")
