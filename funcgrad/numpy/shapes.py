"""Shape manipulation in ``funcgrad.numpy``: composites over a few primitives."""
from __future__ import annotations

import numpy as np

from ..prims import shape_ops as S
from ..prims.creation import asarray
from ..prims.indexing import getitem
from ..prims.shape_ops import normalize_axes


def _arr(a):
    return a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a)


def reshape(a, shape, order="C"):
    """Give ``a`` a new shape (one dimension may be -1)."""
    if order != "C":
        raise NotImplementedError("reshape: only order='C' is supported")
    return S.reshape(_arr(a), shape)


def ravel(a):
    """Flatten to 1-D."""
    return S.reshape(_arr(a), (-1,))


def transpose(a, axes=None):
    """Permute the axes (reverse them by default)."""
    return S.transpose(_arr(a), axes)


def moveaxis(a, source, destination):
    """Move axes to new positions; other axes keep their order."""
    a = _arr(a)
    if isinstance(source, int) and isinstance(destination, int):
        return S.moveaxis(a, source, destination)
    src = [s % a.ndim for s in source]
    dst = [d % a.ndim for d in destination]
    order = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return S.transpose(a, tuple(order))


def swapaxes(a, axis1, axis2):
    """Interchange two axes."""
    a = _arr(a)
    order = list(range(a.ndim))
    i, j = axis1 % a.ndim, axis2 % a.ndim
    order[i], order[j] = order[j], order[i]
    return S.transpose(a, tuple(order))


def expand_dims(a, axis):
    """Insert size-1 axes at ``axis``."""
    return S.expand_dims(_arr(a), axis)


def squeeze(a, axis=None):
    """Remove size-1 axes (all of them, or those in ``axis``)."""
    a = _arr(a)
    if axis is None:
        axes = tuple(i for i, s in enumerate(a.shape) if s == 1)
    else:
        axes = normalize_axes(axis, a.ndim, "squeeze")
        for i in axes:
            if a.shape[i] != 1:
                raise ValueError(f"squeeze: cannot select an axis to squeeze out which has "
                                 f"size not equal to one (axis {i} of shape "
                                 f"{tuple(a.shape)})")
    return S.reshape(a, tuple(s for i, s in enumerate(a.shape) if i not in axes))


def broadcast_to(a, shape):
    """Broadcast ``a`` to ``shape`` (a read-only view in NumPy; a value here)."""
    return S.broadcast_to(_arr(a), shape)


def broadcast_arrays(*args):
    """Broadcast arrays against each other."""
    args = [_arr(a) for a in args]
    shape = np.broadcast_shapes(*[tuple(a.shape) for a in args])
    return [S.broadcast_to(a, shape) for a in args]


def atleast_1d(*arys):
    res = [S.reshape(_arr(a), (1,)) if _arr(a).ndim == 0 else _arr(a) for a in arys]
    return res[0] if len(res) == 1 else res


def atleast_2d(*arys):
    res = []
    for a in arys:
        a = _arr(a)
        res.append(S.reshape(a, (1,) * (2 - a.ndim) + tuple(a.shape)) if a.ndim < 2 else a)
    return res[0] if len(res) == 1 else res


def atleast_3d(*arys):
    res = []
    for a in arys:
        a = _arr(a)
        if a.ndim == 0:
            a = S.reshape(a, (1, 1, 1))
        elif a.ndim == 1:
            a = S.reshape(a, (1, a.shape[0], 1))
        elif a.ndim == 2:
            a = S.reshape(a, tuple(a.shape) + (1,))
        res.append(a)
    return res[0] if len(res) == 1 else res


def concatenate(arrays, axis=0):
    """Join arrays along an existing axis (``axis=None`` flattens first)."""
    arrays = [_arr(a) for a in arrays]
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    return S.concatenate(arrays, axis)


concat = concatenate


def stack(arrays, axis=0):
    """Join arrays of one shape along a new axis."""
    return S.stack([_arr(a) for a in arrays], axis)


def vstack(tup):
    return concatenate([atleast_2d(a) for a in tup], axis=0)


def hstack(tup):
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, axis=0 if arrs[0].ndim == 1 else 1)


def dstack(tup):
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def column_stack(tup):
    arrs = [_arr(a) for a in tup]
    arrs = [S.reshape(a, (-1, 1)) if a.ndim == 1 else a for a in arrs]
    return concatenate(arrs, axis=1)


row_stack = vstack


def split(ary, indices_or_sections, axis=0):
    """Split into equal sections or at the given indices."""
    a = _arr(ary)
    axis = axis % a.ndim
    n = a.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if n % k:
            raise ValueError(f"split: array split does not result in an equal division "
                             f"({n} elements along axis {axis} into {k} sections)")
        sizes = [n // k] * k
    else:
        bounds = [0] + [min(int(i), n) for i in indices_or_sections] + [n]
        sizes = [max(b - a_, 0) for a_, b in zip(bounds[:-1], bounds[1:])]
    return S.split_sizes(a, sizes, axis)


def array_split(ary, indices_or_sections, axis=0):
    """Split into nearly equal sections (sizes may differ by one)."""
    a = _arr(ary)
    if not isinstance(indices_or_sections, (int, np.integer)):
        return split(a, indices_or_sections, axis)
    n = a.shape[axis % a.ndim]
    k = int(indices_or_sections)
    base, extra = divmod(n, k)
    sizes = [base + 1] * extra + [base] * (k - extra)
    return S.split_sizes(a, sizes, axis % a.ndim)


def hsplit(ary, indices_or_sections):
    a = _arr(ary)
    return split(a, indices_or_sections, axis=1 if a.ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, axis=0)


def flip(m, axis=None):
    """Reverse the order of elements along ``axis`` (all axes by default)."""
    m = _arr(m)
    axes = normalize_axes(axis, m.ndim, "flip")
    idx = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(m.ndim))
    return getitem(m, idx)


