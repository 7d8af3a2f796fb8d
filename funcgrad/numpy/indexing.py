"""Indexing functions of ``funcgrad.numpy``: take, take_along_axis, choose, select, ...

Reads are ``gather`` primitives (their derivative scatter-adds the cotangent
back), writes are functional ``scatter`` updates returning a new array --
``x.at[idx].set/add/multiply/min/max(v)`` -- because arrays are immutable under
transforms.  NumPy's in-place writers (``put``, ``put_along_axis``) therefore
*return* the updated array here.

Functions whose result size depends on the values (``nonzero``, ``argwhere``,
``compress``, ...) need concrete values: they work eagerly and under ``grad``
and raise a clear error under ``vmap``/``jit``.
"""
from __future__ import annotations

import numpy as np

from ..core import ConcretizationError, Tracer, concrete
from ..prims import indexing as I
from ..device import to_numpy
from ..prims.creation import _xp_of, asarray
from ..prims.elementwise import convert, where
from ..prims.indexing import at, getitem  # noqa: F401 - re-exported
from ..prims.shape_ops import broadcast_to, normalize_axes, reshape, stack

__all__ = ["at", "getitem", "take", "take_along_axis", "put_along_axis", "put", "choose",
           "compress", "extract", "select", "piecewise", "nonzero", "argwhere",
           "flatnonzero", "indices", "ix_", "diag_indices", "diag_indices_from",
           "tril_indices", "triu_indices", "tril_indices_from", "triu_indices_from",
           "unravel_index", "ravel_multi_index", "bincount", "s_", "index_exp"]

s_ = np.s_
index_exp = np.index_exp


def _arr(a):
    return a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a)


def _values(x, op):
    """Concrete values of ``x`` (the result's size depends on them), or a clear error."""
    if not isinstance(x, Tracer):
        return np.asarray(x) if not hasattr(x, "shape") else x
    try:
        return concrete(x)
    except ConcretizationError:
        raise ConcretizationError(
            f"{op}: the size of the result depends on the values of its input (shape "
            f"{tuple(x.shape)}), which are not known under {x._trace.kind}. Keep the shape "
            "fixed with fnp.where(mask, x, fill) instead, or call it outside vmap/jit."
        ) from None


def _check_bounds(idx, n, axis, shape, op):
    """IndexError naming the axis and its size, for concrete out-of-range indices."""
    if isinstance(idx, Tracer) or not getattr(idx, "size", 1):
        return
    lo, hi = np.min(idx), np.max(idx)
    if hi >= n or lo < -n:
        bad = hi if hi >= n else lo
        raise IndexError(f"{op}: index {int(bad)} is out of bounds for axis {axis} with "
                         f"size {n} (array shape {tuple(shape)})")


def _index_mode(idx, n, mode, axis, shape, op):
    """Indices after ``mode``: 'raise' checks them, 'wrap' takes them mod n, 'clip' clips."""
    if mode in (None, "raise"):
        _check_bounds(idx, n, axis, shape, op)
        return idx
    if mode == "wrap":
        return idx % n
    if mode == "clip":
        from .math import clip
        return clip(idx, 0, n - 1)
    raise ValueError(f"{op}: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")


def _int_index(idx, op):
    idx = _arr(idx)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"{op}: indices must be integers, got dtype {idx.dtype}")
    return idx


def take(a, indices, axis=None, out=None, mode=None):
    """Elements of ``a`` at ``indices`` along ``axis`` (of the flattened array if None).

    Args:
      mode: ``"raise"`` (default: out-of-range indices raise, naming the axis and
        its size), ``"wrap"`` or ``"clip"``.

    Examples:
        >>> fnp.take(fnp.asarray([[1., 2.], [3., 4.]]), [1, 0], axis=1)
        array([[2., 1.],
               [4., 3.]])
    """
    if out is not None:
        raise TypeError("take: out= is not supported; use the returned array")
    a = _arr(a)
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    (axis,) = normalize_axes(axis, a.ndim, "take")
    if isinstance(indices, (int, np.integer)):
        idx = int(_index_mode(np.asarray(indices), a.shape[axis], mode, axis, a.shape, "take"))
    else:
        idx = _index_mode(_int_index(indices, "take"), a.shape[axis], mode, axis, a.shape,
                          "take")
    return getitem(a, (slice(None),) * axis + (idx,))


