#!/usr/bin/env python3
"""PyTorch eager reference for W6 and W7 (BENCHMARKS.md, "Issue 20"), one JSON line per workload.

W6: ResNet-20 (option A, as core/tests/fixtures/generate_models.py) training step, batch 128 of 3x32x32,
    SGD momentum 0.9, lr 0.1, weight decay 5e-4 (duet's resnet20 recipe).
W7: GPT (6 layers, 6 heads, width 192, context 128, vocabulary 96) training step, batch 32, AdamW 1e-3 with
    gradients clipped to norm 1 (duet's gpt recipe); attention through F.scaled_dot_product_attention
    (is_causal), what nanoGPT uses.

Usage: python models_torch.py --workload W6|W7 [--steps 10] [--warmup 3] [--threads 2]
Timing: median of the timed steps after warm-up; float32; `torch.set_num_threads(threads)`.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

nn = torch.nn


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = stride != 1 or in_planes != planes
        self.pad = planes // 4

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad)) if self.downsample else x
        return F.relu(out + short)


class ResNet20(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for s in (stride, 1, 1):
                blocks.append(BasicBlock(in_planes, planes, s))
                in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x):
        out = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.linear(out.mean((2, 3)))


class Block(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(c, c) for _ in range(4))
        self.c_fc, self.c_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x):
        B, T, C = x.shape
        h = self.ln_1(x)
        split = lambda t: t.view(B, T, self.heads, C // self.heads).transpose(1, 2)  # noqa: E731
        y = F.scaled_dot_product_attention(split(self.q_proj(h)), split(self.k_proj(h)), split(self.v_proj(h)), is_causal=True)
        x = x + self.out_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab=96, block=128, layers=6, heads=6, c=192):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, c), nn.Embedding(block, c)
        self.h = nn.ModuleList(Block(c, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c)
        self.lm_head = nn.Linear(c, vocab, bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.h:
            x = b(x)
        return self.lm_head(self.ln_f(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", choices=["W6", "W7"], required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.workload == "W6":
        net, batch = ResNet20(), 128
        x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        loss_of = lambda: F.cross_entropy(net(x), y)  # noqa: E731
        clip = None
    else:
        net, batch, t = GPT(), 32, 128
        w = torch.randint(0, 96, (batch, t + 1))
        x, y = w[:, :-1], w[:, 1:]
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.1)
        loss_of = lambda: F.cross_entropy(net(x).reshape(-1, 96), y.reshape(-1))  # noqa: E731
        clip = 1.0
    net.train()
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_of()
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        loss.item()
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    out = {"workload": a.workload, "framework": f"torch {torch.__version__} eager", "batch_size": batch,
           "steps": a.steps, "median_ms": med, "steps_per_s": 1e3 / med}
    if a.workload == "W7":
        out["tokens_per_s"] = batch * 128 * 1e3 / med
    print(json.dumps(out))


if __name__ == "__main__":
    main()