def fliplr(m):
    return flip(m, 1)


def flipud(m):
    return flip(m, 0)


def roll(a, shift, axis=None):
    """Roll elements along ``axis`` (the flattened array by default)."""
    a = _arr(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), a.shape)
    if isinstance(axis, (tuple, list)):
        shifts = shift if isinstance(shift, (tuple, list)) else [shift] * len(axis)
        for s, ax in zip(shifts, axis):
            a = roll(a, s, ax)
        return a
    axis = axis % a.ndim
    n = a.shape[axis]
    if n == 0:
        return a
    s = int(shift) % n
    if s == 0:
        return a
    pre = (slice(None),) * axis
    return S.concatenate([getitem(a, pre + (slice(n - s, None),)),
                          getitem(a, pre + (slice(0, n - s),))], axis)


def rot90(m, k=1, axes=(0, 1)):
    """Rotate by 90 degrees in the plane of ``axes``."""
    m = _arr(m)
    k %= 4
    a0, a1 = axes
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    if k == 1:
        return swapaxes(flip(m, a1), a0, a1)
    return flip(swapaxes(m, a0, a1), a1)


def tile(A, reps):
    """Repeat ``A`` ``reps`` times along each axis."""
    A = _arr(A)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    d = max(len(reps), A.ndim)
    reps = (1,) * (d - len(reps)) + reps
    A = reshape(A, (1,) * (d - A.ndim) + tuple(A.shape))
    # Interleave a new axis of size rep before each axis, broadcast, then merge.
    inter = []
    for s in A.shape:
        inter += [1, s]
    B = reshape(A, tuple(inter))
    target = []
    for r, s in zip(reps, A.shape):
        target += [r, s]
    B = S.broadcast_to(B, tuple(target))
    return reshape(B, tuple(r * s for r, s in zip(reps, A.shape)))


def repeat(a, repeats, axis=None):
    """Repeat each element ``repeats`` times along ``axis``."""
    a = _arr(a)
    if axis is None:
        a = ravel(a)
        axis = 0
    axis = axis % a.ndim
    if isinstance(repeats, (int, np.integer)):
        r = int(repeats)
        shape = tuple(a.shape)
        b = S.expand_dims(a, axis + 1)
        b = S.broadcast_to(b, shape[:axis + 1] + (r,) + shape[axis + 1:])
        return reshape(b, shape[:axis] + (shape[axis] * r,) + shape[axis + 1:])
    idx = np.repeat(np.arange(a.shape[axis]), np.asarray(repeats))
    return getitem(a, (slice(None),) * axis + (idx,))


def pad(array, pad_width, mode="constant", constant_values=0):
    """Pad an array (modes: constant, edge, reflect, symmetric, wrap)."""
    from .indexing import pad as _pad
    return _pad(array, pad_width, mode=mode, constant_values=constant_values)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal of the ``axis1``/``axis2`` planes, moved to the last axis."""
    a = _arr(a)
    a = moveaxis(a, (axis1, axis2), (-2, -1))
    n, m = a.shape[-2], a.shape[-1]
    if offset >= 0:
        k = max(0, min(n, m - offset))
        rows, cols = np.arange(k), np.arange(k) + offset
    else:
        k = max(0, min(n + offset, m))
        rows, cols = np.arange(k) - offset, np.arange(k)
    return getitem(a, (Ellipsis, rows, cols))


def diag(v, k=0):
    """Extract a diagonal (2-D input) or build a diagonal matrix (1-D input)."""
    v = _arr(v)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {tuple(v.shape)}")
    n = v.shape[0] + abs(k)
    from ..prims.indexing import scatter, canonical_index
    rows = np.arange(v.shape[0]) + max(0, -k)
    cols = np.arange(v.shape[0]) + max(0, k)
    template, arrays = canonical_index((rows, cols), (n, n))
    return scatter(None, v, arrays, template, "add", shape=(n, n), dtype=v.dtype)


def diagflat(v, k=0):
    return diag(ravel(v), k)


def trace(a, offset=0, axis1=0, axis2=1):
    """Sum along a diagonal."""
    from .reductions import sum as _sum
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1)


def tril(m, k=0):
    """Lower triangle (entries above the k-th diagonal set to zero)."""
    m = _arr(m)
    from .math import where
    mask = np.tri(m.shape[-2], m.shape[-1], k=k, dtype=bool)
    return where(mask, m, 0.0 if m.dtype.kind in "fc" else 0)


def triu(m, k=0):
    """Upper triangle (entries below the k-th diagonal set to zero)."""
    m = _arr(m)
    from .math import where
    mask = ~np.tri(m.shape[-2], m.shape[-1], k=k - 1, dtype=bool)
    return where(mask, m, 0.0 if m.dtype.kind in "fc" else 0)


def meshgrid(*xi, indexing="xy"):
    """Coordinate matrices from coordinate vectors."""
    xi = [ravel(x) for x in xi]
    n = len(xi)
    shape = [x.shape[0] for x in xi]
    if indexing == "xy" and n > 1:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, x in enumerate(xi):
        s = [1] * n
        j = i
        if indexing == "xy" and n > 1 and i < 2:
            j = 1 - i
        s[j] = x.shape[0]
        out.append(S.broadcast_to(reshape(x, tuple(s)), tuple(shape)))
    return out


def shape(a):
    return tuple(_arr(a).shape)


def ndim(a):
    return _arr(a).ndim


def size(a, axis=None):
    a = _arr(a)
    return a.size if axis is None else a.shape[axis]
