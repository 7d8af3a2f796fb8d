"""Editing an array's extent in ``funcgrad.numpy``: append, insert, delete, resize, trim_zeros.

The positions are computed on concrete indices with NumPy, then the result is
one gather (plus a concatenation for new values), so derivatives flow to the
entries that were kept and to the inserted values.
"""
from __future__ import annotations

import math

import numpy as np

from ..core import Tracer, concrete
from ..device import to_numpy
from ..prims import shape_ops as S
from ..prims.creation import _xp_of, asarray
from ..prims.indexing import getitem
from ..prims.shape_ops import normalize_axes

__all__ = ["append", "insert", "delete", "resize", "trim_zeros"]


def _arr(a):
    return a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a)


def _ravel(a):
    return S.reshape(a, (-1,))


def append(arr, values, axis=None):
    """``arr`` with ``values`` appended (both flattened when ``axis`` is None)."""
    arr = _arr(arr)
    if not (hasattr(values, "shape") and hasattr(values, "dtype")):
        values = _xp_of(arr).asarray(values)  # Python values go to arr's device
    if axis is None:
        return S.concatenate([_ravel(arr), _ravel(values)], 0)
    (axis,) = normalize_axes(axis, arr.ndim, "append")
    return S.concatenate([arr, values], axis)


def _axis_or_flat(arr, axis, op):
    arr = _arr(arr)
    if axis is None:
        return _ravel(arr), 0
    (axis,) = normalize_axes(axis, arr.ndim, op)
    return arr, axis


def insert(arr, obj, values, axis=None):
    """``arr`` with ``values`` inserted before the indices ``obj`` along ``axis``.

    ``obj`` (an int, a slice or a sequence of ints) must be concrete; the
    result gathers from ``arr`` and ``values``, so both get derivatives.
    """
    from ..prims.elementwise import convert
    arr, axis = _axis_or_flat(arr, axis, "insert")
    n = arr.shape[axis]
    vals = _arr(values)
    if not hasattr(values, "shape") and not isinstance(vals, Tracer):
        vals = _xp_of(arr).asarray(vals)  # a Python value: a constant on arr's device
    if vals.dtype != arr.dtype:
        vals = convert(vals, arr.dtype)
    if isinstance(obj, slice):
        idx = np.arange(*obj.indices(n))
    else:
        idx = to_numpy(concrete(obj))
        if idx.dtype.kind == "b":
            raise IndexError("insert: boolean obj is not supported; use integer indices")
    pre = (slice(None),) * axis
    if idx.ndim == 0:
        i = int(idx)
        if not -n <= i <= n:
            raise IndexError(f"insert: index {i} is out of bounds for axis {axis} with size {n}")
        if i < 0:
            i += n
        vals = S.reshape(vals, (1,) * (arr.ndim - vals.ndim) + tuple(vals.shape))
        vals = S.moveaxis(vals, 0, axis)
        shape = list(arr.shape)
        shape[axis] = vals.shape[axis]
        vals = S.broadcast_to(vals, tuple(shape))
        return S.concatenate([getitem(arr, pre + (slice(0, i),)), vals,
                              getitem(arr, pre + (slice(i, None),))], axis)
    idx = idx.astype(np.int64).ravel()
    if idx.size and (idx.max() > n or idx.min() < -n):
        bad = idx.max() if idx.max() > n else idx.min()
        raise IndexError(f"insert: index {int(bad)} is out of bounds for axis {axis} with "
                         f"size {n}")
    idx = np.where(idx < 0, idx + n, idx)
    m = idx.size
    shape = list(arr.shape)
    shape[axis] = m
    vals = S.broadcast_to(vals, tuple(shape))
    order = np.argsort(idx, kind="stable")
    idx[order] += np.arange(m)
    src = np.empty(n + m, dtype=np.int64)
    old = np.ones(n + m, dtype=bool)
    old[idx] = False
    src[old] = np.arange(n)
    src[idx] = n + np.arange(m)
    return getitem(S.concatenate([arr, vals], axis), pre + (src,))


def delete(arr, obj, axis=None):
    """``arr`` without the entries ``obj`` (int, slice or sequence; concrete) along ``axis``."""
    arr, axis = _axis_or_flat(arr, axis, "delete")
    n = arr.shape[axis]
    keep = np.ones(n, dtype=bool)
    if isinstance(obj, slice):
        keep[obj] = False
    else:
        idx = np.asarray(concrete(obj))
        if idx.dtype.kind == "b":
            if idx.shape != (n,):
                raise ValueError(f"delete: boolean array argument obj to delete must be "
                                 f"one dimensional and match the axis length of {n}")
            keep = ~idx
        else:
            if idx.size and (idx.max() >= n or idx.min() < -n):
                bad = idx.max() if idx.max() >= n else idx.min()
                raise IndexError(f"delete: index {int(bad)} is out of bounds for axis {axis} "
                                 f"with size {n}")
            keep[idx.astype(np.int64)] = False
    return getitem(arr, (slice(None),) * axis + (np.nonzero(keep)[0],))


def resize(a, new_shape):
    """A ``new_shape`` array filled by repeating ``a`` (flattened) cyclically."""
    a = _arr(a)
    new_shape = (new_shape,) if isinstance(new_shape, (int, np.integer)) else tuple(new_shape)
    if any(int(d) < 0 for d in new_shape):
        raise ValueError(f"resize: all elements of `new_shape` must be non-negative, got "
                         f"{new_shape}")
    total = math.prod(new_shape)
    flat = _ravel(a)
    if flat.shape[0] == 0 or total == 0:
        from ..prims.creation import zeros_like
        return zeros_like(a, shape=new_shape)
    return S.reshape(getitem(flat, np.arange(total) % flat.shape[0]), new_shape)


def trim_zeros(filt, trim="fb", axis=None):
    """``filt`` without its leading ('f') and/or trailing ('b') zeros (concrete values)."""
    filt = _arr(filt)
    if filt.ndim != 1 and axis is None:
        raise NotImplementedError("trim_zeros: only 1-D input is supported")
    v = np.asarray(concrete(filt))
    nz = np.nonzero(v)[0]
    if nz.size == 0:
        return getitem(filt, slice(0, 0))
    start = int(nz[0]) if "f" in trim.lower() else 0
    stop = int(nz[-1]) + 1 if "b" in trim.lower() else v.shape[0]
    return getitem(filt, slice(start, stop))
