"""Sorting, searching, sets and order statistics of ``funcgrad.numpy``.

* ``sort`` is differentiable (the derivative is the sorting permutation);
  ``argsort``, ``searchsorted``, ``digitize``, ``lexsort`` are integer-valued.
* ``median``/``percentile``/``quantile`` interpolate between sorted values, so
  their derivative flows to the one or two order statistics they read.
* Functions whose result *size* depends on the values (``unique``, the set
  functions, ``histogram``) need concrete values: they work eagerly and under
  ``grad``, and raise a clear error under ``vmap``/``jit`` (``unique`` takes a
  ``size=`` to stay fixed-size there, as in JAX).  Their outputs that are
  values of the input are gathers from it, so they stay differentiable.
"""
from __future__ import annotations

import numpy as np

from ..core import ConcretizationError, Tracer, concrete
from ..prims import sorting as P
from ..device import to_numpy
from ..prims.creation import _xp_of, asarray
from ..prims.elementwise import convert, where
from ..prims.indexing import getitem, scatter, canonical_index, take_along_axis
from ..prims.shape_ops import concatenate, normalize_axes, reshape, transpose

__all__ = ["sort", "argsort", "partition", "argpartition", "lexsort", "searchsorted",
           "digitize", "unique", "unique_values", "unique_counts", "unique_inverse",
           "unique_all", "isin", "intersect1d", "union1d", "setdiff1d", "setxor1d",
           "median", "percentile", "quantile", "nanmedian", "nanpercentile", "nanquantile",
           "histogram", "histogram_bin_edges"]


def _arr(a):
    return a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a)


def _axis(a, axis, op):
    """(array, non-negative axis); ``axis=None`` sorts the flattened array."""
    if axis is None:
        return reshape(a, (-1,)), 0
    if a.ndim == 0:
        raise np.exceptions.AxisError(f"{op}: axis {axis} is out of bounds for an array of "
                                      "dimension 0")
    (ax,) = normalize_axes(axis, a.ndim, op)
    return a, ax


def _values(x, op, hint="call it outside vmap/jit"):
    """The concrete values of ``x`` (a backend array), or a clear error."""
    if not isinstance(x, Tracer):
        return x
    try:
        return concrete(x)
    except ConcretizationError:
        raise ConcretizationError(
            f"{op}: the size of the result depends on the values of its input (shape "
            f"{tuple(x.shape)}), which are not known under {x._trace.kind}; {hint}.") from None


# --------------------------------------------------------------------------- #
# Sorting
# --------------------------------------------------------------------------- #
def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """Sorted copy of ``a`` along ``axis`` (``None``: flattened); differentiable.

    The derivative moves each cotangent back to where its value came from; at
    ties the stable order decides.  ``kind``/``stable`` are accepted (the sort
    is always stable); ``order`` (structured arrays) is not supported.

    Examples:
        >>> fnp.sort(fnp.asarray([3., 1., 2.]))
        array([1., 2., 3.])
    """
    if order is not None:
        raise NotImplementedError("sort: order= (structured arrays) is not supported")
    a, ax = _axis(_arr(a), axis, "sort")
    return P.sort(a, ax)


def argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    """Indices that sort ``a`` along ``axis`` (stable; no derivative).

    Examples:
        >>> fnp.argsort(fnp.asarray([3., 1., 2.]))
        array([1, 2, 0])
    """
    if order is not None:
        raise NotImplementedError("argsort: order= (structured arrays) is not supported")
    a, ax = _axis(_arr(a), axis, "argsort")
    return P.argsort(a, ax)


def _check_kth(a, kth, axis, op):
    n = a.shape[axis]
    for k in np.atleast_1d(kth):
        if not -n <= int(k) < n:
            raise ValueError(f"{op}: kth(={int(k)}) out of bounds for axis {axis} of size {n}")


def partition(a, kth, axis=-1, kind="introselect", order=None):
    """A partition of ``a`` around ``kth``: here the fully sorted array, a valid one.

    Every element before position ``kth`` is <= ``a[kth]`` and every one after is
    >=; NumPy leaves their order unspecified, and a sorted array satisfies it.
    """
    a, ax = _axis(_arr(a), axis, "partition")
    _check_kth(a, kth, ax, "partition")
    return P.sort(a, ax)


