"""Reductions and running reductions of ``funcgrad.numpy`` (NumPy's ``axis``/``keepdims``).

Signatures follow NumPy, except that ``keepdims`` keeps the position it has in
funcgrad's array methods (``x.sum(axis, dtype, keepdims)``) and ``out=`` is
refused: arrays are immutable under transforms, use the returned value.

Gradients: ``max``/``min`` split the cotangent evenly among ties; ``prod`` and
``cumprod`` are exact when the input holds zeros (see funcgrad.prims.reductions).

Differences, integrals, convolution, interpolation and covariance live in
:mod:`funcgrad.numpy.series` and are re-exported here.
"""
from __future__ import annotations

import math

import numpy as np

from ..prims import reductions as R
from ..prims.creation import asarray
from ..prims.elementwise import convert, stop_gradient, where
from ..prims.shape_ops import broadcast_to as _broadcast_to, normalize_axes
from ..prims.shape_ops import reshape as _reshape
from . import math as M
from .series import __all__ as _series_all
from .series import *  # noqa: F401,F403 - re-exported

__all__ = _series_all + ["sum", "prod", "product", "mean", "var", "std", "max", "min", "amax", "amin",
           "ptp", "argmax", "argmin", "logsumexp", "all", "any", "count_nonzero",
           "average", "cumsum", "cumprod", "cumulative_sum", "cumulative_prod",
           "nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin",
           "nanargmax", "nanargmin", "nancumsum", "nancumprod"]


def _arr(a):
    return a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a)


def _no_out(out, op):
    if out is not None:
        raise TypeError(f"{op}: out= is not supported (funcgrad arrays are immutable under "
                        f"transforms); use the returned array: y = fnp.{op}(...)")


def _masked(a, where_, fill):
    return a if where_ is None else where(where_, a, fill)


def sum(a, axis=None, dtype=None, keepdims=False, *, out=None, initial=None,  # noqa: A001
        where=None):
    """Sum of elements over ``axis`` (None: all; an int or tuple of ints).

    Args:
      a: array-like.
      axis: axes to reduce; negative values count from the end.
      dtype: accumulate in this dtype (small ints accumulate in int64, like NumPy).
      keepdims: keep the reduced axes with size 1.
      initial: a value added to the sum.
      where: a boolean mask of the elements to include.

    Raises:
      numpy.exceptions.AxisError: an axis is out of range (the message names ndim).

    Examples:
        >>> fnp.sum(fnp.ones((2, 3)), axis=-1)
        array([3., 3.])
    """
    _no_out(out, "sum")
    a = _arr(a)
    if dtype is not None:
        a = convert(a, dtype)
    out = R.reduce(R.reduce_sum_p, _masked(a, where, 0), axis, keepdims, "sum")
    return out if initial is None else out + initial


def prod(a, axis=None, dtype=None, keepdims=False, *, out=None, initial=None, where=None):
    """Product of elements over ``axis``.

    Its gradient is exact when ``a`` holds zeros (d/dx_j = product of the
    others, from exclusive running products; never ``out / x``).

    Examples:
        >>> fnp.prod(fnp.asarray([[1., 2.], [3., 4.]]), axis=0)
        array([3., 8.])
    """
    _no_out(out, "prod")
    a = _arr(a)
    if dtype is not None:
        a = convert(a, dtype)
    out = R.reduce(R.reduce_prod_p, _masked(a, where, 1), axis, keepdims, "prod")
    return out if initial is None else out * initial


product = prod


def _count(a, axis, op="mean"):
    axes = normalize_axes(axis, a.ndim, op)
    return math.prod([a.shape[i] for i in axes])


def _as_float(a, dtype):
    if dtype is not None:
        return convert(a, dtype)
    return a if a.dtype.kind in "fc" else convert(a, np.float64)


def mean(a, axis=None, dtype=None, keepdims=False, *, out=None, where=None):
    """Arithmetic mean over ``axis`` (integers average in float64, like NumPy).

    Examples:
        >>> fnp.mean(fnp.asarray([1, 2, 3, 4]))
        np.float64(2.5)
    """
    _no_out(out, "mean")
    a = _as_float(_arr(a), dtype)
    if where is not None:
        n = sum(_broadcast_to(convert(_arr(where), a.dtype), tuple(a.shape)), axis,
                keepdims=keepdims)
        return sum(a, axis, keepdims=keepdims, where=where) / n
    n = _count(a, axis)
    total = sum(a, axis, keepdims=keepdims)
    return total / np.asarray(n, dtype=a.dtype).item() if n else total * np.nan


