"""funcgrad.numpy reductions, running reductions and sequence functions vs NumPy.

Values are compared with NumPy over random shapes, axes (None, int, negative,
tuple) and keepdims; gradients with finite differences (check_grads, float64).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.testing import check_grads
from funcgrad.testing import strategies as fst
from tests.specs.reductions import distinct, with_zeros


@st.composite
def array_axis(draw, elements=None, allow_tuple=True, min_dims=0):
    x = draw(elements if elements is not None else
             fst.arrays(shape=fst.shapes(min_dims=min_dims, max_dims=3)))
    axis = draw(fst.axes(x.ndim, allow_tuple=allow_tuple))
    return x, axis, draw(st.booleans())


def _close(got, want, **kw):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10, atol=1e-12,
                               **kw)


def _count(x, axis):
    if axis is None:
        return x.size
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([x.shape[a] for a in axes]))


# name -> (fnp function, numpy function, input strategy): f(x, axis, keepdims=...).
REDUCTIONS = {
    "sum": (fnp.sum, np.sum, None),
    "mean": (fnp.mean, np.mean, None),
    "prod": (fnp.prod, np.prod, fst.arrays(shape=fst.shapes(max_dims=3), low=-1.5, high=1.5)),
    "max": (fnp.max, np.max, distinct()),
    "min": (fnp.min, np.min, distinct()),
    "amax": (fnp.amax, np.amax, distinct()),
    "ptp": (fnp.ptp, np.ptp, distinct()),
    "var": (fnp.var, np.var, None),
    "var_ddof1": (lambda x, a, keepdims: fnp.var(x, a, ddof=1, keepdims=keepdims),
                  lambda x, a, keepdims: np.var(x, a, ddof=1, keepdims=keepdims), None),
    "std": (fnp.std, np.std, distinct()),
    "std_ddof1": (lambda x, a, keepdims: fnp.std(x, a, ddof=1, keepdims=keepdims),
                  lambda x, a, keepdims: np.std(x, a, ddof=1, keepdims=keepdims), distinct()),
    "logsumexp": (lambda x, a, keepdims: fnp.logsumexp(x, a, keepdims=keepdims),
                  lambda x, a, keepdims: np.log(np.sum(np.exp(x), a, keepdims=keepdims)), None),
    "average": (lambda x, a, keepdims: fnp.average(x, a, keepdims=keepdims),
                lambda x, a, keepdims: np.average(x, a, keepdims=keepdims), None),
    "nansum": (fnp.nansum, np.nansum, None),
    "nanmax": (fnp.nanmax, np.nanmax, distinct()),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduction_values_and_grads(name):
    fn, np_fn, elements = REDUCTIONS[name]

    @given(array_axis(elements))
    def check(case):
        x, axis, keepdims = case
        n = _count(x, axis)
        assume(n > 0 or name in ("sum", "prod", "nansum"))
        if "ddof1" in name or name.startswith("std"):
            assume(n > 1)  # std of one value is 0: an infinite derivative
        _close(fn(x, axis, keepdims=keepdims), np_fn(x, axis, keepdims=keepdims), err_msg=name)
        if x.size and n:
            check_grads(lambda v: fn(v, axis, keepdims=keepdims), (x,), order=1)
    check()


@given(array_axis(fst.arrays(shape=fst.shapes(max_dims=3)).map(lambda a: np.round(a))))
def test_all_any_count_nonzero(case):
    x, axis, keepdims = case
    for fn, np_fn in ((fnp.all, np.all), (fnp.any, np.any)):
        got = fn(x, axis, keepdims)
        assert np.asarray(got).dtype == np.bool_
        np.testing.assert_array_equal(got, np_fn(x, axis, keepdims=keepdims))
    np.testing.assert_array_equal(fnp.count_nonzero(x, axis, keepdims=keepdims),
                                  np.count_nonzero(x, axis, keepdims=keepdims))


@given(array_axis(distinct(fst.shapes(min_dims=1, max_dims=3)), allow_tuple=False))
def test_argmax_argmin(case):
    x, axis, keepdims = case
    for fn, np_fn in ((fnp.argmax, np.argmax), (fnp.argmin, np.argmin)):
        np.testing.assert_array_equal(fn(x, axis, keepdims), np_fn(x, axis, keepdims=keepdims))


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "nancumsum"])
def test_running_reductions(name):
    fn, np_fn = getattr(fnp, name), getattr(np, name)

    @given(array_axis(fst.arrays(shape=fst.shapes(max_dims=3), low=-1.5, high=1.5),
                      allow_tuple=False))
    def check(case):
        x, axis, _ = case
        _close(fn(x, axis), np_fn(x, axis))
        check_grads(lambda v: fn(v, axis), (x,), order=2 if x.size < 8 else 1)
    check()


def test_cumulative_sum_and_prod_include_initial():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    _close(fnp.cumulative_sum(x, axis=1, include_initial=True),
           np.cumulative_sum(x, axis=1, include_initial=True))
    _close(fnp.cumulative_prod(x, axis=0), np.cumulative_prod(x, axis=0))
    with pytest.raises(ValueError, match="axis must be given"):
        fnp.cumulative_sum(x)


@given(array_axis(with_zeros(fst.shapes(min_dims=1, max_dims=2, max_side=4))))
def test_prod_and_cumprod_gradients_with_zeros(case):
    """Exact jacobians (vs finite differences, exact for polynomials) with zeros."""
    x, axis, keepdims = case
    fns = [lambda v: fnp.prod(v, axis, keepdims=keepdims)]
    if not isinstance(axis, tuple):
        fns.append(lambda v: fnp.cumprod(v, axis))
    for f in fns:
        want = _numerical_jacobian(f, x)
        for jac in (fg.jacrev, fg.jacfwd):
            np.testing.assert_allclose(jac(f)(x), want, atol=1e-7)
        check_grads(f, (x,), order=2)


def _numerical_jacobian(f, x, eps=1e-3):
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = eps
        jac[(Ellipsis,) + k] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps)
    return jac


def test_max_splits_ties_evenly():
    g = fg.grad(lambda v: fnp.max(v))(np.array([1.0, 3.0, 3.0, 2.0]))
    _close(g, [0.0, 0.5, 0.5, 0.0])
    t = fg.jvp(lambda v: fnp.max(v), (np.array([3.0, 3.0]),), (np.array([1.0, 0.0]),))[1]
    _close(t, 0.5)


def test_nan_reductions_match_numpy():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [4.0, 0.5, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name in ("nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin",
                     "nancumsum", "nancumprod"):
            for axis in (None, 0, 1):
                _close(getattr(fnp, name)(x, axis), getattr(np, name)(x, axis),
                       err_msg=f"{name} axis={axis}")
        _close(fnp.nanargmax(x[0]), np.nanargmax(x[0]))
        _close(fnp.nanargmin(x, 1)[[0, 2]], np.nanargmin(x[[0, 2]], 1))
    # NaNs get a zero derivative (4 values are not NaN).
    _close(fg.grad(fnp.nanmean)(x), np.where(np.isnan(x), 0.0, 0.25))
    _close(fg.grad(lambda v: fnp.nansum(fnp.nanmax(v, 1)))(x),
           [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])


def test_where_initial_and_dtype_arguments():
    x = np.arange(6.0).reshape(2, 3)
    m = x > 1
    _close(fnp.sum(x, where=m), np.sum(x, where=m))
    _close(fnp.mean(x, axis=1, where=m), np.mean(x, axis=1, where=m))
    _close(fnp.max(x, where=m, initial=-1.0), np.max(x, where=m, initial=-1.0))
    _close(fnp.sum(x, initial=10.0), np.sum(x, initial=10.0))
    assert fnp.sum(np.arange(4, dtype=np.int32)).dtype == np.sum(np.arange(4, dtype=np.int32)).dtype
    assert fnp.mean(np.arange(4)).dtype == np.float64
    _close(fnp.var(x, 1, correction=1), np.var(x, 1, correction=1))


def test_average_with_weights_is_differentiable_in_both():
    x = np.arange(6.0).reshape(2, 3)
    w = np.array([1.0, 2.0, 0.5])
    _close(fnp.average(x, 1, weights=w), np.average(x, 1, weights=w))
    avg, scl = fnp.average(x, 0, weights=x + 1, returned=True)
    want = np.average(x, 0, weights=x + 1, returned=True)
    _close(avg, want[0])
    _close(scl, want[1])
    check_grads(lambda v, u: fnp.average(v, 1, weights=u), (x, w), order=1)
    with pytest.raises(ValueError, match=r"weights of shape \(2,\)"):
        fnp.average(x, weights=np.ones(2))


def test_reduction_errors_name_the_problem():
    x = np.ones((2, 3))
    with pytest.raises(np.exceptions.AxisError, match="dimension 2"):
        fnp.sum(x, axis=2)
    with pytest.raises(np.exceptions.AxisError, match="dimension 2"):
        fnp.cumsum(x, axis=-3)
    with pytest.raises(ValueError, match="repeated axis"):
        fnp.mean(x, axis=(0, -2))
    with pytest.raises(ValueError, match="zero-size array"):
        fnp.max(np.ones((0, 2)))
    with pytest.raises(TypeError, match="out= is not supported"):
        fnp.sum(x, out=np.zeros(()))


def test_reductions_under_vmap_and_jit():
    from funcgrad.jit import jit
    xs = np.random.default_rng(0).uniform(0.5, 2.0, (3, 4, 5))
    for f in (lambda v: fnp.prod(v, 1), lambda v: fnp.cumprod(v, -1),
              lambda v: fnp.var(v, (0, 1), ddof=1), lambda v: fnp.logsumexp(v, -1)):
        want = np.stack([f(x) for x in xs])
        _close(fg.vmap(f)(xs), want)
        _close(fg.vmap(f, in_axes=2)(np.moveaxis(xs, 0, 2)), want)
        _close(jit(f)(xs[0]), f(xs[0]))


# --------------------------------------------------------------------------- #
# Differences, integrals, convolution, interpolation (funcgrad.numpy.series)
# --------------------------------------------------------------------------- #
@given(array_axis(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=3)), allow_tuple=False,
                  min_dims=1), st.integers(1, 2))
def test_diff_and_gradient(case, n):
    x, axis, _ = case
    axis = -1 if axis is None else axis
    _close(fnp.diff(x, n, axis), np.diff(x, n, axis))
    check_grads(lambda v: fnp.diff(v, n, axis), (x,), order=1)
    assume(x.shape[axis] >= 3)
    for edge_order in (1, 2):
        _close(fnp.gradient(x, 0.5, axis=axis, edge_order=edge_order),
               np.gradient(x, 0.5, axis=axis, edge_order=edge_order))
    coords = np.cumsum(np.linspace(0.5, 1.0, x.shape[axis]))
    _close(fnp.gradient(x, coords, axis=axis, edge_order=2),
           np.gradient(x, coords, axis=axis, edge_order=2))
    check_grads(lambda v, c: fnp.gradient(v, c, axis=axis), (x, coords), order=1)


@given(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=1, max_side=6)),
       fst.arrays(shape=fst.shapes(min_dims=1, max_dims=1, max_side=6)),
       st.sampled_from(["full", "same", "valid"]))
def test_convolve_and_correlate(a, v, mode):
    _close(fnp.convolve(a, v, mode), np.convolve(a, v, mode))
    _close(fnp.correlate(a, v, mode), np.correlate(a, v, mode))
    check_grads(lambda p, q: fnp.convolve(p, q, mode), (a, v), order=1)


def test_ediff1d_trapezoid_cross_cov():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5))
    _close(fnp.ediff1d(x, to_end=[9.0], to_begin=1.0), np.ediff1d(x, to_end=[9.0], to_begin=1.0))
    t = np.cumsum(rng.uniform(0.5, 1.0, 5))
    _close(fnp.trapezoid(x, t), np.trapezoid(x, t))
    _close(fnp.trapezoid(x, dx=0.3, axis=0), np.trapezoid(x, dx=0.3, axis=0))
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    _close(fnp.cross(a, b), np.cross(a, b))
    _close(fnp.cross(a.T, b.T, axisa=0, axisb=0, axisc=0),
           np.cross(a.T, b.T, axisa=0, axisb=0, axisc=0))
    check_grads(fnp.cross, (a, b), order=2)
    _close(fnp.cov(x), np.cov(x))
    _close(fnp.cov(x, rowvar=False, ddof=0), np.cov(x, rowvar=False, ddof=0))
    _close(fnp.corrcoef(x), np.corrcoef(x))
    check_grads(lambda v: fnp.cov(v), (x,), order=1)


def test_interp_values_and_grads():
    rng = np.random.default_rng(2)
    xp = np.sort(rng.uniform(0, 5, 6))
    fp = rng.standard_normal(6)
    x = rng.uniform(-1, 6, 10)
    _close(fnp.interp(x, xp, fp), np.interp(x, xp, fp))
    _close(fnp.interp(x, xp, fp, left=-7.0, right=9.0), np.interp(x, xp, fp, -7.0, 9.0))
    _close(fnp.interp(x, xp, fp, period=2.5), np.interp(x, xp, fp, period=2.5))
    inside = rng.uniform(xp[0] + 0.01, xp[-1] - 0.01, 5)
    inside = inside[np.min(np.abs(inside[:, None] - xp[None]), 1) > 1e-3]
    check_grads(lambda v, f: fnp.interp(v, xp, f), (inside, fp), order=1)