def argpartition(a, kth, axis=-1, kind="introselect", order=None):
    """Indices that partition ``a`` around ``kth`` (here: the sorting permutation)."""
    a, ax = _axis(_arr(a), axis, "argpartition")
    _check_kth(a, kth, ax, "argpartition")
    return P.argsort(a, ax)


def lexsort(keys, axis=-1):
    """Indirect stable sort by several keys; the *last* key is the primary one.

    Examples:
        >>> fnp.lexsort((fnp.asarray([2, 1, 3]), fnp.asarray([0, 1, 0])))
        array([0, 2, 1])
    """
    keys = [_arr(k) for k in keys] if not hasattr(keys, "ndim") else \
        [getitem(keys, i) for i in range(keys.shape[0])]
    if not keys:
        raise TypeError("lexsort: need at least one key")
    k0, ax = _axis(keys[0], axis, "lexsort")
    idx = P.argsort(k0, ax)
    for k in keys[1:]:
        k, _ = _axis(k, axis, "lexsort")
        idx = take_along_axis(idx, P.argsort(take_along_axis(k, idx, ax), ax), ax)
    return idx


# --------------------------------------------------------------------------- #
# Searching
# --------------------------------------------------------------------------- #
def searchsorted(a, v, side="left", sorter=None):
    """Indices where ``v`` would be inserted into the sorted 1-D ``a`` to keep it sorted.

    Examples:
        >>> fnp.searchsorted(fnp.asarray([1., 2., 3.]), fnp.asarray([2.5, 0.]))
        array([2, 0])
    """
    a = _arr(a)
    if a.ndim != 1:
        raise ValueError(f"searchsorted: a must be 1-D, got shape {tuple(a.shape)}")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if sorter is not None:
        a = getitem(a, _arr(sorter))
    return P.searchsorted(a, v if isinstance(v, (int, float)) else _arr(v), side)


def digitize(x, bins, right=False):
    """Index of the bin of each value of ``x`` (``bins`` monotonic; no derivative).

    Raises:
      ValueError: ``bins`` that are neither increasing nor decreasing (checked when
        their values are known).
    """
    bins = _arr(bins)
    if bins.ndim != 1:
        raise ValueError(f"digitize: bins must be 1-D, got shape {tuple(bins.shape)}")
    decreasing = False
    try:
        b = to_numpy(concrete(bins))
    except ConcretizationError:
        b = None  # traced bins: taken to be increasing
    if b is not None and b.size > 1:
        d = np.diff(b)
        if np.all(d >= 0):
            decreasing = False
        elif np.all(d <= 0):
            decreasing = True
        else:
            raise ValueError("digitize: bins must be monotonically increasing or decreasing")
    side = "left" if right else "right"
    if decreasing:
        n = bins.shape[0]
        flipped = getitem(bins, slice(None, None, -1))
        return n - P.searchsorted(flipped, _arr(x), "right" if right else "left")
    return P.searchsorted(bins, _arr(x), side)


# --------------------------------------------------------------------------- #
# Unique values and sets
# --------------------------------------------------------------------------- #
def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None,
           *, equal_nan=True, sorted=True, size=None, fill_value=None):  # noqa: A002
    """Sorted unique elements of ``ar``; the values are differentiable.

    The returned values are gathered from ``ar`` (each from its first
    occurrence), so a derivative flows back to that occurrence.

    Args:
      size: funcgrad extra (as in JAX): return exactly ``size`` values, padded
        with ``fill_value`` (default: the smallest value), so that ``unique``
        works under ``vmap``/``jit``.  Only without the ``return_*`` flags.

    Raises:
      ConcretizationError: under vmap/jit without ``size=``.

    Examples:
        >>> fnp.unique(fnp.asarray([3, 1, 3, 2]))
        array([1, 2, 3])
    """
    ar = _arr(ar)
    if size is not None:
        if return_index or return_inverse or return_counts or axis is not None:
            raise NotImplementedError("unique: size= works only for the values of a "
                                      "flattened array (no return_* flags, axis=None)")
        return _unique_sized(ar, int(size), fill_value)
    # The result's size depends on the values: found on a host copy, the values
    # are then gathered from ``ar`` (differentiable) and the indices and counts
    # are moved to ``ar``'s device.
    vals = to_numpy(_values(ar, "unique", "pass size=N for a fixed-size result, or call "
                                          "it outside vmap/jit"))
    res = np.unique(vals, return_index=True, return_inverse=return_inverse,
                    return_counts=return_counts, axis=axis, equal_nan=equal_nan)
    index = res[1]
    xp = _xp_of(ar)
    if axis is None:
        out = [getitem(reshape(ar, (-1,)), index)]
    else:
        (ax,) = normalize_axes(axis, ar.ndim, "unique")
        out = [getitem(ar, (slice(None),) * ax + (index,))]
    if return_index:
        out.append(xp.asarray(index))
    if return_inverse:
        out.append(xp.asarray(res[2]))
    if return_counts:
        out.append(xp.asarray(res[-1]))
    return out[0] if len(out) == 1 else tuple(out)


