"""A numerically stable log(1 + exp(x)) with its own reverse-mode rule.

The naive derivative exp(x) / (1 + exp(x)) overflows to inf/inf = nan for large x;
the custom rule uses the sigmoid, which is stable everywhere.

Run: python examples/custom_vjp.py
"""
from __future__ import annotations

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def naive_log1pexp(x):
    return fnp.log(1.0 + fnp.exp(x))


@fg.custom_vjp
def log1pexp(x):
    return fnp.softplus(x)  # max(x, 0) + log1p(exp(-|x|)): stable forward


def log1pexp_fwd(x):
    return log1pexp(x), x  # output, residuals


def log1pexp_bwd(x, ct):
    return (ct * fnp.sigmoid(x),)  # one cotangent per argument


log1pexp.defvjp(log1pexp_fwd, log1pexp_bwd)


def main():
    xs = np.array([-30.0, 0.0, 30.0, 800.0])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = fg.vmap(fg.grad(naive_log1pexp))(xs)
    custom = fg.vmap(fg.grad(log1pexp))(xs)
    print("x            :", xs)
    print("naive grad   :", naive)
    print("custom grad  :", custom)
    assert np.isnan(naive[-1]) and np.all(np.isfinite(custom))
    from funcgrad.testing import check_grads
    check_grads(lambda v: fnp.sum(log1pexp(v)), (np.linspace(-3, 3, 7),), order=2,
                modes=("rev",))
    print("check_grads: the custom rule agrees with finite differences to second order")


if __name__ == "__main__":
    main()