def take_along_axis(arr, indices, axis=-1):
    """Pick values from ``arr`` by matching 1-D slices of ``indices`` along ``axis``.

    ``indices`` has ``arr``'s number of dimensions and broadcasts against it on
    the other axes (``axis=None``: both are flattened first).

    Examples:
        >>> x = fnp.asarray([[3., 1.], [2., 4.]])
        >>> fnp.take_along_axis(x, fnp.argsort(x, axis=1), axis=1)
        array([[1., 3.],
               [2., 4.]])
    """
    arr = _arr(arr)
    indices = _int_index(indices, "take_along_axis")
    if axis is None:
        if indices.ndim != 1:
            raise ValueError("take_along_axis: when axis=None, indices must be 1-D, got "
                             f"shape {tuple(indices.shape)}")
        arr = reshape(arr, (-1,))
        axis = 0
    if indices.ndim != arr.ndim:
        raise ValueError(f"take_along_axis: indices (shape {tuple(indices.shape)}) and arr "
                         f"(shape {tuple(arr.shape)}) must have the same number of "
                         "dimensions")
    (axis,) = normalize_axes(axis, arr.ndim, "take_along_axis")
    _check_bounds(indices, arr.shape[axis], axis, arr.shape, "take_along_axis")
    return I.take_along_axis(arr, indices, axis)


def put_along_axis(arr, indices, values, axis, *, mode="set"):
    """``arr`` with ``values`` written at ``indices`` along ``axis`` -- a *new* array.

    NumPy's ``put_along_axis`` writes in place and returns None; arrays are
    immutable here, so the updated array is returned: ``a = fnp.put_along_axis(...)``.

    Args:
      mode: funcgrad extra: ``"set"`` (NumPy's), or ``"add"``, ``"multiply"``,
        ``"min"``, ``"max"`` to accumulate (repeated indices accumulate).
    """
    arr = _arr(arr)
    indices = _int_index(indices, "put_along_axis")
    if axis is None:
        flat = put_along_axis(reshape(arr, (-1,)), indices, values, 0, mode=mode)
        return reshape(flat, tuple(arr.shape))
    if indices.ndim != arr.ndim:
        raise ValueError(f"put_along_axis: indices (shape {tuple(indices.shape)}) and arr "
                         f"(shape {tuple(arr.shape)}) must have the same number of "
                         "dimensions")
    (axis,) = normalize_axes(axis, arr.ndim, "put_along_axis")
    _check_bounds(indices, arr.shape[axis], axis, arr.shape, "put_along_axis")
    template, arrays = I.along_axis_index(tuple(arr.shape), indices, axis)
    target = I._index_shape(tuple(arr.shape), template, arrays)
    return I.scatter(arr, broadcast_to(_arr(values), target), arrays, template, mode)


def put(a, ind, v, mode="raise"):
    """``a`` with the flat positions ``ind`` set to ``v`` (cycled) -- a *new* array.

    NumPy's ``put`` writes in place; here the updated array is returned.
    """
    a = _arr(a)
    flat = reshape(a, (-1,))
    ind = _index_mode(reshape(_int_index(ind, "put"), (-1,)), flat.shape[0], mode, 0,
                      a.shape, "put")
    v = reshape(_arr(v), (-1,))
    n = ind.shape[0]
    if v.shape[0] != n:  # NumPy repeats v to the length of ind
        if v.shape[0] == 0:
            return a
        v = getitem(v, np.arange(n) % v.shape[0])
    return reshape(at(flat)[ind].set(v), tuple(a.shape))


def choose(a, choices, out=None, mode="raise"):
    """``choices[a[i]][i]`` for every position ``i`` (all broadcast together).

    Differentiable in ``choices``.

    Examples:
        >>> fnp.choose(fnp.asarray([0, 1, 0]), [fnp.zeros(3), fnp.ones(3)])
        array([0., 1., 0.])
    """
    if out is not None:
        raise TypeError("choose: out= is not supported; use the returned array")
    a = _int_index(a, "choose")
    choices = [_arr(c) for c in choices] if not hasattr(choices, "ndim") else \
        [getitem(choices, k) for k in range(choices.shape[0])]
    n = len(choices)
    shape = np.broadcast_shapes(tuple(a.shape), *[tuple(c.shape) for c in choices])
    a = _index_mode(a, n, mode, 0, (n,) + shape, "choose")
    if mode in (None, "raise") and not isinstance(a, Tracer) and a.size and np.min(a) < 0:
        raise ValueError("choose: invalid entry in choice array (negative index)")
    stacked = stack([broadcast_to(c, shape) for c in choices], 0)
    idx = reshape(broadcast_to(a, shape), (1,) + shape)
    return reshape(I.take_along_axis(stacked, idx, 0), shape)


def compress(condition, a, axis=None, out=None):
    """Slices of ``a`` along ``axis`` where ``condition`` is true (needs concrete condition)."""
    if out is not None:
        raise TypeError("compress: out= is not supported; use the returned array")
    a = _arr(a)
    cond = to_numpy(_values(_arr(condition), "compress")).astype(bool).ravel()
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    (axis,) = normalize_axes(axis, a.ndim, "compress")
    if cond.shape[0] > a.shape[axis]:
        raise IndexError(f"compress: condition of length {cond.shape[0]} is longer than axis "
                         f"{axis} of size {a.shape[axis]}")
    return getitem(a, (slice(None),) * axis + (np.nonzero(cond)[0],))


