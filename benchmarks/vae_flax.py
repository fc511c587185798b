#!/usr/bin/env python3
"""JAX references for the VAE step of issue 18 (BENCHMARKS.md): the same 784-400-20 VAE, batch 128,
negative ELBO (Bernoulli likelihood, analytic KL), Adam 1e-3, as
- `flax`: a Flax linen module with an optax step under `jax.jit`;
- `numpyro`: NumPyro's SVI (`Trace_ELBO`, model + guide with `flax_module`), its `svi.update` jitted.
One JSON line per framework.

Usage: python vae_flax.py [--framework flax|numpyro] [--steps 20] [--warmup 3] [--batch-size 128]
Timing: median of the timed steps after warm-up (the first calls compile); XLA on the CPU with its
default threading (both cores).
"""
import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn


class Encoder(nn.Module):
    @nn.compact
    def __call__(self, x):
        s = nn.Dense(40)(nn.relu(nn.Dense(400)(x)))
        return s[:, :20], s[:, 20:]


class Decoder(nn.Module):
    @nn.compact
    def __call__(self, z):
        return nn.Dense(784)(nn.relu(nn.Dense(400)(z)))


class VAE(nn.Module):
    @nn.compact
    def __call__(self, x, key):
        mu, logvar = Encoder()(x)
        z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape)
        return Decoder()(z), mu, logvar


def flax_step(x):
    model = VAE()
    params = model.init(jax.random.PRNGKey(0), x, jax.random.PRNGKey(1))
    tx = optax.adam(1e-3)
    state = tx.init(params)

    def loss_fn(p, key):
        logits, mu, logvar = model.apply(p, x, key)
        rec = jnp.sum(optax.sigmoid_binary_cross_entropy(logits, x))
        kl = -0.5 * jnp.sum(1 + logvar - mu**2 - jnp.exp(logvar))
        return (rec + kl) / x.shape[0]

    @jax.jit
    def step(p, s, key):
        loss, g = jax.value_and_grad(loss_fn)(p, key)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    carry = [params, state]

    def run(i):
        carry[0], carry[1], loss = step(carry[0], carry[1], jax.random.PRNGKey(i))
        return float(loss)

    return run


def numpyro_step(x):
    import numpyro
    import numpyro.distributions as dist
    from numpyro.contrib.module import flax_module
    from numpyro.infer import SVI, Trace_ELBO

    n = x.shape[0]

    def model(x):
        dec = flax_module("decoder", Decoder(), input_shape=(n, 20))
        with numpyro.plate("data", n):
            z = numpyro.sample("z", dist.Normal(0, 1).expand([20]).to_event(1))
            numpyro.sample("x", dist.Bernoulli(logits=dec(z)).to_event(1), obs=x)

    def guide(x):
        enc = flax_module("encoder", Encoder(), input_shape=(n, 784))
        mu, logvar = enc(x)
        with numpyro.plate("data", n):
            numpyro.sample("z", dist.Normal(mu, jnp.exp(0.5 * logvar)).to_event(1))

    svi = SVI(model, guide, optax.adam(1e-3), Trace_ELBO())
    state = svi.init(jax.random.PRNGKey(0), x)
    update = jax.jit(svi.update)
    carry = [state]

    def run(i):
        carry[0], loss = update(carry[0], x)
        return float(loss)

    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--framework", choices=["flax", "numpyro"], default="flax")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    a = ap.parse_args()
    x = jax.random.uniform(jax.random.PRNGKey(2), (a.batch_size, 784))
    if a.framework == "numpyro":
        # Bernoulli's support check wants 0/1 observations.
        x = (x > 0.5).astype(jnp.float32)
    run = flax_step(x) if a.framework == "flax" else numpyro_step(x)
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        run(i)
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    print(json.dumps({"model": "vae", "framework": a.framework + "-jit", "batch_size": a.batch_size,
                      "steps": a.steps, "median_ms": med, "steps_per_s": 1e3 / med}))


if __name__ == "__main__":
    main()
