"""Sequences in ``funcgrad.numpy``: differences, integrals, convolution, interpolation,
cross products and covariances -- composites of slices, gathers and reductions
(re-exported by :mod:`funcgrad.numpy.reductions`).
"""
from __future__ import annotations

import numpy as np

from ..prims import sorting as P
from ..prims.creation import asarray
from ..prims.elementwise import convert, where
from ..prims.indexing import getitem
from ..prims.shape_ops import (broadcast_to, concatenate, moveaxis, normalize_axes,
                               pad_constant, reshape, stack)

__all__ = ["diff", "ediff1d", "gradient", "trapezoid", "cross", "convolve", "correlate",
           "interp", "cov", "corrcoef"]


def _arr(a):
    return a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a)


def _axis1(axis, ndim, op):
    (ax,) = normalize_axes(axis, ndim, op)
    return ax


def _slab(a, axis, start, stop):
    return getitem(a, (slice(None),) * axis + (slice(start, stop),))


def _float(a):
    return a if a.dtype.kind in "fc" else convert(a, np.float64)


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """The ``n``-th discrete difference along ``axis`` (``out[i] = a[i+1] - a[i]``).

    Examples:
        >>> fnp.diff(fnp.asarray([1., 4., 9.]))
        array([3., 5.])
    """
    a = _arr(a)
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n}")
    if n == 0:
        return a
    if a.ndim == 0:
        raise ValueError("diff: requires input that is at least one dimensional")
    axis = _axis1(axis, a.ndim, "diff")
    parts = []
    for extra in (prepend, a, append):
        if extra is None:
            continue
        e = _arr(extra)
        if e is not a and e.ndim == 0:
            shape = list(a.shape)
            shape[axis] = 1
            e = broadcast_to(e, tuple(shape))
        parts.append(e)
    if len(parts) > 1:
        a = concatenate(parts, axis)
    for _ in range(n):
        m = a.shape[axis]
        if a.dtype.kind == "b":
            a = _slab(a, axis, 1, m) != _slab(a, axis, 0, m - 1)
        else:
            a = _slab(a, axis, 1, m) - _slab(a, axis, 0, m - 1)
    return a


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences of the flattened array, with values added at either end."""
    d = diff(reshape(_arr(ary), (-1,)))
    parts = [] if to_begin is None else [reshape(_arr(to_begin), (-1,))]
    parts.append(d)
    if to_end is not None:
        parts.append(reshape(_arr(to_end), (-1,)))
    parts = [p if p.dtype == d.dtype else convert(p, d.dtype) for p in parts]
    return concatenate(parts, 0) if len(parts) > 1 else d


def gradient(f, *varargs, axis=None, edge_order=1):
    """Second-order central differences inside, one-sided differences at the edges.

    Args:
      varargs: spacing: none (1), one scalar for all axes, or per axis a scalar
        or a 1-D array of coordinates (non-uniform spacing).
      axis: None (all axes), an int or a tuple of them.
      edge_order: 1 or 2, the accuracy of the edge differences.

    Returns:
      One array per axis (a list), or a single array for a single axis.

    Examples:
        >>> fnp.gradient(fnp.asarray([1., 4., 9., 16.]))
        array([3., 4., 6., 7.])
    """
    f = _float(_arr(f))
    axes = normalize_axes(axis, f.ndim, "gradient")
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError(f"gradient: invalid number of spacing arguments ({len(varargs)}) for "
                        f"{len(axes)} axes")
    out = [_gradient_axis(f, ax, h, edge_order) for ax, h in zip(axes, spacing)]
    return out[0] if len(out) == 1 else out


def _gradient_axis(f, axis, h, edge_order):
    n = f.shape[axis]
    if n < edge_order + 1:
        raise ValueError(f"gradient: shape of axis {axis} is {n}; an axis needs at least "
                         f"edge_order + 1 = {edge_order + 1} elements")
    shape = [1] * f.ndim

    def s(start, stop):
        return _slab(f, axis, start, stop)

    def along(v):  # a 1-D coefficient array broadcast along ``axis``
        shape[axis] = v.shape[0]
        return reshape(v, tuple(shape))

    if np.ndim(h) == 0:
        inner = (s(2, n) - s(0, n - 2)) / (2.0 * h) if n > 2 else s(0, 0)
        if edge_order == 1:
            first = (s(1, 2) - s(0, 1)) / h
            last = (s(n - 1, n) - s(n - 2, n - 1)) / h
        else:
            first = (-1.5 * s(0, 1) + 2.0 * s(1, 2) - 0.5 * s(2, 3)) / h
            last = (0.5 * s(n - 3, n - 2) - 2.0 * s(n - 2, n - 1) + 1.5 * s(n - 1, n)) / h
        return concatenate([first, inner, last], axis)
    x = _float(_arr(h))
    if x.ndim != 1 or x.shape[0] != n:
        raise ValueError(f"gradient: coordinates for axis {axis} must be 1-D of length {n}, "
                         f"got shape {tuple(x.shape)}")
    dx = diff(x)
    parts = []
    if edge_order == 1:
        parts.append((s(1, 2) - s(0, 1)) / getitem(dx, slice(0, 1)))
    else:
        d1, d2 = getitem(dx, 0), getitem(dx, 1)
        parts.append(-(2.0 * d1 + d2) / (d1 * (d1 + d2)) * s(0, 1)
                     + (d1 + d2) / (d1 * d2) * s(1, 2) - d1 / (d2 * (d1 + d2)) * s(2, 3))
    if n > 2:
        d1, d2 = getitem(dx, slice(0, n - 2)), getitem(dx, slice(1, n - 1))
        a = along(-d2 / (d1 * (d1 + d2)))
        b = along((d2 - d1) / (d1 * d2))
        c = along(d1 / (d2 * (d1 + d2)))
        parts.append(a * s(0, n - 2) + b * s(1, n - 1) + c * s(2, n))
    if edge_order == 1:
        parts.append((s(n - 1, n) - s(n - 2, n - 1)) / getitem(dx, slice(n - 2, n - 1)))
    else:
        d1, d2 = getitem(dx, n - 3), getitem(dx, n - 2)
        parts.append(d2 / (d1 * (d1 + d2)) * s(n - 3, n - 2)
                     - (d2 + d1) / (d1 * d2) * s(n - 2, n - 1)
                     + (2.0 * d2 + d1) / (d2 * (d1 + d2)) * s(n - 1, n))
    return concatenate(parts, axis)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integral of ``y`` along ``axis`` by the trapezoidal rule (``x``: sample points)."""
    from .reductions import sum as _sum
    y = _float(_arr(y))
    axis = _axis1(axis, y.ndim, "trapezoid")
    n = y.shape[axis]
    if x is None:
        d = dx
    else:
        x = _arr(x)
        d = diff(x, axis=-1 if x.ndim == 1 else axis)
        if x.ndim == 1:
            shape = [1] * y.ndim
            shape[axis] = d.shape[0]
            d = reshape(d, tuple(shape))
    return _sum(d * (_slab(y, axis, 1, n) + _slab(y, axis, 0, n - 1)) / 2.0, axis=axis)


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors (or the z component for 2-vectors) along the given axes."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(_arr(a), _axis1(axisa, _arr(a).ndim, "cross"), -1)
    b = moveaxis(_arr(b), _axis1(axisb, _arr(b).ndim, "cross"), -1)
    na, nb = a.shape[-1], b.shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"cross: incompatible dimensions for cross product (dimension must "
                         f"be 2 or 3), got {na} and {nb}")

    def comp(v, i):
        return getitem(v, (Ellipsis, i)) if i < v.shape[-1] else None

    a0, a1, a2 = comp(a, 0), comp(a, 1), comp(a, 2)
    b0, b1, b2 = comp(b, 0), comp(b, 1), comp(b, 2)
    z = a0 * b1 - a1 * b0
    if na == 2 and nb == 2:
        return z
    x = (a1 * b2 if b2 is not None else 0.0) - (a2 * b1 if a2 is not None else 0.0)
    y = (a2 * b0 if a2 is not None else 0.0) - (a0 * b2 if b2 is not None else 0.0)
    shape = np.broadcast_shapes(tuple(np.shape(x)), tuple(np.shape(y)), tuple(z.shape))
    out = stack([broadcast_to(_arr(c), shape) for c in (x, y, z)], -1)
    return moveaxis(out, -1, _axis1(axisc, out.ndim, "cross"))


