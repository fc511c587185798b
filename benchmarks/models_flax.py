#!/usr/bin/env python3
"""JAX/Flax (linen, jit) reference for W6 and W7, the same models and recipes as models_torch.py.

W6: ResNet-20 (option A shortcuts) training step, batch 128 of 32x32x3 (NHWC, Flax's layout), SGD momentum
    0.9, lr 0.1, weight decay 5e-4 (as L2 added to the gradient, PyTorch's and duet's SGD).
W7: GPT (6 layers, 6 heads, width 192, context 128, vocabulary 96) training step, batch 32, AdamW 1e-3
    (weight decay 0.1) after clipping gradients to global norm 1.

Usage: python models_flax.py --workload W6|W7 [--steps 10] [--warmup 3]
Timing: median of the timed steps after warm-up (the first call compiles; its time is reported apart).
"""
import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import flax.linen as nn
import optax


class Block(nn.Module):
    planes: int
    stride: int

    @nn.compact
    def __call__(self, x, train):
        bn = lambda: nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)  # noqa: E731
        conv = lambda s: nn.Conv(self.planes, (3, 3), (s, s), padding=1, use_bias=False)  # noqa: E731
        out = nn.relu(bn()(conv(self.stride)(x)))
        out = bn()(conv(1)(out))
        if self.stride != 1 or x.shape[-1] != self.planes:
            pad = (self.planes - x.shape[-1]) // 2
            x = jnp.pad(x[:, ::2, ::2, :], ((0, 0), (0, 0), (0, 0), (pad, pad)))
        return nn.relu(out + x)


class ResNet20(nn.Module):
    @nn.compact
    def __call__(self, x, train):
        x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)(
            nn.Conv(16, (3, 3), padding=1, use_bias=False)(x)))
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for s in (stride, 1, 1):
                x = Block(planes, s)(x, train)
        return nn.Dense(10)(x.mean((1, 2)))


class GptBlock(nn.Module):
    c: int
    heads: int

    @nn.compact
    def __call__(self, x):
        h = nn.LayerNorm(epsilon=1e-5)(x)
        mask = nn.make_causal_mask(jnp.ones(x.shape[:2]))
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, qkv_features=self.c)(h, h, mask=mask)
        h = nn.LayerNorm(epsilon=1e-5)(x)
        return x + nn.Dense(self.c)(nn.gelu(nn.Dense(4 * self.c)(h), approximate=False))


class GPT(nn.Module):
    vocab: int = 96
    block: int = 128
    layers: int = 6
    heads: int = 6
    c: int = 192

    @nn.compact
    def __call__(self, idx):
        x = nn.Embed(self.vocab, self.c)(idx) + nn.Embed(self.block, self.c)(jnp.arange(idx.shape[1]))
        for _ in range(self.layers):
            x = GptBlock(self.c, self.heads)(x)
        return nn.Dense(self.vocab, use_bias=False)(nn.LayerNorm(epsilon=1e-5)(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", choices=["W6", "W7"], required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    key = jax.random.PRNGKey(0)
    if a.workload == "W6":
        model, batch = ResNet20(), 128
        x = jax.random.normal(key, (batch, 32, 32, 3))
        y = jax.random.randint(key, (batch,), 0, 10)
        variables = model.init(key, x, train=False)
        params, extra = variables["params"], {"batch_stats": variables["batch_stats"]}
        tx = optax.chain(optax.add_decayed_weights(5e-4), optax.sgd(0.1, momentum=0.9))

        def loss_fn(p, extra):
            logits, new = model.apply({"params": p, **extra}, x, train=True, mutable=["batch_stats"])
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), new
    else:
        model, batch = GPT(), 32
        w = jax.random.randint(key, (batch, 129), 0, 96)
        x, y = w[:, :-1], w[:, 1:]
        params, extra = model.init(key, x)["params"], {}
        tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(1e-3, weight_decay=0.1))

        def loss_fn(p, extra):
            logits = model.apply({"params": p}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), extra

    opt_state = tx.init(params)

    @jax.jit
    def step(params, extra, opt_state):
        (loss, extra), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, extra)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), extra, opt_state, loss

    t0 = time.perf_counter()
    params, extra, opt_state, loss = step(params, extra, opt_state)
    loss.block_until_ready()
    compile_s = time.perf_counter() - t0
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        params, extra, opt_state, loss = step(params, extra, opt_state)
        loss.block_until_ready()
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    out = {"workload": a.workload, "framework": f"jax {jax.__version__} flax jit", "batch_size": batch,
           "steps": a.steps, "median_ms": med, "steps_per_s": 1e3 / med, "compile_s": compile_s}
    if a.workload == "W7":
        out["tokens_per_s"] = batch * 128 * 1e3 / med
    print(json.dumps(out))


if __name__ == "__main__":
    main()
