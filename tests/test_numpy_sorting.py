"""Sorting, searching, sets and order statistics of funcgrad.numpy vs NumPy."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.testing import check_grads
from funcgrad.testing import strategies as fst
from tests.specs.reductions import distinct


def _close(got, want, **kw):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, **kw)


@given(distinct(fst.shapes(min_dims=1, max_dims=3)), st.data())
def test_sort_argsort_partition(x, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    _close(fnp.sort(x, axis), np.sort(x, axis))
    np.testing.assert_array_equal(fnp.argsort(x, axis), np.argsort(x, axis, kind="stable"))
    check_grads(lambda v: fnp.sort(v, axis), (x,), order=2)
    ax = -1 if axis is None else axis
    kth = data.draw(st.integers(0, x.shape[ax] - 1))
    p = np.asarray(fnp.partition(x, kth, ax))
    want = np.partition(x, kth, ax)
    _close(np.take(p, kth, ax), np.take(want, kth, ax))  # the kth element is in place
    _close(np.sort(p, ax), np.sort(want, ax))
    idx = fnp.argpartition(x, kth, ax)
    _close(np.take_along_axis(x, np.asarray(idx), ax).take(kth, ax), want.take(kth, ax))


def test_sort_ties_are_stable_and_vmappable():
    x = np.array([2.0, 1.0, 2.0, 1.0])
    np.testing.assert_array_equal(fnp.argsort(x), [1, 3, 0, 2])
    g = fg.grad(lambda v: fnp.sum(fnp.sort(v) * np.arange(4.0)))(x)
    _close(g, [2.0, 0.0, 3.0, 1.0])
    xs = np.random.default_rng(0).standard_normal((3, 5))
    _close(fg.vmap(fnp.sort)(xs), np.sort(xs))
    _close(fg.vmap(fnp.sort, in_axes=1)(xs.T), np.sort(xs))
    np.testing.assert_array_equal(fnp.lexsort((np.array([2, 1, 3, 1]), np.array([0, 1, 0, 1]))),
                                  np.lexsort((np.array([2, 1, 3, 1]), np.array([0, 1, 0, 1]))))


@given(distinct(fst.shapes(min_dims=1, max_dims=1, max_side=6)),
       fst.arrays(shape=fst.shapes(max_dims=2), low=-1, high=1),
       st.sampled_from(["left", "right"]))
def test_searchsorted_and_digitize(a, v, side):
    a = np.sort(a)
    np.testing.assert_array_equal(fnp.searchsorted(a, v, side), np.searchsorted(a, v, side))
    perm = np.random.default_rng(0).permutation(a.size)
    np.testing.assert_array_equal(fnp.searchsorted(a[perm], v, side, sorter=np.argsort(a[perm])),
                                  np.searchsorted(a[perm], v, side, np.argsort(a[perm])))
    for right in (False, True):
        np.testing.assert_array_equal(fnp.digitize(v, a, right), np.digitize(v, a, right))
        np.testing.assert_array_equal(fnp.digitize(v, a[::-1], right),
                                      np.digitize(v, a[::-1], right))
    batched = fg.vmap(lambda b: fnp.searchsorted(b, v, side))(np.stack([a, a + 0.5]))
    _close(batched, np.stack([np.searchsorted(a, v, side), np.searchsorted(a + 0.5, v, side)]))


def test_digitize_rejects_non_monotonic_bins():
    with pytest.raises(ValueError, match="monotonically"):
        fnp.digitize(np.ones(2), np.array([0.0, 2.0, 1.0]))


def test_unique_and_sets():
    x = np.array([3.0, 1.0, 3.0, 2.0, 1.0])
    _close(fnp.unique(x), np.unique(x))
    got = fnp.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for g, w in zip(got, np.unique(x, return_index=True, return_inverse=True,
                                   return_counts=True)):
        _close(g, w)
    m = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 5.0]])
    _close(fnp.unique(m, axis=0), np.unique(m, axis=0))
    # values are gathered from their first occurrence: the derivative goes there
    _close(fg.grad(lambda v: fnp.sum(fnp.unique(v) ** 2))(x), [6.0, 2.0, 0.0, 4.0, 0.0])
    for name in ("unique_values", "unique_counts", "unique_inverse", "unique_all"):
        for g, w in zip(np.atleast_1d(getattr(fnp, name)(x)) if name == "unique_values"
                        else getattr(fnp, name)(x),
                        np.atleast_1d(getattr(np, name)(x)) if name == "unique_values"
                        else getattr(np, name)(x)):
            _close(g, w)
    y = np.array([2.0, 5.0, 3.0])
    for name in ("intersect1d", "union1d", "setdiff1d", "setxor1d"):
        _close(getattr(fnp, name)(x, y), getattr(np, name)(x, y), err_msg=name)
    np.testing.assert_array_equal(fnp.isin(x, y), np.isin(x, y))
    np.testing.assert_array_equal(fg.vmap(lambda v: fnp.isin(v, y))(np.stack([x, x + 1])),
                                  np.stack([np.isin(x, y), np.isin(x + 1, y)]))


def test_unique_under_vmap_needs_size():
    xs = np.array([[1.0, 1.0, 2.0], [3.0, 3.0, 3.0]])
    with pytest.raises(fg.ConcretizationError, match="pass size=N"):
        fg.vmap(fnp.unique)(xs)
    got = fg.vmap(lambda v: fnp.unique(v, size=3, fill_value=-1.0))(xs)
    _close(got, [[1.0, 2.0, -1.0], [3.0, -1.0, -1.0]])
    _close(fnp.unique(np.array([4.0, 1.0, 4.0]), size=4), [1.0, 4.0, 1.0, 1.0])
    check_grads(lambda v: fnp.unique(v, size=2), (np.array([4.0, 1.0, 7.0]),), order=1)


QUANTILE_METHODS = ["linear", "lower", "higher", "nearest", "midpoint"]


@given(distinct(fst.shapes(min_dims=1, max_dims=3)), st.data())
def test_quantiles_match_numpy_and_differentiate(x, data):
    axis = data.draw(fst.axes(x.ndim))
    keepdims = data.draw(st.booleans())
    q = data.draw(st.one_of(st.floats(0, 1), st.lists(st.floats(0, 1), min_size=1,
                                                      max_size=3)))
    method = data.draw(st.sampled_from(QUANTILE_METHODS))
    kw = dict(axis=axis, method=method, keepdims=keepdims)
    _close(fnp.quantile(x, q, **kw), np.quantile(x, q, **kw))
    _close(fnp.percentile(x, np.multiply(q, 100), **kw),
           np.percentile(x, np.multiply(q, 100), **kw))
    _close(fnp.median(x, axis, keepdims=keepdims), np.median(x, axis, keepdims=keepdims))
    check_grads(lambda v: fnp.quantile(v, q, axis=axis, method=method), (x,), order=1)


def test_quantile_derivative_in_q_and_nan_versions():
    x = np.array([1.0, 4.0, 2.0, 8.0])
    # between the sorted values 2 and 4 (positions 1 and 2 of 0..3): slope 3 * (4 - 2)
    _close(fg.grad(lambda q: fnp.quantile(x, q))(np.asarray(0.5)), 6.0)
    xn = np.array([[1.0, np.nan, 3.0, 0.5], [np.nan] * 4, [4.0, 2.0, np.nan, 7.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for axis in (None, 1):
            _close(fnp.nanmedian(xn, axis), np.nanmedian(xn, axis))
            _close(fnp.nanquantile(xn, [0.2, 0.9], axis), np.nanquantile(xn, [0.2, 0.9], axis))
            _close(fnp.nanpercentile(xn, 30, axis), np.nanpercentile(xn, 30, axis))
    with pytest.raises(ValueError, match=r"range \[0, 1\]"):
        fnp.quantile(x, 1.5)
    with pytest.raises(ValueError, match="method 'bogus'"):
        fnp.quantile(x, 0.5, method="bogus")


def test_histogram_is_differentiable_in_weights():
    x = np.random.default_rng(1).standard_normal(40)
    w = np.linspace(0.0, 1.0, 40)
    for kw in ({}, {"bins": 5, "weights": w}, {"bins": [-1.0, 0.0, 0.5, 3.0]},
               {"bins": 4, "range": (-1.0, 1.0), "density": True, "weights": w}):
        got, want = fnp.histogram(x, **kw), np.histogram(x, **kw)
        _close(got[0], want[0])
        _close(got[1], want[1])
    assert fnp.histogram(x)[0].dtype == np.histogram(x)[0].dtype
    check_grads(lambda v: fnp.histogram(x, 6, weights=v)[0], (w,), order=1)
    _close(fnp.histogram_bin_edges(x, 3), np.histogram_bin_edges(x, 3))
