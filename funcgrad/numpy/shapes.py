"""Shape manipulation in ``funcgrad.numpy``: composites over a few primitives.

Everything here is a reshape, transpose, broadcast, concatenate, pad or
gather, so derivatives and vmap come from those primitives' rules.
"""
from __future__ import annotations

import numpy as np

from ..prims import shape_ops as S
from ..prims.creation import _xp_of, asarray
from ..prims.indexing import getitem
from ..prims.shape_ops import normalize_axes
from .padding import pad  # noqa: F401 - re-exported
from .editing import append, delete, insert, resize, trim_zeros  # noqa: F401 - re-exported

__all__ = ["reshape", "ravel", "transpose", "permute_dims", "matrix_transpose", "moveaxis",
           "rollaxis", "swapaxes", "expand_dims", "squeeze", "broadcast_to",
           "broadcast_arrays", "broadcast_shapes", "atleast_1d", "atleast_2d", "atleast_3d",
           "concatenate", "concat", "stack", "vstack", "hstack", "dstack", "column_stack",
           "row_stack", "block", "unstack", "split", "array_split", "hsplit", "vsplit",
           "dsplit", "flip", "fliplr", "flipud", "roll", "rot90", "tile", "repeat", "pad",
           "append", "insert", "delete", "resize", "trim_zeros", "diagonal", "diag",
           "diagflat", "trace", "tril", "triu", "meshgrid", "apply_along_axis",
           "apply_over_axes", "shape", "ndim", "size"]


def _axis1(axis, ndim, op):
    """One axis as a non-negative int; AxisError naming ``ndim`` when out of range."""
    (ax,) = normalize_axes(axis, ndim, op)
    return ax


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
    src = [_axis1(s_, a.ndim, "moveaxis") for s_ in source]
    dst = [_axis1(d, a.ndim, "moveaxis") for d in destination]
    if len(src) != len(dst):
        raise ValueError("moveaxis: `source` and `destination` arguments must have the same "
                         f"number of elements, got {len(src)} and {len(dst)}")
    order = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return S.transpose(a, tuple(order))


def swapaxes(a, axis1, axis2):
    """Interchange two axes."""
    a = _arr(a)
    order = list(range(a.ndim))
    i, j = _axis1(axis1, a.ndim, "swapaxes"), _axis1(axis2, a.ndim, "swapaxes")
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
    """Arrays with at least one dimension (scalars become shape (1,))."""
    res = [S.reshape(_arr(a), (1,)) if _arr(a).ndim == 0 else _arr(a) for a in arys]
    return res[0] if len(res) == 1 else res


def atleast_2d(*arys):
    """Arrays with at least two dimensions (new axes in front)."""
    res = []
    for a in arys:
        a = _arr(a)
        res.append(S.reshape(a, (1,) * (2 - a.ndim) + tuple(a.shape)) if a.ndim < 2 else a)
    return res[0] if len(res) == 1 else res


def atleast_3d(*arys):
    """Arrays with at least three dimensions ((N,) becomes (1, N, 1), like NumPy)."""
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
    """Stack arrays vertically (along the first axis, 1-D arrays as rows)."""
    return concatenate([atleast_2d(a) for a in tup], axis=0)


def hstack(tup):
    """Stack arrays horizontally (along the second axis; the first for 1-D)."""
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, axis=0 if arrs[0].ndim == 1 else 1)


def dstack(tup):
    """Stack arrays along the third axis."""
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def column_stack(tup):
    """Stack 1-D arrays as columns of a 2-D array."""
    arrs = [_arr(a) for a in tup]
    arrs = [S.reshape(a, (-1, 1)) if a.ndim == 1 else a for a in arrs]
    return concatenate(arrs, axis=1)


row_stack = vstack


def split(ary, indices_or_sections, axis=0):
    """Split into equal sections or at the given indices."""
    a = _arr(ary)
    axis = _axis1(axis, a.ndim, "split")
    n = a.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"split: number of sections must be larger than 0, got {k}")
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
    axis = _axis1(axis, a.ndim, "array_split")
    n = a.shape[axis]
    k = int(indices_or_sections)
    if k <= 0:
        raise ValueError(f"array_split: number of sections must be larger than 0, got {k}")
    base, extra = divmod(n, k)
    sizes = [base + 1] * extra + [base] * (k - extra)
    return S.split_sizes(a, sizes, axis)


