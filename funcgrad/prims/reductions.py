"""Reduction primitives: sum, prod, max, min, argmax, argmin, cumsum, cumprod.

``axes`` is always a sorted tuple of non-negative ints and ``axis`` one
non-negative int (the wrappers normalise them), ``keepdims``/``reverse`` bools.

Products are the delicate ones: the textbook derivative ``out / x`` divides by
zero as soon as an input is 0.  ``reduce_prod`` and ``cumprod`` use
formulations that never divide (exclusive cumulative products from both ends
for ``reduce_prod``; a doubling scan of products for ``cumprod``), so their
derivatives, of every order, are exact with zeros in the input.
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive
from ._rules import deflinear
from .shape_ops import broadcast_to, normalize_axes, reshape, moveaxis, transpose


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _accumulate_dtype(dt):
    """NumPy's result dtype of sum/prod/cumsum: small ints and bools widen to 64 bits."""
    if dt.kind == "b" or (dt.kind == "i" and dt.itemsize < 8):
        return np.dtype(np.int64)
    if dt.kind == "u" and dt.itemsize < 8:
        return np.dtype(np.uint64)
    return dt


def _reduce_batch(prim):
    def rule(vals, dims, axes, keepdims):
        x, d = vals[0], dims[0]
        x = moveaxis(x, d, 0) if d != 0 else x
        return prim.bind(x, axes=tuple(a + 1 for a in axes), keepdims=keepdims), 0
    return rule


def _along_axis_batch(prim):
    """Batching rule of an op along one ``axis`` that keeps the shape (cumsum, sort...)."""
    def rule(vals, dims, axis, **params):
        d = dims[0]
        return prim.bind(vals[0], axis=axis + (axis >= d), **params), d
    return rule


def keep_axes(ct, shape, axes, keepdims):
    """Reinsert reduced axes (as size 1) so ``ct`` broadcasts against ``shape``."""
    if keepdims:
        return ct
    return reshape(ct, _reduced_shape(shape, axes, True))


def _sum_shape(x, axes, keepdims):
    return _reduced_shape(x.shape, axes, keepdims), _accumulate_dtype(x.dtype)


# --------------------------------------------------------------------------- #
# sum: linear; its transpose broadcasts the cotangent back.
# --------------------------------------------------------------------------- #
reduce_sum_p = Primitive("reduce_sum")
# the array's own method: NumPy's and CuPy's, without np.sum's Python-level dispatch
reduce_sum_p.impl = lambda xp, x, axes, keepdims: x.sum(axis=axes, keepdims=keepdims)
reduce_sum_p.shape_rule = _sum_shape
deflinear(reduce_sum_p, lambda ct, x, axes, keepdims: broadcast_to(
    keep_axes(ct, x.shape, axes, keepdims), x.shape))
reduce_sum_p.batch = _reduce_batch(reduce_sum_p)


def reduce_sum(x, axes, keepdims=False):
    return reduce_sum_p.bind(x, axes=axes, keepdims=keepdims)


# --------------------------------------------------------------------------- #
# max / min: the cotangent goes to the arg-extremes, split evenly at ties
# (like JAX; keeps max(x, x) = x with derivative 1 and JVP = VJP transposed).
# --------------------------------------------------------------------------- #
def _extreme_weights(out, x, axes, keepdims):
    from .elementwise import convert
    mask = convert(x == keep_axes(out, x.shape, axes, keepdims), x.dtype)
    return mask / reduce_sum(mask, axes, keepdims=True)


def _extreme_vjp(out, x, axes, keepdims):
    def vjp(ct):
        return (keep_axes(ct, x.shape, axes, keepdims) * _extreme_weights(out, x, axes,
                                                                          keepdims),)
    return vjp


def _extreme_jvp(tangents, out, x, axes, keepdims):
    return reduce_sum(tangents[0] * _extreme_weights(out, x, axes, keepdims), axes, keepdims)


def _extreme(name, np_name):
    prim = Primitive(name)
    prim.impl = lambda xp, x, axes, keepdims: getattr(xp, np_name)(x, axis=axes,
                                                                     keepdims=keepdims)
    prim.shape_rule = lambda x, axes, keepdims: (_reduced_shape(x.shape, axes, keepdims),
                                                 x.dtype)
    prim.vjp = _extreme_vjp
    prim.jvp = _extreme_jvp
    prim.batch = _reduce_batch(prim)
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


# --------------------------------------------------------------------------- #
# cumsum: linear; the transpose of a running sum is the running sum taken the
# other way (``reverse``).
# --------------------------------------------------------------------------- #
def _scan_impl(np_name):
    def impl(xp, x, axis, reverse):
        fn = getattr(xp, np_name)
        if reverse:
            return xp.flip(fn(xp.flip(x, axis), axis=axis), axis)
        return fn(x, axis=axis)
    return impl


cumsum_p = Primitive("cumsum")
cumsum_p.impl = _scan_impl("cumsum")
cumsum_p.shape_rule = lambda x, axis, reverse: (x.shape, _accumulate_dtype(x.dtype))
deflinear(cumsum_p, lambda ct, x, axis, reverse: cumsum(ct, axis, not reverse))
cumsum_p.batch = _along_axis_batch(cumsum_p)


def cumsum(x, axis, reverse=False):
    return cumsum_p.bind(x, axis=axis, reverse=reverse)