def _unique_sized(ar, size, fill_value):
    """Fixed-size unique values: first of each run in the sorted array, scattered."""
    s = P.sort(reshape(ar, (-1,)), 0)
    n = s.shape[0]
    if n == 0:
        raise ValueError("unique: size= needs a non-empty array")
    new = concatenate([_xp_of(s).ones((1,), bool), getitem(s, slice(1, None)) !=
                       getitem(s, slice(None, -1))], 0)
    from ..prims.reductions import cumsum
    slot = cumsum(new, 0) - 1
    # Repeated values go past the end: one slot for the padding, dropped after.
    slot = where(new, slot, size)
    slot = where(slot < size, slot, size)
    fill = getitem(s, 0) if fill_value is None else fill_value
    base = _broadcast(convert(_arr(fill), s.dtype), (size + 1,))
    template, arrays = canonical_index((slot,), (size + 1,))
    return getitem(scatter(base, s, arrays, template, "set"), slice(0, size))


def unique_values(x):
    """Unique values of ``x`` (array-API form of ``unique``)."""
    return unique(x)


def unique_counts(x):
    """(values, counts) of the unique elements of ``x``."""
    return unique(x, return_counts=True)


def unique_inverse(x):
    """(values, inverse_indices), inverse shaped like ``x`` (array-API form)."""
    x = _arr(x)
    vals, inv = unique(x, return_inverse=True)
    return vals, inv.reshape(tuple(x.shape))


def unique_all(x):
    """(values, indices, inverse_indices, counts) of the unique elements of ``x``."""
    x = _arr(x)
    vals, idx, inv, cnt = unique(x, return_index=True, return_inverse=True,
                                 return_counts=True)
    return vals, idx, inv.reshape(tuple(x.shape)), cnt


def isin(element, test_elements, assume_unique=False, invert=False, *, kind=None):
    """Boolean mask: which elements of ``element`` are in ``test_elements``.

    Transform-safe (a broadcast comparison) when either input is traced.
    """
    element = _arr(element)
    tests = _arr(test_elements)
    if (not isinstance(element, Tracer) and not isinstance(tests, Tracer)
            and _xp_of(element) is np and _xp_of(tests) is np):  # on the host
        return np.isin(element, tests, invert=invert)
    flat = reshape(tests, (-1,))
    hit = reshape(element, tuple(element.shape) + (1,)) == flat
    from .reductions import any as _any
    found = _any(hit, axis=-1)
    return ~found if invert else found


def _flat_values(a, op):
    a = _arr(a)
    return reshape(a, (-1,)), to_numpy(_values(a, op)).ravel()


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False):
    """Sorted unique values in both arrays (gathered from ``ar1``: differentiable in it)."""
    f1, v1 = _flat_values(ar1, "intersect1d")
    _, v2 = _flat_values(ar2, "intersect1d")
    _, i1, i2 = np.intersect1d(v1, v2, assume_unique=assume_unique, return_indices=True)
    out = getitem(f1, i1)
    if not return_indices:
        return out
    xp = _xp_of(f1)
    return out, xp.asarray(i1), xp.asarray(i2)


