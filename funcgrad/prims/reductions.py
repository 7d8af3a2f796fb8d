"""Reduction primitives: sum, max, min, argmax, argmin.

``axes`` is always a sorted tuple of non-negative ints (the wrappers
normalise it), ``keepdims`` a bool.
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive
from ._rules import deflinear
from .shape_ops import broadcast_to, normalize_axes, reshape, moveaxis


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _batch_axes(axes, d):
    """Reduction axes of the per-example array, shifted past batch axis ``d``."""
    return tuple(a + (a >= d) for a in axes)


def _reduce_batch(prim):
    def rule(vals, dims, axes, keepdims):
        x, d = vals[0], dims[0]
        x = moveaxis(x, d, 0) if d != 0 else x
        return prim.bind(x, axes=tuple(a + 1 for a in axes), keepdims=keepdims), 0
    return rule


def keep_axes(ct, shape, axes, keepdims):
    """Reinsert reduced axes (as size 1) so ``ct`` broadcasts against ``shape``."""
    if keepdims:
        return ct
    return reshape(ct, _reduced_shape(shape, axes, True))


# --------------------------------------------------------------------------- #
# sum: linear; its transpose broadcasts the cotangent back.
# --------------------------------------------------------------------------- #
def _sum_impl(xp, x, axes, keepdims):
    return xp.sum(x, axis=axes, keepdims=keepdims)


def _sum_shape(x, axes, keepdims):
    dt = x.dtype
    if dt.kind == "b" or (dt.kind in "iu" and dt.itemsize < 8):
        dt = np.dtype(np.int64) if dt.kind != "u" else np.dtype(np.uint64)
    return _reduced_shape(x.shape, axes, keepdims), dt


reduce_sum_p = Primitive("reduce_sum")
reduce_sum_p.impl = _sum_impl
reduce_sum_p.shape_rule = _sum_shape
deflinear(reduce_sum_p, lambda ct, x, axes, keepdims: broadcast_to(
    keep_axes(ct, x.shape, axes, keepdims), x.shape))
reduce_sum_p.batch = _reduce_batch(reduce_sum_p)


def reduce_sum(x, axes, keepdims=False):
    return reduce_sum_p.bind(x, axes=axes, keepdims=keepdims)


# --------------------------------------------------------------------------- #
# max / min: the cotangent goes to the arg-extremes, split evenly at ties.
# --------------------------------------------------------------------------- #
def _extreme_vjp(out, x, axes, keepdims):
    from .elementwise import where
    def vjp(ct):
        o = keep_axes(out, x.shape, axes, keepdims)
        mask = where(x == o, 1.0, 0.0)
        count = reduce_sum(mask, axes, keepdims=True)
        return (keep_axes(ct, x.shape, axes, keepdims) * mask / count,)
    return vjp


def _extreme_jvp(tangents, out, x, axes, keepdims):
    from .elementwise import where
    o = keep_axes(out, x.shape, axes, keepdims)
    mask = where(x == o, 1.0, 0.0)
    return reduce_sum(tangents[0] * mask, axes, keepdims) / reduce_sum(mask, axes, keepdims)


def _extreme(name, np_name):
    prim = Primitive(name)
    fn = getattr(np, np_name)
    prim.impl = lambda xp, x, axes, keepdims: getattr(xp, np_name)(x, axis=axes,
                                                                     keepdims=keepdims)
    prim.shape_rule = lambda x, axes, keepdims: (_reduced_shape(x.shape, axes, keepdims),
                                                 x.dtype)
    prim.vjp = _extreme_vjp
    prim.jvp = _extreme_jvp
    prim.batch = _reduce_batch(prim)
    del fn
    return prim


reduce_max_p = _extreme("reduce_max", "max")
reduce_min_p = _extreme("reduce_min", "min")


# --------------------------------------------------------------------------- #
# argmax / argmin: integer-valued, zero derivative (declared).
# --------------------------------------------------------------------------- #
def _arg_extreme(name, np_name):
    prim = Primitive(name, nondiff=True)
    prim.impl = lambda xp, x, axis, keepdims: getattr(xp, np_name)(x, axis=axis,
                                                                     keepdims=keepdims)
    prim.shape_rule = lambda x, axis, keepdims: (
        _reduced_shape(x.shape, (axis,), keepdims), np.dtype(np.int64))

    def batch(vals, dims, axis, keepdims):
        x, d = vals[0], dims[0]
        x = moveaxis(x, d, 0) if d != 0 else x
        return prim.bind(x, axis=axis + 1, keepdims=keepdims), 0
    prim.batch = batch
    return prim


argmax_p = _arg_extreme("argmax", "argmax")
argmin_p = _arg_extreme("argmin", "argmin")


def reduce(prim, x, axis, keepdims, op):
    """Normalise ``axis`` and bind a reduction (shared by the fnp wrappers)."""
    axes = normalize_axes(axis, x.ndim, op)
    if not axes and prim is not reduce_sum_p:
        return x
    return prim.bind(x, axes=axes, keepdims=bool(keepdims))
