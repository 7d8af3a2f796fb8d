"""W4: per-example gradients of an MLP 64-128-10, batch 256.

The floor is the hand-written batched computation (einsum for the per-example
weight gradients); funcgrad runs vmap(grad(loss)), PyTorch torch.func's
vmap(grad), JAX jax.jit(jax.vmap(jax.grad)), autograd a Python loop.
"""
from __future__ import annotations

import numpy as np

TITLE = "W4: per-example gradients, MLP 64-128-10, batch 256 (float32)"
UNIT = "ms"
SCALE = 1e3
FLOOR = "numpy (batched einsum)"
RTOL, ATOL = 2e-3, 2e-5
B, D, H, C = 256, 64, 128, 10
rng = np.random.default_rng(0)
W1 = (rng.standard_normal((D, H)) / np.sqrt(D)).astype(np.float32)
B1 = np.zeros(H, np.float32)
W2 = (rng.standard_normal((H, C)) / np.sqrt(H)).astype(np.float32)
B2 = np.zeros(C, np.float32)
X = rng.standard_normal((B, D)).astype(np.float32)
Y = rng.integers(0, C, B)
ONEHOT = np.eye(C, dtype=np.float32)[Y]


def loss_one(ops, params, x, onehot):
    w1, b1, w2, b2 = params
    h = ops.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    m = ops.max(logits)
    lse = ops.log(ops.sum(ops.exp(logits - m))) + m
    return lse - ops.sum(logits * onehot)


def numpy_floor():
    def step():
        z = X @ W1 + B1
        h = np.tanh(z)
        logits = h @ W2 + B2
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        g_logits = p - ONEHOT
        g_w2 = np.einsum("bh,bc->bhc", h, g_logits)
        g_h = g_logits @ W2.T
        g_z = g_h * (1 - h * h)
        g_w1 = np.einsum("bd,bh->bdh", X, g_z)
        return g_w1, g_z, g_w2, g_logits
    return step, lambda: list(step())


def funcgrad_vmap():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    f = fg.vmap(fg.grad(lambda p, x, o: loss_one(fnp, p, x, o)), in_axes=(None, 0, 0))
    params = (W1, B1, W2, B2)
    return (lambda: f(params, X, ONEHOT)), lambda: list(f(params, X, ONEHOT))


def funcgrad_jit_vmap():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    if not hasattr(fg, "jit"):
        raise ImportError(name="funcgrad.jit")
    f = fg.jit(fg.vmap(fg.grad(lambda p, x, o: loss_one(fnp, p, x, o)),
                       in_axes=(None, 0, 0)))
    params = (W1, B1, W2, B2)
    return (lambda: f(params, X, ONEHOT)), lambda: list(f(params, X, ONEHOT))


def funcgrad_loop():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    g = fg.grad(lambda p, x, o: loss_one(fnp, p, x, o))
    params = (W1, B1, W2, B2)

    def step():
        gs = [g(params, X[i], ONEHOT[i]) for i in range(B)]
        return [np.stack([gg[k] for gg in gs]) for k in range(4)]
    return step, step


def torch_func():
    import torch
    from torch.func import grad, vmap
    params = tuple(torch.tensor(a) for a in (W1, B1, W2, B2))
    f = vmap(grad(lambda p, x, o: loss_one(torch, p, x, o)), in_dims=(None, 0, 0))
    x, o = torch.tensor(X), torch.tensor(ONEHOT)
    return (lambda: f(params, x, o)), lambda: [t.numpy() for t in f(params, x, o)]


def jax_jit():
    import jax
    import jax.numpy as jnp
    f = jax.jit(jax.vmap(jax.grad(lambda p, x, o: loss_one(jnp, p, x, o)),
                         in_axes=(None, 0, 0)))
    params = tuple(jnp.asarray(a) for a in (W1, B1, W2, B2))
    x, o = jnp.asarray(X), jnp.asarray(ONEHOT)

    def step():
        return jax.block_until_ready(f(params, x, o))
    return step, lambda: [np.asarray(t) for t in step()]


def autograd_loop():
    import autograd
    import autograd.numpy as anp
    g = autograd.grad(lambda p, x, o: loss_one(anp, p, x, o))
    params = (W1, B1, W2, B2)

    def step():
        gs = [g(params, X[i], ONEHOT[i]) for i in range(B)]
        return [np.stack([gg[k] for gg in gs]) for k in range(4)]
    return step, step


def implementations():
    return {FLOOR: numpy_floor, "funcgrad vmap(grad)": funcgrad_vmap,
            "funcgrad jit(vmap(grad))": funcgrad_jit_vmap,
            "funcgrad loop of grad": funcgrad_loop, "torch.func vmap(grad)": torch_func,
            "jax.jit(vmap(grad))": jax_jit, "autograd (loop)": autograd_loop}
