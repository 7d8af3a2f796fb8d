"""W1: a chain of 200 small elementwise ops (16 float32), forward + gradient.

Measures what an autodiff library adds per operation: dispatch, graph
bookkeeping, the backward walk.  Reported in microseconds per op.
"""
from __future__ import annotations

import numpy as np

TITLE = "W1: chain of 200 elementwise ops on 16 float32, forward + gradient"
UNIT = "µs/op"
SCALE = 1e6 / 200
FLOOR = "numpy (hand-written fwd+bwd)"
RTOL, ATOL = 2e-4, 1e-5
N_BLOCKS = 50  # 4 ops per block
X = np.linspace(-1.0, 1.0, 16).astype(np.float32)
A, B = np.float32(1.01), np.float32(0.1)


def chain(ops, x):
    for _ in range(N_BLOCKS):
        x = ops.tanh(ops.sin(x) * A) + B
    return ops.sum(x)


def numpy_hand():
    def step():
        xs = []
        x = X
        for _ in range(N_BLOCKS):
            s = np.sin(x)
            t = np.tanh(s * A)
            xs.append((x, t))
            x = t + B
        np.sum(x)
        g = np.ones_like(X)
        for x, t in reversed(xs):
            g = g * (1 - t * t) * A * np.cos(x)
        return g
    return step, lambda: [step()]


def numpy_forward():
    def step():
        return chain(np, X)
    return step, lambda: [numpy_hand()[0]()]


def funcgrad_eager():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    g = fg.grad(lambda x: chain(fnp, x))
    return (lambda: g(X)), lambda: [g(X)]


def funcgrad_recording():
    """The forward pass under reverse mode, no backward: what recording adds per op.

    Compare with "numpy forward only" (issue 2's target: at most 3x).
    """
    import funcgrad.numpy as fnp
    from funcgrad.ad import VJPTrace

    def step():
        with VJPTrace() as trace:
            chain(fnp, trace.new_input(X))
    return step, lambda: [numpy_hand()[0]()]


def funcgrad_jit():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    if not hasattr(fg, "jit"):
        raise ImportError(name="funcgrad.jit")
    g = fg.jit(fg.grad(lambda x: chain(fnp, x)))
    return (lambda: g(X)), lambda: [g(X)]


def torch_eager():
    import torch
    x0 = torch.tensor(X)

    def step():
        x = x0.clone().requires_grad_(True)
        chain(torch, x).backward()
        return x.grad
    return step, lambda: [step().numpy()]


def jax_jit():
    import jax
    import jax.numpy as jnp
    g = jax.jit(jax.grad(lambda x: chain(jnp, x)))
    xj = jnp.asarray(X)
    return (lambda: g(xj).block_until_ready()), lambda: [np.asarray(g(xj))]


def autograd_eager():
    import autograd
    import autograd.numpy as anp
    g = autograd.grad(lambda x: chain(anp, x))
    return (lambda: g(X)), lambda: [g(X)]


def implementations():
    return {FLOOR: numpy_hand, "numpy forward only": numpy_forward,
            "funcgrad forward recording only": funcgrad_recording,
            "funcgrad eager": funcgrad_eager, "funcgrad jit": funcgrad_jit,
            "PyTorch eager": torch_eager, "jax.jit": jax_jit, "autograd": autograd_eager}