def union1d(ar1, ar2):
    """Sorted unique values in either array."""
    return unique(concatenate([reshape(_arr(ar1), (-1,)), reshape(_arr(ar2), (-1,))], 0))


def setdiff1d(ar1, ar2, assume_unique=False):
    """Sorted unique values of ``ar1`` that are not in ``ar2``."""
    f1, v1 = _flat_values(ar1, "setdiff1d")
    _, v2 = _flat_values(ar2, "setdiff1d")
    keep = np.nonzero(~np.isin(v1, v2))[0]
    return unique(getitem(f1, keep))


def setxor1d(ar1, ar2, assume_unique=False):
    """Sorted unique values in exactly one of the arrays."""
    f1, v1 = _flat_values(ar1, "setxor1d")
    f2, v2 = _flat_values(ar2, "setxor1d")
    k1 = np.nonzero(~np.isin(v1, v2))[0]
    k2 = np.nonzero(~np.isin(v2, v1))[0]
    return unique(concatenate([getitem(f1, k1), getitem(f2, k2)], 0))


# --------------------------------------------------------------------------- #
# Order statistics
# --------------------------------------------------------------------------- #
_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, weights=None):
    """The ``q``-th quantiles (q in [0, 1]) along ``axis``, interpolating like NumPy.

    The derivative flows to the (at most two) sorted values each quantile
    reads, weighted by the interpolation; with respect to ``q`` it is the
    slope between them (``method="linear"``).

    Args:
      q: a float or an array of them; its dimensions come first in the result.
      method: ``"linear"`` (default), ``"lower"``, ``"higher"``, ``"nearest"``,
        ``"midpoint"``.

    Examples:
        >>> fnp.quantile(fnp.asarray([1., 2., 3., 4.]), 0.5)
        np.float64(2.5)
    """
    return _quantile(a, q, axis, method, keepdims, out, weights, "quantile", nan=False)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None):
    """The ``q``-th percentiles (q in [0, 100]) along ``axis``; see :func:`quantile`."""
    return _quantile(a, _arr(q) / 100.0, axis, method, keepdims, out, weights, "percentile",
                     nan=False)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median along ``axis`` (the mean of the two middle values for even counts).

    Examples:
        >>> fnp.median(fnp.asarray([[1., 3.], [2., 8.]]), axis=0)
        array([1.5, 5.5])
    """
    return _quantile(a, 0.5, axis, "linear", keepdims, out, None, "median", nan=False)


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None):
    """:func:`quantile` ignoring NaNs (NaN for an all-NaN slice)."""
    return _quantile(a, q, axis, method, keepdims, out, weights, "nanquantile", nan=True)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                  keepdims=False, *, weights=None):
    """:func:`percentile` ignoring NaNs."""
    return _quantile(a, _arr(q) / 100.0, axis, method, keepdims, out, weights,
                     "nanpercentile", nan=True)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """:func:`median` ignoring NaNs."""
    return _quantile(a, 0.5, axis, "linear", keepdims, out, None, "nanmedian", nan=True)


def _quantile(a, q, axis, method, keepdims, out, weights, op, nan):
    from . import math as M
    if out is not None:
        raise TypeError(f"{op}: out= is not supported; use the returned array")
    if weights is not None:
        raise NotImplementedError(f"{op}: weights= is not supported")
    if method not in _METHODS:
        raise ValueError(f"{op}: method {method!r} is not supported; choose one of "
                         f"{_METHODS}")
    a = _arr(a)
    if a.dtype.kind not in "fc":
        a = convert(a, np.float64)
    q = _arr(q)
    if not isinstance(q, Tracer) and q.size and (np.min(q) < 0 or np.max(q) > 1):
        what = "Percentiles must be in the range [0, 100]" if "percentile" in op else \
            "Quantiles must be in the range [0, 1]"
        raise ValueError(f"{op}: {what}")
    nd = a.ndim
    axes = normalize_axes(axis, nd, op)
    keep = [i for i in range(nd) if i not in axes]
    # Reduced axes flattened into one trailing axis of length n.
    x = transpose(a, tuple(keep) + tuple(axes))
    lead = tuple(x.shape[:len(keep)])
    x = reshape(x, lead + (-1,))
    n = x.shape[-1]
    if n == 0:
        raise ValueError(f"{op}: cannot take a quantile of an empty slice (shape "
                         f"{tuple(a.shape)}, axis {axis})")
    s = P.sort(x, x.ndim - 1)  # NaNs sort last
    qb = reshape(q, tuple(q.shape) + (1,) * len(lead) + (1,))
    if nan:
        count = M.logical_not(M.isnan(x))
        from .reductions import sum as _sum
        count = convert(_sum(count, -1, keepdims=True), s.dtype)
        last = M.maximum(count - 1, 0.0)
    else:
        last = float(n - 1)
    pos = qb * last
    if method == "lower":
        pos = M.floor(pos)
    elif method == "higher":
        pos = M.ceil(pos)
    elif method == "nearest":
        pos = M.rint(pos)  # round half to even, like NumPy
    lo_f = M.floor(pos)
    hi_f = M.minimum(lo_f + 1, last)
    frac = pos - lo_f
    shape = tuple(np.broadcast_shapes(tuple(pos.shape), tuple(s.shape[:-1]) + (1,)))
    sb = _broadcast(s, shape[:-1] + (n,))
    lo_v = take_along_axis(sb, _broadcast(convert(lo_f, np.int64), shape), len(shape) - 1)
    hi_v = take_along_axis(sb, _broadcast(convert(hi_f, np.int64), shape), len(shape) - 1)
    if method == "midpoint":
        res = where(frac > 0, (lo_v + hi_v) * 0.5, lo_v)
    else:
        res = lo_v + (hi_v - lo_v) * frac
    if nan:
        res = where(count > 0, res, np.nan)
    res = reshape(res, tuple(res.shape[:-1]))  # drop the reduced axis
    if keepdims:
        res = reshape(res, tuple(q.shape) + tuple(1 if i in axes else a.shape[i]
                                                  for i in range(nd)))
    return res


def _broadcast(x, shape):
    from ..prims.shape_ops import broadcast_to
    return broadcast_to(x, tuple(shape))


# --------------------------------------------------------------------------- #
# Histograms
# --------------------------------------------------------------------------- #
def _bin_edges_host(a, bins, range):  # noqa: A002
    """The bin edges, computed by NumPy on a host copy (a NumPy array)."""
    vals = to_numpy(_values(a, "histogram_bin_edges"))
    if range is not None:  # (device scalars are copied to the host like the values)
        range = tuple(float(to_numpy(_values(r, "histogram_bin_edges"))) for r in range)
    return np.histogram_bin_edges(vals, bins=to_numpy(_values(bins, "histogram_bin_edges"))
                                  if hasattr(bins, "shape") else bins, range=range)


def histogram_bin_edges(a, bins=10, range=None, weights=None):  # noqa: A002
    """Bin edges as ``np.histogram_bin_edges`` (needs concrete values; no derivative)."""
    a = _arr(a)
    return _xp_of(a).asarray(_bin_edges_host(a, bins, range))


def histogram(a, bins=10, range=None, density=None, weights=None):  # noqa: A002
    """(hist, bin_edges) as ``np.histogram``; differentiable in ``weights``.

    The bin of each value is found on concrete values; the counts are then a
    scatter-add of the weights (ones by default), so ``weights`` get a derivative.
    """
    a = _arr(a)
    xp = _xp_of(a)
    edges = _bin_edges_host(a, bins, range)  # bins are found on host copies
    vals = to_numpy(_values(a, "histogram")).ravel()
    nb = len(edges) - 1
    idx = np.searchsorted(edges, vals, side="right") - 1
    idx[vals == edges[-1]] = nb - 1  # the last bin is closed
    inside = (idx >= 0) & (idx < nb)
    if weights is None:
        upd = xp.ones(int(inside.sum()), dtype=np.int64)
    else:
        upd = getitem(reshape(_arr(weights), (-1,)), np.nonzero(inside)[0])
    template, arrays = canonical_index((idx[inside],), (nb,))
    hist = scatter(None, upd, arrays, template, "add", shape=(nb,), dtype=upd.dtype)
    if density:
        from .reductions import sum as _sum
        hist = hist / (_sum(hist) * xp.asarray(np.diff(edges)))
    return hist, xp.asarray(edges)
