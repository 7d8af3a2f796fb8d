"""Functions of funcgrad.numpy that used to build host (NumPy) constants or host copies
of device values, run on "device" arrays through the CuPy test double
(tests/cupy_double): each must return device arrays equal to the NumPy results.

No GPU is used: the double is a NumPy-backed fake ``cupy`` whose arrays are a
distinct class and which refuses implicit host conversion (see
tests/test_cupy_double.py).
"""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from tests.cupy_double import installed


@pytest.fixture(scope="module")
def cp():
    with installed() as cupy:
        yield cupy


def _same(cp, got, want):
    """``got`` (an array or a tuple of them) is on the device and equals ``want``."""
    gots = list(got) if isinstance(got, (list, tuple)) else [got]
    wants = list(want) if isinstance(want, (list, tuple)) else [want]
    assert len(gots) == len(wants)
    for g, w in zip(gots, wants):
        if isinstance(w, (int, np.integer)) and not isinstance(w, np.ndarray):
            assert g == w
            continue
        assert type(g) is cp.ndarray, f"result left the device ({type(g).__name__})"
        h = cp.asnumpy(g)
        assert h.dtype == np.asarray(w).dtype, (h.dtype, np.asarray(w).dtype)
        np.testing.assert_allclose(h, np.asarray(w), rtol=1e-12, atol=1e-12)