def extract(condition, arr):
    """Elements of ``arr`` (flattened) where ``condition`` is true."""
    arr = _arr(arr)
    cond = to_numpy(_values(_arr(condition), "extract")).astype(bool).ravel()
    return getitem(reshape(arr, (-1,)), np.nonzero(cond)[0])


def select(condlist, choicelist, default=0):
    """Elementwise: the choice of the first true condition, else ``default``.

    The derivative flows into the selected choice only.
    """
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: list of cases must be same length as list of conditions "
                         f"({len(condlist)} conditions, {len(choicelist)} choices)")
    if not condlist:
        raise ValueError("select: select with an empty condition list is not possible")
    out = _arr(default) if hasattr(default, "shape") else default
    for cond, choice in zip(reversed(condlist), reversed(choicelist)):
        cond = _arr(cond)
        if cond.dtype.kind != "b":
            raise TypeError(f"select: invalid entry in condlist: should be boolean ndarray, "
                            f"got dtype {cond.dtype}")
        out = where(cond, choice, out)
    if not hasattr(out, "shape"):
        out = asarray(out)
    return out


def piecewise(x, condlist, funclist, *args, **kw):
    """Evaluate a piecewise function: ``funclist[k]`` where ``condlist[k]`` holds.

    As in NumPy, each function sees only the elements of its piece (so a branch
    never computes on values outside its domain) and later conditions win;
    an extra last function is the default.  Under vmap/jit (conditions not
    known) every function is evaluated on all of ``x`` and selected with
    ``where``.  Constants may stand in for functions.
    """
    x = _arr(x)
    # NumPy's rule: a single condition (not a list of them) is promoted to a list.
    if isinstance(condlist, Tracer):
        condlist = [condlist] if condlist.ndim == x.ndim else list(condlist)
    elif np.isscalar(condlist) or (not isinstance(condlist[0], (list, np.ndarray, Tracer))
                                   and x.ndim != 0):
        condlist = [condlist]
    condlist = [_arr(c) for c in condlist]
    n = len(condlist)
    if len(funclist) == n + 1:
        from .math import logical_not
        from .reductions import any as _any
        others = logical_not(_any(stack([broadcast_to(c, tuple(x.shape)) for c in condlist]),
                                  axis=0)) if n else np.ones(x.shape, bool)
        condlist = condlist + [others]
    elif len(funclist) != n:
        raise ValueError(f"piecewise: with {n} condition(s), provide {n} or {n + 1} "
                         f"functions, got {len(funclist)}")
    from ..prims.creation import zeros_like
    out = zeros_like(x)
    for cond, fn in zip(condlist, funclist):
        cond = broadcast_to(cond, tuple(x.shape))
        try:
            c = np.asarray(concrete(cond)).astype(bool) if isinstance(cond, Tracer) else \
                np.asarray(cond).astype(bool)
        except ConcretizationError:
            c = None
        if c is None:  # traced conditions: evaluate everywhere, select
            val = fn(x, *args, **kw) if callable(fn) else fn
            out = where(cond, val, out)
            continue
        if not c.any():
            continue
        pos = np.nonzero(c)
        if callable(fn):
            val = fn(getitem(x, pos), *args, **kw)
        else:
            val = fn
        val = _arr(val)
        if val.dtype != x.dtype:
            val = convert(val, x.dtype)
        out = at(out)[pos].set(val)
    return out


def nonzero(a):
    """Indices of the non-zero elements, one array per dimension (concrete values only).

    Examples:
        >>> fnp.nonzero(fnp.asarray([0., 2., 0., 3.]))
        (array([1, 3]),)
    """
    a = _arr(a)
    if a.ndim == 0:
        raise ValueError("nonzero: calling nonzero on 0d arrays is not allowed; use "
                         "fnp.atleast_1d(a).nonzero() instead")
    return np.nonzero(_values(a, "nonzero"))


def argwhere(a):
    """Indices of the non-zero elements, one row per element (concrete values only)."""
    return np.argwhere(_values(_arr(a), "argwhere"))


def flatnonzero(a):
    """Flat indices of the non-zero elements (concrete values only)."""
    return np.flatnonzero(_values(_arr(a), "flatnonzero"))


def indices(dimensions, dtype=int, sparse=False):
    """A grid of indices (``np.indices``); a constant."""
    return np.indices(dimensions, dtype=dtype, sparse=sparse)


def ix_(*args):
    """Open mesh from sequences (``np.ix_``); needs concrete values."""
    return np.ix_(*[_values(_arr(a), "ix_") for a in args])