_mean_fn = mean  # var's ``mean=`` argument shadows the function


def var(a, axis=None, dtype=None, ddof=0, keepdims=False, *, out=None, correction=None,
        mean=None):  # noqa: A002 - NumPy's names
    """Variance over ``axis`` with ``ddof`` (or ``correction``) delta degrees of freedom.

    Args:
      mean: a precomputed mean (broadcastable with ``keepdims=True`` shape), as NumPy 2.

    Examples:
        >>> fnp.var(fnp.asarray([1., 2., 3., 4.]), ddof=1)
        np.float64(1.6666666666666667)
    """
    _no_out(out, "var")
    if correction is not None:
        ddof = correction
    a = _as_float(_arr(a), dtype)
    m = _mean_fn(a, axis, keepdims=True) if mean is None else mean
    d = a - m
    n = _count(a, axis, "var") - ddof
    return sum(d * d, axis, keepdims=keepdims) / n


def std(a, axis=None, dtype=None, ddof=0, keepdims=False, *, out=None, correction=None,
        mean=None):  # noqa: A002
    """Standard deviation; its derivative is infinite where the spread is 0.

    Examples:
        >>> fnp.std(fnp.asarray([1., 3.]))
        np.float64(1.0)
    """
    return M.sqrt(var(a, axis, dtype, ddof, keepdims, out=out, correction=correction,
                      mean=mean))


def _extreme(prim, name, a, axis, keepdims, initial, where_):
    a = _arr(a)
    if where_ is not None:
        if initial is None:
            raise ValueError(f"{name}: reduction operation with where= requires initial=")
        fill = -np.inf if name == "max" else np.inf
        a = where(where_, a, fill if a.dtype.kind == "f" else initial)
    if a.size == 0 and initial is None:
        raise ValueError(f"{name}: zero-size array (shape {tuple(a.shape)}) to reduction "
                         f"operation {name}imum which has no identity; pass initial=")
    out = R.reduce(prim, a, axis, keepdims, name)
    if initial is None:
        return out
    return M.maximum(out, initial) if name == "max" else M.minimum(out, initial)


def max(a, axis=None, keepdims=False, *, out=None, initial=None, where=None):  # noqa: A001
    """Maximum over ``axis``; the derivative is shared evenly among ties.

    Examples:
        >>> fnp.max(fnp.asarray([[1., 5.], [3., 2.]]), axis=1)
        array([5., 3.])
    """
    _no_out(out, "max")
    return _extreme(R.reduce_max_p, "max", a, axis, keepdims, initial, where)


def min(a, axis=None, keepdims=False, *, out=None, initial=None, where=None):  # noqa: A001
    """Minimum over ``axis``; the derivative is shared evenly among ties."""
    _no_out(out, "min")
    return _extreme(R.reduce_min_p, "min", a, axis, keepdims, initial, where)


amax = max
amin = min


def ptp(a, axis=None, keepdims=False):
    """Peak to peak: max - min over ``axis``."""
    return max(a, axis, keepdims) - min(a, axis, keepdims)


def argmax(a, axis=None, keepdims=False, *, out=None):
    """Index of the first maximum (of the flattened array when ``axis`` is None)."""
    _no_out(out, "argmax")
    return _arg(R.argmax_p, a, axis, keepdims, "argmax")


def argmin(a, axis=None, keepdims=False, *, out=None):
    """Index of the first minimum (of the flattened array when ``axis`` is None)."""
    _no_out(out, "argmin")
    return _arg(R.argmin_p, a, axis, keepdims, "argmin")


