"""Hypothesis strategies for gradient tests (needs the ``test`` extra: hypothesis).

Example:
    >>> from hypothesis import given
    >>> from funcgrad.testing import strategies as fst
    >>> @given(fst.arrays(shape=fst.shapes(max_dims=2), low=-2, high=2))
    ... def test_tanh(x):
    ...     check_grads(fnp.tanh, (x,))
"""
from __future__ import annotations

import numpy as np
from hypothesis import assume  # noqa: F401 - re-exported for users
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["shapes", "arrays", "broadcastable_shapes", "pytrees", "well_conditioned_matrices",
           "spd_matrices", "axes", "index_arrays", "away_from"]


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Array shapes (small by default: gradient checks cost one call per element)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def arrays(shape=None, low=-3.0, high=3.0, dtype=np.float64, away=None, min_gap=1e-3):
    """Float arrays with elements in ``[low, high]``.

    Args:
      shape: a shape or a strategy of shapes (default: :func:`shapes`).
      low, high: the domain; keep it away from a function's singularities.
      away: points to keep elements away from (kinks such as 0 for ``abs``),
        by at least ``min_gap``; finite differences are wrong across a kink.
    """
    shape = shapes() if shape is None else shape
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)
    if away is not None:
        pts = np.atleast_1d(away)
        elements = elements.filter(lambda v: np.all(np.abs(v - pts) > min_gap))
    return hnp.arrays(dtype, shape, elements=elements)


def away_from(points, min_gap=1e-3, low=-3.0, high=3.0):
    """Floats in ``[low, high]`` at least ``min_gap`` from each of ``points``."""
    pts = np.atleast_1d(points)
    return st.floats(low, high, allow_nan=False).filter(
        lambda v: np.all(np.abs(v - pts) > min_gap))


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4):
    """Tuples of ``num_shapes`` shapes that broadcast together (NumPy rules)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims,
                                             max_dims=max_dims, max_side=max_side).map(
        lambda r: r.input_shapes)


def axes(ndim, allow_none=True, allow_tuple=True):
    """An ``axis`` argument valid for an array with ``ndim`` dimensions."""
    options = []
    if allow_none:
        options.append(st.none())
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(st.lists(st.integers(0, ndim - 1), unique=True, min_size=1,
                                    max_size=ndim).map(tuple))
    return st.one_of(*options)


def index_arrays(size, shape=None):
    """Integer index arrays with values in ``[-size, size)``."""
    shape = shapes(max_dims=2) if shape is None else shape
    return hnp.arrays(np.int64, shape, elements=st.integers(-size, size - 1))


def pytrees(leaves=None, max_leaves=4):
    """Nested dicts/lists/tuples (and None) of float arrays."""
    leaves = arrays(shape=shapes(max_dims=2)) if leaves is None else leaves
    return st.recursive(leaves, lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3),
        st.tuples(children, children),
        st.dictionaries(st.sampled_from("abcd"), children, min_size=1, max_size=3)),
        max_leaves=max_leaves)


@st.composite
def well_conditioned_matrices(draw, n=None, max_n=4, batch_shape=(), cond_max=20.0):
    """Square matrices with condition number at most ``cond_max`` (via a random SVD)."""
    n = draw(st.integers(1, max_n)) if n is None else n
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    shape = tuple(batch_shape) + (n, n)
    u, _ = np.linalg.qr(rng.standard_normal(shape))
    v, _ = np.linalg.qr(rng.standard_normal(shape))
    s = rng.uniform(1.0, cond_max, size=tuple(batch_shape) + (n,))
    s[..., 0] = 1.0
    if n > 1:
        s[..., -1] = cond_max
    sign = rng.choice([-1.0, 1.0], size=tuple(batch_shape) + (n,))
    return (u * (s * sign)[..., None, :]) @ np.swapaxes(v, -1, -2)


@st.composite
def spd_matrices(draw, n=None, max_n=4, batch_shape=(), min_eig=0.5, max_eig=5.0):
    """Symmetric positive definite matrices with eigenvalues in [min_eig, max_eig]."""
    n = draw(st.integers(1, max_n)) if n is None else n
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal(tuple(batch_shape) + (n, n)))
    lam = rng.uniform(min_eig, max_eig, size=tuple(batch_shape) + (n,))
    return (q * lam[..., None, :]) @ np.swapaxes(q, -1, -2)