def diag_indices(n, ndim=2):
    """Indices of the main diagonal of an ``(n,) * ndim`` array."""
    return np.diag_indices(n, ndim)


def diag_indices_from(arr):
    """Indices of the main diagonal of ``arr`` (all sides equal)."""
    shape = tuple(_arr(arr).shape)
    if len(shape) < 2 or len(set(shape)) != 1:
        raise ValueError(f"diag_indices_from: input array must be at least 2-d with all "
                         f"dimensions of equal length, got shape {shape}")
    return np.diag_indices(shape[0], len(shape))


def tril_indices(n, k=0, m=None):
    """Indices of the lower triangle of an ``(n, m)`` array."""
    return np.tril_indices(n, k, m)


def triu_indices(n, k=0, m=None):
    """Indices of the upper triangle of an ``(n, m)`` array."""
    return np.triu_indices(n, k, m)


def tril_indices_from(arr, k=0):
    """Indices of the lower triangle of the 2-D ``arr``."""
    s = tuple(_arr(arr).shape)
    if len(s) != 2:
        raise ValueError(f"tril_indices_from: input array must be 2-d, got shape {s}")
    return np.tril_indices(s[0], k, s[1])


def triu_indices_from(arr, k=0):
    """Indices of the upper triangle of the 2-D ``arr``."""
    s = tuple(_arr(arr).shape)
    if len(s) != 2:
        raise ValueError(f"triu_indices_from: input array must be 2-d, got shape {s}")
    return np.triu_indices(s[0], k, s[1])


def unravel_index(indices, shape, order="C"):
    """Flat indices to a tuple of coordinate arrays (works on traced indices too)."""
    if order != "C":
        raise NotImplementedError("unravel_index: only order='C' is supported")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not isinstance(indices, Tracer):
        return np.unravel_index(indices, shape)
    out = []
    rest = indices
    for s in reversed(shape):
        out.append(rest % s)
        rest = rest // s
    return tuple(reversed(out))


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """Coordinate arrays to flat indices (works on traced coordinates too)."""
    if order != "C":
        raise NotImplementedError("ravel_multi_index: only order='C' is supported")
    dims = tuple(dims)
    if not any(isinstance(m, Tracer) for m in multi_index):
        return np.ravel_multi_index(tuple(multi_index), dims, mode=mode)
    if len(multi_index) != len(dims):
        raise ValueError(f"ravel_multi_index: got {len(multi_index)} coordinate arrays for "
                         f"{len(dims)} dimensions")
    flat = 0
    for m, d in zip(multi_index, dims):
        flat = flat * d + _index_mode(m, d, mode, 0, dims, "ravel_multi_index")
    return flat


def bincount(x, weights=None, minlength=0, *, length=None):
    """Count occurrences of each non-negative int in ``x``; differentiable in ``weights``.

    Args:
      weights: the value each occurrence adds (default 1).
      minlength: the least length of the result.
      length: funcgrad extra (as JAX): the exact length, needed when ``x`` is traced
        by vmap/jit (its maximum is then unknown); values >= length raise.

    Examples:
        >>> fnp.bincount(fnp.asarray([0, 2, 2]), weights=fnp.asarray([1., .5, .5]))
        array([1., 0., 1.])
    """
    x = _arr(x)
    if x.ndim != 1:
        raise ValueError(f"bincount: x must be 1-D, got shape {tuple(x.shape)}")
    if x.dtype.kind not in "iu":
        raise TypeError(f"bincount: x must hold non-negative integers, got dtype {x.dtype}")
    if length is None:
        vals = to_numpy(_values(x, "bincount (pass length=N under vmap/jit)"))
        if vals.size and vals.min() < 0:
            raise ValueError("bincount: x must hold non-negative integers, got "
                             f"{int(vals.min())}")
        length = int(max(vals.max() + 1 if vals.size else 0, minlength))
    elif not isinstance(x, Tracer) and x.size and (x.min() < 0 or x.max() >= length):
        raise ValueError(f"bincount: values of x must lie in [0, length={length}), got "
                         f"[{int(x.min())}, {int(x.max())}]")
    if weights is None:
        upd = _xp_of(x).ones(tuple(x.shape), dtype=np.int64)
    else:
        upd = _arr(weights)
        if tuple(upd.shape) != tuple(x.shape):
            raise ValueError(f"bincount: weights (shape {tuple(upd.shape)}) must have the "
                             f"shape of x {tuple(x.shape)}")
        if upd.dtype.kind not in "fc":
            upd = convert(upd, np.float64)
    template, arrays = I.canonical_index((x,), (length,), "bincount")
    return I.scatter(None, upd, arrays, template, "add", shape=(length,), dtype=upd.dtype)