# --------------------------------------------------------------------------- #
# cumprod.  The forward pass is the backend's cumprod.  The rules follow the
# doubling scan y <- y * shift(y, d) for d = 1, 2, 4, ... (Hillis-Steele), whose
# stages are plain products: the derivative never divides by x, so it is exact
# with zeros in the input, and, being a polynomial in x built from funcgrad
# ops, so are derivatives of every order.  Cost O(n log n) per slice.
# --------------------------------------------------------------------------- #
cumprod_p = Primitive("cumprod")
cumprod_p.impl = _scan_impl("cumprod")
cumprod_p.shape_rule = lambda x, axis, reverse: (x.shape, _accumulate_dtype(x.dtype))


def _shift(v, d, axis, reverse, fill):
    """``v`` moved ``d`` places along the scan direction; ``fill`` enters behind."""
    from .indexing import getitem
    from .shape_ops import pad_constant
    n = v.shape[axis]
    pre = (slice(None),) * axis
    widths = [(0, 0)] * v.ndim
    if reverse:
        widths[axis] = (0, d)
        return pad_constant(getitem(v, pre + (slice(d, n),)), widths, fill)
    widths[axis] = (d, 0)
    return pad_constant(getitem(v, pre + (slice(0, n - d),)), widths, fill)


def _doubling_stages(x, axis, reverse):
    """[(d, y)]: the scan's inputs y at each doubling step d (y starts as x)."""
    stages = []
    y = x
    d = 1
    while d < x.shape[axis]:
        stages.append((d, y))
        y = y * _shift(y, d, axis, reverse, 1.0)
        d *= 2
    return stages


def _cumprod_jvp(tangents, out, x, axis, reverse):
    t = tangents[0]
    for d, y in _doubling_stages(x, axis, reverse):
        # d(y * S y) = dy * S y + y * S dy
        t = t * _shift(y, d, axis, reverse, 1.0) + y * _shift(t, d, axis, reverse, 0.0)
    return t


def _cumprod_vjp(out, x, axis, reverse):
    def vjp(ct):
        for d, y in reversed(_doubling_stages(x, axis, reverse)):
            # transpose of the stage above; a shift's transpose shifts back.
            ct = ct * _shift(y, d, axis, reverse, 1.0) + _shift(ct * y, d, axis,
                                                                not reverse, 0.0)
        return (ct,)
    return vjp


cumprod_p.vjp = _cumprod_vjp
cumprod_p.jvp = _cumprod_jvp
cumprod_p.batch = _along_axis_batch(cumprod_p)


def cumprod(x, axis, reverse=False):
    return cumprod_p.bind(x, axis=axis, reverse=reverse)


# --------------------------------------------------------------------------- #
# prod.  d prod / d x_j = prod_{k != j} x_k, the product of exclusive running
# products from both ends: exact with zeros (never out / x), O(n) per slice.
# --------------------------------------------------------------------------- #
reduce_prod_p = Primitive("reduce_prod")
reduce_prod_p.impl = lambda xp, x, axes, keepdims: xp.prod(x, axis=axes, keepdims=keepdims)
reduce_prod_p.shape_rule = _sum_shape


def _exclusive_cumprod(x, axis, reverse):
    """prod of the elements strictly before each one (strictly after if ``reverse``)."""
    from .indexing import getitem
    from .shape_ops import concatenate
    from .creation import ones_like
    n = x.shape[axis]
    pre = (slice(None),) * axis
    one = ones_like(getitem(x, pre + (slice(0, 1),)))
    if n == 1:
        return one
    if reverse:
        rest = cumprod(getitem(x, pre + (slice(1, None),)), axis, True)
        return concatenate([rest, one], axis)
    rest = cumprod(getitem(x, pre + (slice(0, n - 1),)), axis, False)
    return concatenate([one, rest], axis)


def prod_of_others(x, axes):
    """``prod_{k != j} x_k`` over ``axes`` for every element ``x_j`` (shape of ``x``)."""
    if len(axes) == 1:
        (ax,) = axes
        return _exclusive_cumprod(x, ax, False) * _exclusive_cumprod(x, ax, True)
    # Several axes: move them to the end and flatten them into one.
    keep = [a for a in range(x.ndim) if a not in axes]
    order = tuple(keep) + tuple(axes)
    xt = transpose(x, order)
    flat = reshape(xt, tuple(xt.shape[:len(keep)]) + (-1,))
    others = prod_of_others(flat, (flat.ndim - 1,))
    return transpose(reshape(others, xt.shape), tuple(np.argsort(order).tolist()))


def _prod_vjp(out, x, axes, keepdims):
    return lambda ct: (keep_axes(ct, x.shape, axes, keepdims) * prod_of_others(x, axes),)


reduce_prod_p.vjp = _prod_vjp
reduce_prod_p.jvp = lambda tangents, out, x, axes, keepdims: reduce_sum(
    tangents[0] * prod_of_others(x, axes), axes, keepdims)
reduce_prod_p.batch = _reduce_batch(reduce_prod_p)


def reduce_prod(x, axes, keepdims=False):
    return reduce_prod_p.bind(x, axes=axes, keepdims=keepdims)


def reduce(prim, x, axis, keepdims, op):
    """Normalise ``axis`` and bind a reduction (shared by the fnp wrappers)."""
    axes = normalize_axes(axis, x.ndim, op)
    if not axes and prim not in (reduce_sum_p, reduce_prod_p):
        return x
    return prim.bind(x, axes=axes, keepdims=bool(keepdims))
