"""W5: Hessian of f(x) = sum(tanh(A x)^2) for x in R^100.

Closed form: with t = tanh(Ax), H = A^T diag(2 (1 - t^2)(1 - 3 t^2)) A.
"""
from __future__ import annotations

import numpy as np

TITLE = "W5: Hessian of sum(tanh(A @ x)**2), x in R^100 (float64)"
UNIT = "ms"
SCALE = 1e3
FLOOR = "numpy (closed form)"
RTOL, ATOL = 1e-8, 1e-10
N = 100
rng = np.random.default_rng(0)
A = rng.standard_normal((N, N)) / np.sqrt(N)
X = rng.standard_normal(N)


def f(ops, x):
    return ops.sum(ops.tanh(A @ x) ** 2)


def numpy_closed_form():
    def step():
        t = np.tanh(A @ X)
        d = 2 * (1 - t * t) * (1 - 3 * t * t)
        return (A.T * d) @ A
    return step, lambda: [step()]


def funcgrad_hessian():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    h = fg.hessian(lambda x: f(fnp, x))
    return (lambda: h(X)), lambda: [h(X)]


def funcgrad_jit_hessian():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    if not hasattr(fg, "jit"):
        raise ImportError(name="funcgrad.jit")
    h = fg.jit(fg.hessian(lambda x: f(fnp, x)))
    return (lambda: h(X)), lambda: [h(X)]


def torch_func():
    import torch
    from torch.func import hessian
    a = torch.tensor(A)
    h = hessian(lambda x: torch.sum(torch.tanh(a @ x) ** 2))
    x = torch.tensor(X)
    return (lambda: h(x)), lambda: [h(x).numpy()]


def jax_jit():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    a = jnp.asarray(A)
    h = jax.jit(jax.hessian(lambda x: jnp.sum(jnp.tanh(a @ x) ** 2)))
    x = jnp.asarray(X)
    return (lambda: h(x).block_until_ready()), lambda: [np.asarray(h(x))]


def autograd_hessian():
    import autograd
    import autograd.numpy as anp
    h = autograd.hessian(lambda x: f(anp, x))
    return (lambda: h(X)), lambda: [h(X)]


def implementations():
    return {FLOOR: numpy_closed_form, "funcgrad hessian": funcgrad_hessian,
            "funcgrad jit(hessian)": funcgrad_jit_hessian, "torch.func hessian": torch_func,
            "jax.jit(hessian)": jax_jit, "autograd hessian": autograd_hessian}
