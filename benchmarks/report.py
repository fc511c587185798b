"""Turns benchmarks/results.jsonl (duet bench + reference scripts, one JSON per line) into a table."""
import json
import os
import sys

out, bench = sys.argv[1], sys.argv[2]
sys.path.insert(0, bench)
import common  # noqa: E402

rows = [json.loads(l) for l in open(out) if l.strip().startswith("{")]
gemm = max((r["ceiling_gflops"] for r in rows if r.get("kind") == "gemm"), default=0)
names = {("lenet", False): "W1", ("alexnet", False): "W2", ("mlp", False): "W3", ("lenet", True): "W4a", ("alexnet", True): "W4b"}
table = {}
for r in rows:
    if "api" in r and "model" in r:  # duet
        w = names[(r["model"], bool(r.get("inference")))]
        table.setdefault(w, {})[f"duet {r['api']}"] = r["median_ms"]
    elif "workload" in r:
        fw = r.get("framework") or r.get("lib") or ("torch" if "torch" in json.dumps(r) else "jax")
        label = "pytorch" if "torch" in str(fw).lower() else "jax/flax"
        table.setdefault(r["workload"], {})[label] = r["median_ms"]
cols = ["duet burn", "duet functional", "duet module", "pytorch", "jax/flax"]
print("| workload | " + " | ".join(f"{c} ms" for c in cols) + " | functional/burn | module/burn | pytorch/functional | GEMM eff. (functional) |")
print("|---" * (len(cols) + 5) + "|")
for w in ["W1", "W2", "W3", "W4a", "W4b"]:
    t = table.get(w, {})
    cell = lambda c: f"{t[c]:.2f}" if c in t else "-"
    ratio = lambda a, b: f"{t[a] / t[b]:.3f}" if a in t and b in t else "-"
    eff = "-"
    if gemm and "duet functional" in t:
        eff = f"{common.flops_per_step(w) / (t['duet functional'] / 1e3) / 1e9 / gemm * 100:.1f}%"
    print(f"| {w} | " + " | ".join(cell(c) for c in cols) + f" | {ratio('duet functional', 'duet burn')} | {ratio('duet module', 'duet burn')} | {ratio('pytorch', 'duet functional')} | {eff} |")
print(f"\nfp32 GEMM ceiling (torch sgemm, best size): {gemm:.0f} GFLOP/s. Ratios > 1 in pytorch/functional mean duet is faster.")