def hsplit(ary, indices_or_sections):
    """Split along the second axis (the first for 1-D arrays)."""
    a = _arr(ary)
    return split(a, indices_or_sections, axis=1 if a.ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    """Split along the first axis."""
    return split(ary, indices_or_sections, axis=0)


def flip(m, axis=None):
    """Reverse the order of elements along ``axis`` (all axes by default)."""
    m = _arr(m)
    axes = normalize_axes(axis, m.ndim, "flip")
    idx = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(m.ndim))
    return getitem(m, idx)


def fliplr(m):
    """Reverse the order of the columns (axis 1)."""
    return flip(m, 1)


def flipud(m):
    """Reverse the order of the rows (axis 0)."""
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
    axis = _axis1(axis, a.ndim, "roll")
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
    if len(axes) != 2:
        raise ValueError(f"rot90: len(axes) must be 2, got {axes!r}")
    a0, a1 = _axis1(axes[0], m.ndim, "rot90"), _axis1(axes[1], m.ndim, "rot90")
    if a0 == a1:
        raise ValueError(f"rot90: axes must be different, got {axes!r}")
    k %= 4
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
    axis = _axis1(axis, a.ndim, "repeat")
    if isinstance(repeats, (int, np.integer)):
        if repeats < 0:
            raise ValueError(f"repeat: negative dimensions are not allowed (repeats={repeats})")
        r = int(repeats)
        shape = tuple(a.shape)
        b = S.expand_dims(a, axis + 1)
        b = S.broadcast_to(b, shape[:axis + 1] + (r,) + shape[axis + 1:])
        return reshape(b, shape[:axis] + (shape[axis] * r,) + shape[axis + 1:])
    from ..core import concrete
    reps = np.asarray(concrete(repeats))
    if reps.size == 1:
        return repeat(a, int(reps.reshape(())), axis)
    if reps.shape != (a.shape[axis],):
        raise ValueError(f"repeat: repeats of shape {reps.shape} do not match axis {axis} of "
                         f"size {a.shape[axis]}")
    idx = np.repeat(np.arange(a.shape[axis]), reps)
    return getitem(a, (slice(None),) * axis + (idx,))


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal of the ``axis1``/``axis2`` planes, moved to the last axis."""
    a = _arr(a)
    if a.ndim < 2:
        raise ValueError(f"diagonal: array must be at least 2-d, got shape {tuple(a.shape)}")
    if _axis1(axis1, a.ndim, "diagonal") == _axis1(axis2, a.ndim, "diagonal"):
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
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
    """A 2-D array with the flattened ``v`` on the ``k``-th diagonal."""
    return diag(ravel(v), k)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """Sum along a diagonal."""
    from .reductions import sum as _sum
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype, out=out)


def tril(m, k=0):
    """Lower triangle (entries above the k-th diagonal set to zero)."""
    m = _arr(m)
    from .math import where
    mask = _xp_of(m).tri(m.shape[-2], m.shape[-1], k=k, dtype=bool)  # on m's device
    return where(mask, m, 0.0 if m.dtype.kind in "fc" else 0)


def triu(m, k=0):
    """Upper triangle (entries below the k-th diagonal set to zero)."""
    m = _arr(m)
    from .math import where
    mask = ~_xp_of(m).tri(m.shape[-2], m.shape[-1], k=k - 1, dtype=bool)
    return where(mask, m, 0.0 if m.dtype.kind in "fc" else 0)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate matrices from coordinate vectors (``indexing`` "xy" or "ij")."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: valid values for `indexing` are 'xy' and 'ij', got "
                         f"{indexing!r}")
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
        v = reshape(x, tuple(s))
        out.append(v if sparse else S.broadcast_to(v, tuple(shape)))
    return out


def permute_dims(a, axes=None):
    """Permute the axes (the array-API name of ``transpose``)."""
    return transpose(a, axes)


def matrix_transpose(x, /):
    """Swap the last two axes (a stack of matrices transposed)."""
    x = _arr(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: input array must be at least 2-dimensional, "
                         f"got shape {tuple(x.shape)}")
    return swapaxes(x, -1, -2)


def rollaxis(a, axis, start=0):
    """Roll ``axis`` backwards until it lies before position ``start`` (prefer moveaxis)."""
    a = _arr(a)
    n = a.ndim
    axis = _axis1(axis, n, "rollaxis")
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise np.exceptions.AxisError(f"rollaxis: start {start} is out of bounds for an "
                                      f"array of dimension {n}")
    if axis < start:
        start -= 1
    if axis == start:
        return a
    order = [i for i in range(n) if i != axis]
    order.insert(start, axis)
    return S.transpose(a, tuple(order))


broadcast_shapes = np.broadcast_shapes


def unstack(x, /, *, axis=0):
    """The slices of ``x`` along ``axis``, as a tuple."""
    x = _arr(x)
    axis = _axis1(axis, x.ndim, "unstack")
    return tuple(getitem(x, (slice(None),) * axis + (i,)) for i in range(x.shape[axis]))


def dsplit(ary, indices_or_sections):
    """Split along the third axis."""
    a = _arr(ary)
    if a.ndim < 3:
        raise ValueError(f"dsplit: only works on arrays of 3 or more dimensions, got shape "
                         f"{tuple(a.shape)}")
    return split(a, indices_or_sections, axis=2)


def block(arrays):
    """Assemble an array from nested lists of blocks (innermost lists join on the last axis).

    Examples:
        >>> fnp.block([[fnp.eye(2), fnp.zeros((2, 1))]]).shape
        (2, 3)
    """
    def depth(x, path):
        if isinstance(x, tuple):
            raise TypeError(f"block: {path} is a tuple; only lists can be used to arrange "
                            "blocks")
        if isinstance(x, list):
            if not x:
                raise ValueError(f"block: {path} is an empty list")
            ds = {depth(e, f"{path}[{i}]") for i, e in enumerate(x)}
            if len(ds) != 1:
                raise ValueError(f"block: list depths are mismatched at {path}")
            return 1 + ds.pop()
        return 0

    def leaves(x):
        return [y for e in x for y in leaves(e)] if isinstance(x, list) else [_arr(x)]

    d = depth(arrays, "arrays")
    nd = max([d] + [a.ndim for a in leaves(arrays)])

    def build(x, level):
        if isinstance(x, list):
            return S.concatenate([build(e, level + 1) for e in x], nd - d + level)
        a = _arr(x)
        return reshape(a, (1,) * (nd - a.ndim) + tuple(a.shape))
    return build(arrays, 0)


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """Apply ``func1d`` to each 1-D slice along ``axis``.

    On traced values the slices are mapped with ``funcgrad.vmap`` (so
    ``func1d`` must use funcgrad.numpy); on plain arrays NumPy's loop is used.
    The result's axis ``axis`` is replaced by the dimensions of ``func1d``'s output.
    """
    from ..core import Tracer
    arr = _arr(arr)
    axis = _axis1(axis, arr.ndim, "apply_along_axis")
    if not isinstance(arr, Tracer):
        return np.apply_along_axis(func1d, axis, arr, *args, **kwargs)
    from ..api import vmap
    a = moveaxis(arr, axis, -1)
    lead = tuple(a.shape[:-1])
    res = vmap(lambda v: func1d(v, *args, **kwargs))(reshape(a, (-1, a.shape[-1])))
    res = _arr(res)
    rshape = tuple(res.shape[1:])
    res = reshape(res, lead + rshape)
    order = (list(range(axis)) + list(range(len(lead), len(lead) + len(rshape)))
             + list(range(axis, len(lead))))
    return S.transpose(res, tuple(order))


def apply_over_axes(func, a, axes):
    """Apply ``func(a, axis)`` over each axis in turn, keeping the dimensions."""
    a = _arr(a)
    for ax in (axes,) if isinstance(axes, (int, np.integer)) else axes:
        ax = _axis1(ax, a.ndim, "apply_over_axes")
        res = _arr(func(a, ax))
        if res.ndim == a.ndim - 1:
            res = expand_dims(res, ax)
        elif res.ndim != a.ndim:
            raise ValueError("apply_over_axes: function is not returning an array of the "
                             "correct shape")
        a = res
    return a


def shape(a):
    """The shape of ``a`` as a tuple."""
    return tuple(_arr(a).shape)


def ndim(a):
    """The number of dimensions of ``a``."""
    return _arr(a).ndim


def size(a, axis=None):
    """The number of elements of ``a`` (along ``axis`` if given)."""
    a = _arr(a)
    return a.size if axis is None else a.shape[axis]