def convolve(a, v, mode="full"):
    """Discrete linear convolution of two 1-D sequences (``mode``: full, same, valid).

    One gather of the sliding windows of the zero-padded longer sequence and a
    weighted sum with the shorter: O(len(a) * len(v)), differentiable in both.

    Examples:
        >>> fnp.convolve(fnp.asarray([1., 2., 3.]), fnp.asarray([0., 1., 0.5]))
        array([0. , 1. , 2.5, 4. , 1.5])
    """
    return _convolve(_arr(a), _arr(v), mode, "convolve")


def _convolve(a, v, mode, op):
    from .reductions import sum as _sum
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(f"{op}: object too deep for desired array (inputs must be 1-D, "
                         f"got shapes {tuple(a.shape)} and {tuple(v.shape)})")
    if a.shape[0] == 0:
        raise ValueError(f"{op}: a cannot be empty")
    if v.shape[0] == 0:
        raise ValueError(f"{op}: v cannot be empty")
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"{op}: mode must be 'full', 'same' or 'valid', got {mode!r}")
    if v.shape[0] > a.shape[0]:
        a, v = v, a  # convolution commutes: slide the shorter one
    n, m = a.shape[0], v.shape[0]
    padded = pad_constant(a, [(m - 1, m - 1)], 0)
    # out[k] = sum_j v[j] * a[k - j] = sum_j v[j] * padded[k + m - 1 - j]
    k = np.arange(n + m - 1)[:, None]
    j = np.arange(m)[None, :]
    full = _sum(getitem(padded, (k + m - 1 - j,)) * v, axis=1)
    if mode == "full":
        return full
    if mode == "same":
        start = (m - 1) // 2
        return getitem(full, slice(start, start + n))
    return getitem(full, slice(m - 1, n))


