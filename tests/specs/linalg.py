"""Specs of the linear-algebra primitives.

Domains keep finite differences well defined: well-conditioned or SPD
matrices, and for ``eigh``/``svd`` well-separated eigen/singular values (the
vector derivatives contain 1/(λ_j − λ_i)).  Eigen/singular vector signs are
fixed by the implementations (largest-magnitude entry positive), so the
strategies also keep the two largest magnitudes of each vector apart.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from funcgrad.prims import linalg as L
from funcgrad.testing import strategies as fst
from tests.specs import PrimSpec

BATCHES = [(), (2,)]


def _seeded(draw):
    return np.random.default_rng(draw(st.integers(0, 2 ** 31 - 1)))


def _orthonormal(rng, batch, n, k):
    q, _ = np.linalg.qr(rng.standard_normal(tuple(batch) + (n, k)))
    return q


def _signs_stable(v, gap=1e-3):
    """Each column's largest |entry| is clearly the largest (the sign rule is smooth)."""
    a = np.sort(np.abs(v), axis=-2)
    return v.shape[-2] < 2 or bool(np.all(a[..., -1, :] - a[..., -2, :] > gap))


@st.composite
def separated_symmetric(draw, max_n=4):
    """Symmetric matrices whose eigenvalues are at least 0.5 apart."""
    n = draw(st.integers(1, max_n))
    batch = draw(st.sampled_from(BATCHES))
    rng = _seeded(draw)
    q = _orthonormal(rng, batch, n, n)
    lam = np.cumsum(rng.uniform(0.5, 1.5, batch + (n,)), axis=-1) - rng.uniform(0, 3)
    a = (q * lam[..., None, :]) @ np.swapaxes(q, -1, -2)
    a = (a + np.swapaxes(a, -1, -2)) / 2
    fst.assume(_signs_stable(np.linalg.eigh(a)[1]))
    return a


@st.composite
def separated_svd(draw, max_n=4, tall=None):
    """(m, n) matrices with singular values >= 0.5 and at least 0.5 apart.

    ``tall``: True for m >= n only, False for m <= n only, None for any.
    """
    m, n = draw(st.integers(1, max_n)), draw(st.integers(1, max_n))
    if tall is not None and (m >= n) != tall and m != n:
        m, n = n, m
    batch = draw(st.sampled_from(BATCHES))
    rng = _seeded(draw)
    k = min(m, n)
    s = 0.5 + np.cumsum(rng.uniform(0.5, 1.5, batch + (k,)), axis=-1)[..., ::-1]
    a = (_orthonormal(rng, batch, m, k) * s[..., None, :]) @ np.swapaxes(
        _orthonormal(rng, batch, n, k), -1, -2)
    fst.assume(_signs_stable(np.linalg.svd(a, full_matrices=False)[0]))
    return a


def square(**kw):
    return st.sampled_from(BATCHES).flatmap(
        lambda b: fst.well_conditioned_matrices(batch_shape=b, **kw))


@st.composite
def triangular_systems(draw):
    """(a, b): a's triangles have |diagonal| in [1, 2], small off-diagonal entries."""
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    ba, bb = draw(st.sampled_from([((), ()), ((2,), ()), ((), (2,)), ((2,), (2,))]))
    rng = _seeded(draw)
    a = rng.uniform(-0.5, 0.5, ba + (n, n))
    diag = rng.uniform(1, 2, ba + (n,)) * rng.choice([-1.0, 1.0], ba + (n,))
    a = a + diag[..., None] * np.eye(n)
    return a, rng.standard_normal(bb + (n, k))


@st.composite
def linear_systems(draw):
    """(a, b): a well conditioned, b (..., n, k); batch dims broadcast."""
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    ba, bb = draw(st.sampled_from([((), ()), ((2,), ()), ((), (2,)), ((2,), (1,))]))
    a = draw(fst.well_conditioned_matrices(n=n, batch_shape=ba))
    return a, draw(fst.arrays(shape=bb + (n, k)))


def one(strategy, **params):
    return st.tuples(strategy.map(lambda a: (a,)), st.just(params))


def tri(**params):
    return st.tuples(triangular_systems(), st.just(params))


SPECS = [
    PrimSpec(L.triangular_solve_p, tri(lower=True, transpose_a=False, unit_diagonal=False),
             name="triangular_solve_lower"),
    PrimSpec(L.triangular_solve_p, tri(lower=False, transpose_a=True, unit_diagonal=False),
             name="triangular_solve_upper_T"),
    PrimSpec(L.triangular_solve_p, tri(lower=True, transpose_a=True, unit_diagonal=True),
             name="triangular_solve_unit_T"),
    PrimSpec(L.solve_p, st.tuples(linear_systems(), st.just({}))),
    PrimSpec(L.inv_p, one(square())),
    PrimSpec(L.det_p, one(square(cond_max=5.0))),
    PrimSpec(L.slogdet_p, one(square())),
    PrimSpec(L.cholesky_p, one(st.sampled_from(BATCHES).flatmap(
        lambda b: fst.spd_matrices(batch_shape=b)))),
    PrimSpec(L.eigh_p, one(separated_symmetric())),
    PrimSpec(L.svd_p, one(separated_svd(), full_matrices=False, compute_uv=True)),
    PrimSpec(L.svd_p, one(separated_svd(), full_matrices=False, compute_uv=False),
             name="svd_values"),
    PrimSpec(L.qr_p, one(separated_svd(tall=True))),
    PrimSpec(L.pinv_p, one(separated_svd(), rcond=1e-15)),
]
