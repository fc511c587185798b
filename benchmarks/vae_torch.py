#!/usr/bin/env python3
"""PyTorch eager reference for the VAE step of issue 18 (BENCHMARKS.md): PyTorch's examples/vae
model (784-400-20, ReLU; fc21/fc22 as one 400 -> 40 layer, the same maths), batch 128 of
intensities in [0, 1], loss = BCE(sum) + analytic KL, Adam 1e-3. One JSON line.

Usage: python vae_torch.py [--steps 20] [--warmup 3] [--threads 2] [--batch-size 128]
Timing: median of the timed steps after warm-up; float32; `torch.set_num_threads(threads)`.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

nn = torch.nn


class VAE(nn.Module):
    def __init__(self, d=784, h=400, l=20):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, h), nn.Linear(h, 2 * l)
        self.fc3, self.fc4 = nn.Linear(l, h), nn.Linear(h, d)
        self.l = l

    def forward(self, x):
        stats = self.fc2(F.relu(self.fc1(x)))
        mu, logvar = stats[:, : self.l], stats[:, self.l :]
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(a.batch_size, 784)

    def step():
        opt.zero_grad(set_to_none=True)
        logits, mu, logvar = model(x)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = (rec + kl) / x.shape[0]
        loss.backward()
        opt.step()
        return loss.item()

    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        step()
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    print(json.dumps({"model": "vae", "framework": "pytorch-eager", "threads": a.threads,
                      "batch_size": a.batch_size, "steps": a.steps, "median_ms": med,
                      "steps_per_s": 1e3 / med}))


if __name__ == "__main__":
    main()
