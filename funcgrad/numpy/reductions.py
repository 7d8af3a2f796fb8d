"""Reductions of ``funcgrad.numpy`` with NumPy's ``axis``/``keepdims`` semantics."""
from __future__ import annotations

import numpy as np

from ..prims import reductions as R
from ..prims.creation import asarray
from ..prims.elementwise import convert, stop_gradient, where
from ..prims.shape_ops import normalize_axes
from . import math as M


def _arr(a):
    return a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a)


def sum(a, axis=None, dtype=None, keepdims=False):  # noqa: A001 - NumPy's name
    """Sum of elements over ``axis``."""
    a = _arr(a)
    if dtype is not None:
        a = convert(a, dtype)
    out = R.reduce(R.reduce_sum_p, a, axis, keepdims, "sum")
    return out


def _count(a, axis):
    axes = normalize_axes(axis, a.ndim, "mean")
    return int(np.prod([a.shape[i] for i in axes], dtype=np.int64))


def mean(a, axis=None, dtype=None, keepdims=False):
    """Arithmetic mean over ``axis`` (integers average in float64, like NumPy)."""
    a = _arr(a)
    if dtype is not None:
        a = convert(a, dtype)
    elif a.dtype.kind not in "fc":
        a = convert(a, np.float64)
    n = _count(a, axis)
    return sum(a, axis, keepdims=keepdims) / np.asarray(n, dtype=a.dtype).item() if n \
        else sum(a, axis, keepdims=keepdims) * np.nan


def var(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom."""
    a = _arr(a)
    if a.dtype.kind not in "fc":
        a = convert(a, np.float64 if dtype is None else dtype)
    m = mean(a, axis, keepdims=True)
    d = a - m
    n = _count(a, axis) - ddof
    return sum(d * d, axis, keepdims=keepdims) / n


def std(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """Standard deviation; its derivative is infinite where the spread is 0."""
    return M.sqrt(var(a, axis, dtype, ddof, keepdims))


def max(a, axis=None, keepdims=False, initial=None):  # noqa: A001
    """Maximum over ``axis``; the derivative is shared evenly among ties."""
    a = _arr(a)
    if a.size == 0 and initial is None:
        raise ValueError("max: zero-size array to reduction operation maximum which has "
                         "no identity; pass initial=")
    out = R.reduce(R.reduce_max_p, a, axis, keepdims, "max")
    return out if initial is None else M.maximum(out, initial)


def min(a, axis=None, keepdims=False, initial=None):  # noqa: A001
    """Minimum over ``axis``; the derivative is shared evenly among ties."""
    a = _arr(a)
    if a.size == 0 and initial is None:
        raise ValueError("min: zero-size array to reduction operation minimum which has "
                         "no identity; pass initial=")
    out = R.reduce(R.reduce_min_p, a, axis, keepdims, "min")
    return out if initial is None else M.minimum(out, initial)


amax = max
amin = min


def ptp(a, axis=None, keepdims=False):
    """max - min over ``axis``."""
    return max(a, axis, keepdims) - min(a, axis, keepdims)


def argmax(a, axis=None, keepdims=False):
    """Index of the maximum (flattened when ``axis`` is None)."""
    return _arg(R.argmax_p, a, axis, keepdims, "argmax")


def argmin(a, axis=None, keepdims=False):
    """Index of the minimum (flattened when ``axis`` is None)."""
    return _arg(R.argmin_p, a, axis, keepdims, "argmin")


def _arg(prim, a, axis, keepdims, op):
    a = _arr(a)
    if axis is None:
        from .shapes import reshape
        out = prim.bind(reshape(a, (-1,)), axis=0, keepdims=False)
        if keepdims:
            out = reshape(out, (1,) * a.ndim)
        return out
    (ax,) = normalize_axes(axis, a.ndim, op)
    return prim.bind(a, axis=ax, keepdims=bool(keepdims))


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """log(sum(b * exp(a))) over ``axis`` without overflow.

    The shift by the maximum is a constant (``stop_gradient``), so the
    derivative is exactly the softmax.
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
        from .shapes import squeeze
        axes = normalize_axes(axis, a.ndim, "logsumexp")
        out = squeeze(out, axes)
        if return_sign:
            sgn = squeeze(sgn, axes)
    return (out, sgn) if return_sign else out


def all(a, axis=None, keepdims=False):  # noqa: A001
    """True where every element along ``axis`` is true (no derivative)."""
    a = stop_gradient(_arr(a))
    falses = R.reduce(R.reduce_sum_p, convert(a == 0, np.int64), axis, keepdims, "all")
    return falses == 0


def any(a, axis=None, keepdims=False):  # noqa: A001
    """True where some element along ``axis`` is true (no derivative)."""
    a = stop_gradient(_arr(a))
    return R.reduce(R.reduce_sum_p, convert(a != 0, np.int64), axis, keepdims, "any") > 0


def count_nonzero(a, axis=None, keepdims=False):
    """Number of non-zero elements along ``axis``."""
    a = _arr(a)
    return R.reduce(R.reduce_sum_p, convert(a != 0, np.int64), axis, keepdims,
                    "count_nonzero")


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """Weighted mean over ``axis``."""
    a = _arr(a)
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        scl = np.asarray(_count(a, axis), dtype=avg.dtype)
    else:
        w = _arr(weights)
        if w.shape != a.shape:
            if axis is None or w.ndim != 1:
                raise ValueError("average: weights must have the shape of a, or be 1-D "
                                 "along a single axis")
            (ax,) = normalize_axes(axis, a.ndim, "average")
            from .shapes import reshape
            w = reshape(w, tuple(a.shape[ax] if i == ax else 1 for i in range(a.ndim)))
        from .shapes import broadcast_to
        scl = sum(broadcast_to(w, a.shape), axis, keepdims=keepdims)
        avg = sum(a * w, axis, keepdims=keepdims) / scl
    return (avg, scl) if returned else avg


def nansum(a, axis=None, keepdims=False):
    """Sum treating NaN as zero."""
    a = _arr(a)
    return sum(where(M.isnan(a), 0.0, a), axis, keepdims=keepdims)


def nanmean(a, axis=None, keepdims=False):
    """Mean ignoring NaNs."""
    a = _arr(a)
    ok = M.logical_not(M.isnan(a))
    return nansum(a, axis, keepdims) / sum(convert(ok, a.dtype), axis, keepdims=keepdims)
