"""Finite-difference gradient checks by random projections."""
from __future__ import annotations

import numpy as np

from ..api import jvp, vjp
from ..tree_util import tree_flatten, tree_map, tree_unflatten


class GradCheckError(AssertionError):
    """funcgrad's derivative disagrees with finite differences (or its transpose)."""


def _float_leaves(tree):
    leaves, td = tree_flatten(tree)
    return leaves, td


def _random_like(tree, rng):
    leaves, td = tree_flatten(tree)
    return tree_unflatten(td, [rng.standard_normal(np.shape(l)).astype(np.asarray(l).dtype)
                               if np.asarray(l).dtype.kind in "fc"
                               else None for l in leaves])


def _vdot(a, b):
    la, _ = tree_flatten(a)
    lb, _ = tree_flatten(b)
    total = 0.0
    for x, y in zip(la, lb):
        if x is None or y is None:
            continue
        total += float(np.sum(np.asarray(x, dtype=np.float64) * np.asarray(y, dtype=np.float64)))
    return total


def _axpy(alpha, v, x):
    return tree_map(lambda vi, xi: xi if vi is None else xi + alpha * vi, v, x,
                    is_leaf=lambda z: z is None)


def numerical_jvp(f, args, tangents, eps=1e-6):
    """Central difference (f(x + eps v) - f(x - eps v)) / (2 eps), on pytrees."""
    plus = f(*_axpy(eps, tangents, args))
    minus = f(*_axpy(-eps, tangents, args))
    return tree_map(lambda p, m: (np.asarray(p, dtype=np.float64) -
                                  np.asarray(m, dtype=np.float64)) / (2 * eps), plus, minus)


def _to_float64(args):
    return tree_map(lambda x: np.asarray(x, dtype=np.float64)
                    if np.asarray(x).dtype.kind == "f" else x, args)


def _close(a, b, atol, rtol, what):
    a = float(a)
    b = float(b)
    if not np.isfinite(a) or not np.isfinite(b) or abs(a - b) > atol + rtol * abs(b):
        raise GradCheckError(f"{what}: funcgrad gives {a!r}, expected {b!r} "
                             f"(difference {abs(a - b):.3g}; atol={atol}, rtol={rtol})")


def _diff_mask(args):
    leaves, td = tree_flatten(args)
    return [np.asarray(l).dtype.kind in "fc" for l in leaves]


def check_grads(f, args, order=2, modes=("fwd", "rev"), atol=None, rtol=None, eps=None,
                seed=0):
    """Check ``f``'s derivatives at ``args`` against finite differences.

    For each mode, one random direction is used per order: forward mode checks
    ``jvp(f)(args, v)`` against the central difference along ``v``; reverse
    mode checks ``<u, J v>`` computed from ``vjp`` against ``<u, fd(v)>``.
    With ``order=2`` the derivative functions (the JVP as a function of
    ``args``, the VJP as a function of ``args``) are checked the same way, and
    so on recursively.  Integer and boolean leaves are held fixed.

    Args:
      f: a function of the positional ``args`` (pytrees of arrays).
      args: a tuple of arguments; floating leaves are checked in float64.
      order: how many orders of derivatives to check (1 to 3 typical).
      modes: any of ``"fwd"`` and ``"rev"``.
      atol, rtol: tolerances (defaults suit float64 and ``eps=1e-6``).
      eps: finite-difference step.
      seed: seed of the random directions.

    Raises:
      GradCheckError: with the mode, order and both numbers, on disagreement.

    Examples:
        >>> import funcgrad.numpy as fnp
        >>> check_grads(fnp.tanh, (fnp.asarray([0.1, -0.5]),), order=2)
    """
    args = _to_float64(tuple(args))
    atol = 1e-5 if atol is None else atol
    rtol = 1e-5 if rtol is None else rtol
    eps = 1e-6 if eps is None else eps
    rng = np.random.default_rng(seed)
    _check(f, args, order, tuple(modes), atol, rtol, eps, rng, 1)


def _split_diff(args):
    """Separate float leaves (differentiable) from the rest (held fixed)."""
    leaves, td = tree_flatten(args)
    mask = [np.asarray(l).dtype.kind in "fc" for l in leaves]
    diff = [l for l, m in zip(leaves, mask) if m]

    def rebuild(diff_leaves):
        it = iter(diff_leaves)
        return tree_unflatten(td, [next(it) if m else l for l, m in zip(leaves, mask)])
    return diff, rebuild


def _check(f, args, order, modes, atol, rtol, eps, rng, depth):
    diff, rebuild = _split_diff(args)
    if not diff:
        return

    def g(*d):
        return f(*rebuild(d))

    d = tuple(diff)
    v = tuple(rng.standard_normal(np.shape(x)) for x in d)
    fd = numerical_jvp(g, d, v, eps)
    if "fwd" in modes:
        _, t_out = jvp(g, d, v)
        u = _random_like(t_out, rng)
        _close(_vdot(u, t_out), _vdot(u, fd), atol, rtol, f"jvp (order {depth})")
    if "rev" in modes:
        out, pullback = vjp(g, *d)
        u = _random_like(out, rng)
        ct = pullback(tree_map(lambda x: np.asarray(x, dtype=np.asarray(x).dtype), u))
        _close(_vdot(ct, v), _vdot(u, fd), atol, rtol, f"vjp (order {depth})")
    if order > 1:
        if "fwd" in modes:
            _check(lambda *a: jvp(g, a, v)[1], d, order - 1, modes, atol, rtol, eps, rng,
                   depth + 1)
        if "rev" in modes:
            out = g(*d)
            u = _random_like(out, rng)
            _check(lambda *a: vjp(g, *a)[1](u), d, order - 1, modes, atol, rtol, eps, rng,
                   depth + 1)


def check_jvp_vjp_transpose(f, args, atol=1e-10, rtol=1e-10, seed=0):
    """Check ``<u, J v> == <J^T u, v>`` for random ``u``, ``v`` (no finite differences).

    Forward and reverse mode are exact linear maps, so this holds to rounding
    error: a tight test that catches a JVP and a VJP rule that disagree.
    """
    args = _to_float64(tuple(args))
    diff, rebuild = _split_diff(args)
    if not diff:
        return
    rng = np.random.default_rng(seed)

    def g(*d):
        return f(*rebuild(d))

    d = tuple(diff)
    v = tuple(rng.standard_normal(np.shape(x)) for x in d)
    out, t_out = jvp(g, d, v)
    u = _random_like(out, rng)
    _, pullback = vjp(g, *d)
    ct = pullback(u)
    lhs = _vdot(u, t_out)
    rhs = _vdot(ct, v)
    scale = max(1.0, abs(lhs), abs(rhs))
    if not (np.isfinite(lhs) and np.isfinite(rhs)) or abs(lhs - rhs) > atol + rtol * scale:
        raise GradCheckError(f"JVP/VJP transposition: <u, J v> = {lhs!r} but "
                             f"<J^T u, v> = {rhs!r}")