def _check(cp, fn, *args, **kwargs):
    """``fn`` on device copies of the array arguments equals ``fn`` on the host ones."""
    want = fn(*args, **kwargs)
    dev = [cp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    got = fn(*dev, **kwargs)
    _same(cp, got, want)
    return got, want


X = np.array([3., 1., 4., 1., 5., 9., 2., 6., 5., 3.])
I = np.array([0, 2, 2, 5, 1, 0])
M = np.array([[2., 1., 0.], [1., 3., 1.], [0., 1., 4.]])


# --------------------------------------------------------------------------- #
# indexing
# --------------------------------------------------------------------------- #
def test_bincount(cp):
    _check(cp, fnp.bincount, I)
    _check(cp, fnp.bincount, I, minlength=9)
    _check(cp, fnp.bincount, I, length=7)


def test_bincount_weights(cp):
    _check(cp, fnp.bincount, I, np.linspace(0., 1., 6))


def test_compress(cp):
    cond = np.array([True, False, True, True, False, False, True, False, False, True])
    _check(cp, fnp.compress, cond, X)
    _check(cp, lambda c, a: fnp.compress(c, a, axis=0), np.array([True, False, True]), M)
    _check(cp, lambda c, a: fnp.compress(c, a, axis=1), np.array([False, True]), M)


def test_extract(cp):
    _check(cp, fnp.extract, X > 3, X)
    _check(cp, fnp.extract, M > 1, M)


def test_compress_grad(cp):
    cond = X > 3
    want = fg.grad(lambda a: fnp.sum(fnp.compress(cond, a) ** 2))(X)
    got = fg.grad(lambda a: fnp.sum(fnp.compress(cp.asarray(cond), a) ** 2))(cp.asarray(X))
    _same(cp, got, want)


# --------------------------------------------------------------------------- #
# editing
# --------------------------------------------------------------------------- #
def test_insert(cp):
    _check(cp, fnp.insert, X, 2, 7.)
    _check(cp, fnp.insert, X, [1, 3, 3, -1], np.array([10., 20., 30., 40.]))
    _check(cp, fnp.insert, X, slice(0, 6, 2), 0.)
    _check(cp, lambda a, v: fnp.insert(a, [0, 2], v, axis=1), M, np.array([7., 8., 9.])[:, None])


# --------------------------------------------------------------------------- #
# padding
# --------------------------------------------------------------------------- #
def test_pad_linear_ramp(cp):
    _check(cp, lambda a: fnp.pad(a, (3, 2), mode="linear_ramp"), X)
    _check(cp, lambda a: fnp.pad(a, ((1, 2), (2, 0)), mode="linear_ramp",
                                  end_values=((1., -1.), (5., 0.))), M)
    _check(cp, lambda a: fnp.pad(a, (2, 3), mode="linear_ramp", end_values=7), I)


def test_pad_settings_given_as_device_arrays(cp):
    ends, fills = np.array([[1., -1.], [5., 0.]]), np.array([[7., 8.], [9., 6.]])
    _check(cp, lambda a, e: fnp.pad(a, ((1, 2), (2, 0)), mode="linear_ramp", end_values=e),
           M, ends)
    _check(cp, lambda a, c: fnp.pad(a, ((1, 2), (2, 1)), constant_values=c), M, fills)
    _check(cp, lambda a, c: fnp.pad(a, 2, constant_values=c), X, np.array(4.5))


def test_append_python_values_onto_a_device_array(cp):
    _check(cp, lambda a: fnp.append(a, 3.0), X)
    _check(cp, lambda a: fnp.append(a, [[1., 2., 3.]], axis=0), M)


# --------------------------------------------------------------------------- #
# linalg
# --------------------------------------------------------------------------- #
def test_matrix_power(cp):
    for n in (0, 1, 3, -2):
        _check(cp, fnp.linalg.matrix_power, M, n)
    _check(cp, fnp.linalg.matrix_power, np.stack([M, 2 * M]), 0)


def test_lstsq(cp):
    a = np.array([[1., 0.], [1., 1.], [1., 2.], [1., 4.]])
    b = np.array([1., 2., 2., 5.])
    _check(cp, fnp.linalg.lstsq, a, b)
    _check(cp, fnp.linalg.lstsq, a, np.stack([b, -b], 1))
    _check(cp, fnp.linalg.lstsq, a[:2], b[:2])  # no residuals: an empty device array
    _check(cp, fnp.linalg.lstsq, np.array([[1., 1.], [1., 1.], [2., 2.]]),
           np.array([1., 2., 3.]))  # rank deficient


@pytest.mark.parametrize("name,fn", [
    ("solve", lambda a: fnp.linalg.solve(a, fnp.ones_like(a))),
    ("inv", fnp.linalg.inv),
    ("cholesky", fnp.linalg.cholesky),
])
def test_linalg_singular_raises(cp, name, fn):
    bad = cp.asarray(np.zeros((3, 3)))
    with pytest.raises(np.linalg.LinAlgError):
        fn(bad)


def test_triangular_solve_singular_raises(cp):
    from funcgrad.prims.linalg import triangular_solve
    with pytest.raises(np.linalg.LinAlgError):
        triangular_solve(cp.asarray(np.zeros((3, 3))), cp.asarray(np.ones((3, 1))), lower=True)


def test_linalg_regular_on_device(cp):
    from funcgrad.prims.linalg import triangular_solve
    b = np.ones((3, 2))
    _check(cp, lambda a, c: triangular_solve(a, c, lower=True), M, b)
    _check(cp, fnp.linalg.solve, M, b)
    _check(cp, fnp.linalg.inv, M)
    _check(cp, fnp.linalg.cholesky, M)


def test_raising_impls_registered():
    from funcgrad.prims import linalg as L
    for p in (L.triangular_solve_p, L.solve_p, L.inv_p, L.cholesky_p):
        assert "cupy" in p.impls, p.name


# --------------------------------------------------------------------------- #
# sorting: unique, set functions, histograms
# --------------------------------------------------------------------------- #
def test_unique(cp):
    _check(cp, fnp.unique, X)
    _check(cp, lambda a: fnp.unique(a, return_index=True, return_inverse=True,
                                    return_counts=True), X)
    _check(cp, lambda a: fnp.unique(a, axis=0), np.array([[1., 2.], [0., 1.], [1., 2.]]))
    _check(cp, fnp.unique_values, X)
    _check(cp, fnp.unique_counts, X)
    _check(cp, fnp.unique_inverse, X.reshape(2, 5))
    _check(cp, fnp.unique_all, X.reshape(5, 2))


def test_unique_grad(cp):
    want = fg.grad(lambda a: fnp.sum(fnp.unique(a) ** 2))(X)
    got = fg.grad(lambda a: fnp.sum(fnp.unique(a) ** 2))(cp.asarray(X))
    _same(cp, got, want)


def test_set_functions(cp):
    y = np.array([1., 2., 7., 9., 9., 0.])
    _check(cp, fnp.intersect1d, X, y)
    _check(cp, lambda a, b: fnp.intersect1d(a, b, return_indices=True), X, y)
    _check(cp, fnp.union1d, X, y)
    _check(cp, fnp.setdiff1d, X, y)
    _check(cp, fnp.setxor1d, X, y)


def test_isin(cp):
    _check(cp, fnp.isin, X, np.array([1., 5., 8.]))
    _check(cp, lambda a, b: fnp.isin(a, b, invert=True), X, np.array([1., 5., 8.]))


def test_histograms(cp):
    _check(cp, fnp.histogram_bin_edges, X)
    _check(cp, fnp.histogram_bin_edges, X, 4, (0., 8.))
    _check(cp, fnp.histogram_bin_edges, X, np.array([0., 2., 5., 10.]))
    _check(cp, fnp.histogram, X)
    _check(cp, lambda a: fnp.histogram(a, 4, (2., 6.)), X)
    _check(cp, lambda a, w: fnp.histogram(a, 3, weights=w), X, np.linspace(0., 1., 10))
    _check(cp, lambda a: fnp.histogram(a, 5, density=True), X)
    _check(cp, lambda a, b: fnp.histogram(a, b), X, np.array([0., 2., 5., 10.]))
    _check(cp, lambda a, lo, hi: fnp.histogram(a, 4, (lo, hi)), X, np.array(2.), np.array(6.))