def correlate(a, v, mode="valid"):
    """Cross-correlation of two 1-D sequences: ``c[k] = sum_n a[n + k] * v[n]``."""
    a, v = _arr(a), _arr(v)
    if v.ndim != 1 or a.ndim != 1:
        raise ValueError(f"correlate: inputs must be 1-D, got shapes {tuple(a.shape)} and "
                         f"{tuple(v.shape)}")
    if v.shape[0] > a.shape[0]:
        # NumPy swaps the inputs and reverses the result.
        out = _convolve(v, getitem(a, slice(None, None, -1)), mode, "correlate")
        return getitem(out, slice(None, None, -1))
    return _convolve(a, getitem(v, slice(None, None, -1)), mode, "correlate")


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of ``(xp, fp)`` at ``x``; differentiable in x, xp, fp.

    Examples:
        >>> fnp.interp(fnp.asarray([0.5, 2.]), fnp.asarray([0., 1.]), fnp.asarray([0., 10.]))
        array([ 5., 10.])
    """
    x, xp, fp = _float(_arr(x)), _float(_arr(xp)), _float(_arr(fp))
    if xp.ndim != 1 or fp.ndim != 1:
        raise ValueError(f"interp: xp and fp must be 1-D, got shapes {tuple(xp.shape)} and "
                         f"{tuple(fp.shape)}")
    if xp.shape[0] != fp.shape[0]:
        raise ValueError(f"interp: fp and xp are not of the same length ({fp.shape[0]} and "
                         f"{xp.shape[0]})")
    if xp.shape[0] == 0:
        raise ValueError("interp: array of sample points is empty")
    if period is not None:
        if period == 0:
            raise ValueError("interp: period must be a non-zero value")
        period = abs(period)
        left = right = None
        x = x % period
        xp = xp % period
        order = P.argsort(xp, 0)
        xp, fp = getitem(xp, order), getitem(fp, order)
        xp = concatenate([getitem(xp, slice(-1, None)) - period, xp,
                          getitem(xp, slice(0, 1)) + period], 0)
        fp = concatenate([getitem(fp, slice(-1, None)), fp, getitem(fp, slice(0, 1))], 0)
    n = xp.shape[0]
    if n == 1:
        out = broadcast_to(getitem(fp, 0), tuple(x.shape)) + 0.0 * x
    else:
        i = P.searchsorted(xp, x, "right") - 1
        from .math import clip
        i = clip(i, 0, n - 2)
        x0, x1 = getitem(xp, i), getitem(xp, i + 1)
        f0, f1 = getitem(fp, i), getitem(fp, i + 1)
        t = (x - x0) / (x1 - x0)
        out = f0 + t * (f1 - f0)
    lo = getitem(fp, 0) if left is None else left
    hi = getitem(fp, n - 1) if right is None else right
    out = where(x < getitem(xp, 0), lo, out)
    return where(x > getitem(xp, n - 1), hi, out)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
        *, dtype=None):
    """Covariance matrix of the variables in the rows (``rowvar``) of ``m`` (and ``y``)."""
    from .products import matmul
    from .reductions import sum as _sum
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov: fweights/aweights are not supported")
    m = _float(_arr(m))
    if m.ndim > 2:
        raise ValueError(f"cov: m has more than 2 dimensions (shape {tuple(m.shape)})")
    x = reshape(m, (1, -1)) if m.ndim < 2 else m
    if not rowvar and x.shape[0] != 1:
        x = moveaxis(x, 0, 1)
    if y is not None:
        yy = _float(_arr(y))
        yy = reshape(yy, (1, -1)) if yy.ndim < 2 else yy
        if not rowvar and yy.shape[0] != 1:
            yy = moveaxis(yy, 0, 1)
        x = concatenate([x, yy], 0)
    if dtype is not None:
        x = convert(x, dtype)
    if ddof is None:
        ddof = 0 if bias else 1
    n = x.shape[1]
    xc = x - _sum(x, axis=1, keepdims=True) / n
    c = matmul(xc, moveaxis(xc, 0, 1)) / (n - ddof)
    return reshape(c, ()) if c.shape == (1, 1) else c


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """Pearson correlation coefficients (``cov`` normalised by the standard deviations)."""
    from .math import clip, sqrt
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    d = sqrt(getitem(c, (np.arange(c.shape[0]), np.arange(c.shape[0]))))
    c = c / reshape(d, (-1, 1)) / reshape(d, (1, -1))
    return clip(c, -1.0, 1.0)