def _arg(prim, a, axis, keepdims, op):
    a = _arr(a)
    if a.size == 0:
        raise ValueError(f"{op}: attempt to get {op} of an empty sequence (shape "
                         f"{tuple(a.shape)})")
    if axis is None:
        out = prim.bind(_reshape(a, (-1,)), axis=0, keepdims=False)
        return _reshape(out, (1,) * a.ndim) if keepdims else out
    (ax,) = normalize_axes(axis, a.ndim, op)
    return prim.bind(a, axis=ax, keepdims=bool(keepdims))


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """log(sum(b * exp(a))) over ``axis`` without overflow (SciPy's signature).

    The shift by the maximum is a constant (``stop_gradient``), so the
    derivative is exactly the softmax.

    Examples:
        >>> fnp.logsumexp(fnp.asarray([1000., 1000.]))
        np.float64(1000.6931471805599)
    """
    a = _arr(a)
    m = stop_gradient(max(a, axis, keepdims=True))
    m = where(M.isfinite(m), m, 0.0)
    e = M.exp(a - m)
    if b is not None:
        e = e * b
    s = sum(e, axis, keepdims=True)
    if return_sign:
        sgn = M.sign(s)
        out = M.log(M.absolute(s)) + m
    else:
        out = M.log(s) + m
    if not keepdims:
        axes = normalize_axes(axis, a.ndim, "logsumexp")
        shape = tuple(d for i, d in enumerate(out.shape) if i not in axes)
        out = _reshape(out, shape)
        if return_sign:
            sgn = _reshape(sgn, shape)
    return (out, sgn) if return_sign else out


def all(a, axis=None, keepdims=False, *, out=None, where=None):  # noqa: A001
    """True where every element along ``axis`` is true (no derivative)."""
    _no_out(out, "all")
    a = stop_gradient(_arr(a))
    falses = convert(a == 0, np.int64)
    falses = R.reduce(R.reduce_sum_p, _masked(falses, where, 0), axis, keepdims, "all")
    return falses == 0


def any(a, axis=None, keepdims=False, *, out=None, where=None):  # noqa: A001
    """True where some element along ``axis`` is true (no derivative)."""
    _no_out(out, "any")
    a = stop_gradient(_arr(a))
    trues = _masked(convert(a != 0, np.int64), where, 0)
    return R.reduce(R.reduce_sum_p, trues, axis, keepdims, "any") > 0


def count_nonzero(a, axis=None, *, keepdims=False):
    """Number of non-zero elements along ``axis``."""
    a = _arr(a)
    return R.reduce(R.reduce_sum_p, convert(a != 0, np.int64), axis, keepdims,
                    "count_nonzero")


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """Weighted mean over ``axis``; differentiable in ``a`` and in ``weights``.

    Args:
      weights: the shape of ``a``, or 1-D along a single ``axis``.
      returned: also return the sum of the weights.

    Raises:
      ValueError: weights of another shape (the message shows both shapes).
    """
    a = _arr(a)
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        scl = np.asarray(_count(a, axis, "average"), dtype=avg.dtype)
        if returned and tuple(avg.shape) != scl.shape:
            scl = np.broadcast_to(scl, tuple(avg.shape))
        return (avg, scl) if returned else avg
    w = _arr(weights)
    if tuple(w.shape) != tuple(a.shape):
        if axis is None or w.ndim != 1 or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"average: weights of shape {tuple(w.shape)} differ from a's "
                             f"shape {tuple(a.shape)}; 1-D weights need a single int axis")
        (ax,) = normalize_axes(axis, a.ndim, "average")
        if w.shape[0] != a.shape[ax]:
            raise ValueError(f"average: 1-D weights of length {w.shape[0]} do not match "
                             f"axis {ax} of a (shape {tuple(a.shape)})")
        w = _reshape(w, tuple(a.shape[ax] if i == ax else 1 for i in range(a.ndim)))
    scl = sum(_broadcast_to(w, tuple(a.shape)), axis, keepdims=keepdims)
    avg = sum(a * w, axis, keepdims=keepdims) / scl
    return (avg, scl) if returned else avg


# --------------------------------------------------------------------------- #
# Running reductions
# --------------------------------------------------------------------------- #
def _scan(prim, a, axis, dtype, op):
    a = _arr(a)
    if dtype is not None:
        a = convert(a, dtype)
    if axis is None:
        a = _reshape(a, (-1,))
        axis = 0
    if a.ndim == 0:
        a = _reshape(a, (1,))
    (ax,) = normalize_axes(axis, a.ndim, op)
    return prim.bind(a, axis=ax, reverse=False)


def cumsum(a, axis=None, dtype=None, out=None):
    """Running sum along ``axis`` (of the flattened array when ``axis`` is None).

    Examples:
        >>> fnp.cumsum(fnp.asarray([1., 2., 3.]))
        array([1., 3., 6.])
    """
    _no_out(out, "cumsum")
    return _scan(R.cumsum_p, a, axis, dtype, "cumsum")


def cumprod(a, axis=None, dtype=None, out=None):
    """Running product along ``axis``; its gradient is exact with zeros in ``a``.

    Examples:
        >>> fnp.cumprod(fnp.asarray([1., 2., 3.]))
        array([1., 2., 6.])
    """
    _no_out(out, "cumprod")
    return _scan(R.cumprod_p, a, axis, dtype, "cumprod")


def _cumulative(prim, identity, x, axis, dtype, include_initial, op):
    x = _arr(x)
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"{op}: axis must be given for arrays with more than one "
                             f"dimension (got shape {tuple(x.shape)})")
        axis = 0
    out = _scan(prim, x, axis, dtype, op)
    if include_initial:
        from ..prims.shape_ops import pad_constant
        (ax,) = normalize_axes(axis, out.ndim, op)
        out = pad_constant(out, [(1, 0) if i == ax else (0, 0) for i in range(out.ndim)],
                           identity)
    return out


def cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """Running sum (the array-API form of ``cumsum``; ``include_initial`` prepends 0)."""
    _no_out(out, "cumulative_sum")
    return _cumulative(R.cumsum_p, 0, x, axis, dtype, include_initial, "cumulative_sum")


def cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """Running product (array-API form of ``cumprod``; ``include_initial`` prepends 1)."""
    _no_out(out, "cumulative_prod")
    return _cumulative(R.cumprod_p, 1, x, axis, dtype, include_initial, "cumulative_prod")


# --------------------------------------------------------------------------- #
# NaN-ignoring variants: NaNs are replaced by the operation's identity, so
# they get a zero derivative.
# --------------------------------------------------------------------------- #
def _fill_nan(a, value):
    a = _arr(a)
    return where(M.isnan(a), value, a) if a.dtype.kind in "fc" else a


def nansum(a, axis=None, dtype=None, keepdims=False):
    """Sum treating NaN as zero."""
    return sum(_fill_nan(a, 0.0), axis, dtype, keepdims)


def nanprod(a, axis=None, dtype=None, keepdims=False):
    """Product treating NaN as one."""
    return prod(_fill_nan(a, 1.0), axis, dtype, keepdims)


def _not_nan_count(a, axis, keepdims):
    return sum(convert(M.logical_not(M.isnan(a)), a.dtype), axis, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, keepdims=False):
    """Mean ignoring NaNs (NaN where a slice holds only NaNs)."""
    a = _as_float(_arr(a), dtype)
    return nansum(a, axis, keepdims=keepdims) / _not_nan_count(a, axis, keepdims)


def nanvar(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """Variance ignoring NaNs."""
    a = _as_float(_arr(a), dtype)
    d = _fill_nan(a - nanmean(a, axis, keepdims=True), 0.0)
    return sum(d * d, axis, keepdims=keepdims) / (_not_nan_count(a, axis, keepdims) - ddof)


def nanstd(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """Standard deviation ignoring NaNs."""
    return M.sqrt(nanvar(a, axis, dtype, ddof, keepdims))


def _nan_extreme(fn, fill, a, axis, keepdims):
    a = _arr(a)
    if a.dtype.kind not in "fc":
        return fn(a, axis, keepdims)
    nan = M.isnan(a)
    out = fn(where(nan, fill, a), axis, keepdims)
    all_nan = all(nan, axis, keepdims)
    return where(all_nan, np.nan, out)


def nanmax(a, axis=None, keepdims=False):
    """Maximum ignoring NaNs (NaN for an all-NaN slice, like NumPy, without the warning)."""
    return _nan_extreme(max, -np.inf, a, axis, keepdims)


def nanmin(a, axis=None, keepdims=False):
    """Minimum ignoring NaNs (NaN for an all-NaN slice)."""
    return _nan_extreme(min, np.inf, a, axis, keepdims)


def nanargmax(a, axis=None, keepdims=False):
    """Index of the maximum ignoring NaNs (an all-NaN slice gives 0, not an error)."""
    return argmax(_fill_nan(a, -np.inf), axis, keepdims)


def nanargmin(a, axis=None, keepdims=False):
    """Index of the minimum ignoring NaNs (an all-NaN slice gives 0, not an error)."""
    return argmin(_fill_nan(a, np.inf), axis, keepdims)


def nancumsum(a, axis=None, dtype=None):
    """Running sum treating NaN as zero."""
    return cumsum(_fill_nan(a, 0.0), axis, dtype)


def nancumprod(a, axis=None, dtype=None):
    """Running product treating NaN as one."""
    return cumprod(_fill_nan(a, 1.0), axis, dtype)
