"""Pooling primitives: max and sum over sliding windows, in 1-, 2- and 3-D.

They work on the trailing ``len(kernel)`` dimensions of an array with any
leading dimensions, so batching only moves the batch axis among those.
Parameters are normalised tuples, ``padding`` one ``(before, after)`` pair
per window dimension; the wrappers in :mod:`funcgrad.numpy.conv` express
``ceil_mode`` as extra padding after each dimension, so the primitives always
use the floor formula of the output size.  Each implementation loops over the
kernel offsets (``prod(kernel)`` iterations, each one strided-slice operation
vectorised over every window), never over pixels; ``max_pool`` is separable
and loops over each dim's offsets in turn (``sum(kernel)`` iterations).

``max_pool`` takes the maximum over each window (padding is ``-inf``).  Its
derivative flows to the *first* maximal element of each window in row-major
kernel order -- PyTorch's rule, with the last NaN winning where there is one
-- found from the maxima by ``max_pool_argmax`` (no derivative; a running AND
of "differs from the maximum" masks, three passes per kernel offset; int8
offsets are the residual the VJP keeps) and routed by
the linear pair ``max_pool_scatter`` / ``max_pool_gather``, each the other's
transpose, so every order of derivative works.

``sum_pool`` / ``sum_pool_transpose`` are the linear window sum and its
adjoint; average pooling is ``sum_pool`` divided by a constant divisor
(:func:`funcgrad.numpy.conv.avg_pool`).
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive
from . import _windows as W
from ._rules import deflinear
from .shape_ops import moveaxis


# --------------------------------------------------------------------------- #
# Pooling helpers: windows over the trailing len(kernel) dims
# --------------------------------------------------------------------------- #
def pool_out_shape(x_shape, kernel, stride, padding, dilation):
    """The window counts along the trailing ``len(kernel)`` dims of ``x_shape``."""
    return W.out_shape(x_shape[len(x_shape) - len(kernel):], kernel, stride, padding, dilation)


def _lowest(dtype):
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


def _pool_batch_unary(prim):
    """Pools take any leading dims: a leading batch axis stays where it is."""
    def rule(vals, dims, **params):
        x, d = vals[0], dims[0]
        if d >= x.ndim - len(params["kernel"]):
            x, d = moveaxis(x, d, 0), 0
        return prim.bind(x, **params), d
    return rule


def _pool_batch_binary(prim):
    def rule(vals, dims, **params):
        from ..batching import bdim_at_front
        size = next(v.shape[d] for v, d in zip(vals, dims) if d is not None)
        a, b = (bdim_at_front(v, d, size) for v, d in zip(vals, dims))
        return prim.bind(a, b, **params), 0
    return rule


# --------------------------------------------------------------------------- #
# max_pool: the maximum of each window (padding is -inf)
# --------------------------------------------------------------------------- #
def _max_pool_impl(xp, x, *, kernel, stride, padding, dilation):
    # A box maximum is separable: one 1-D pass per window dim, first dim
    # first, so sum(kernel) - nd operations instead of prod(kernel) - 1, and
    # all but the last read contiguous rows of the shrinking intermediate.
    xpad = W.pad(xp, x, padding, _lowest(x.dtype))
    nd = len(kernel)
    out, reduced = xpad, False
    for ax, (k, s, d) in enumerate(zip(kernel, stride, dilation)):
        ax -= nd
        o = W.out_size(out.shape[ax], k, s, 0, 0, d)
        lead = (slice(None),) * (out.ndim + ax)
        sls = [lead + (slice(j * d, j * d + s * (o - 1) + 1, s),) for j in range(k)]
        if k == 1:
            out = out[sls[0]]
            continue
        red = xp.maximum(out[sls[0]], out[sls[1]])
        for sl in sls[2:]:
            xp.maximum(red, out[sl], out=red)
        out, reduced = red, True
    # a size-1 kernel dim leaves a strided view: the result is always a fresh array
    return xp.ascontiguousarray(out) if reduced else out.copy()


def _pool_shape(x, *, kernel, stride, padding, dilation):
    return (tuple(x.shape[:x.ndim - len(kernel)]) +
            pool_out_shape(x.shape, kernel, stride, padding, dilation), x.dtype)


max_pool_p = Primitive("max_pool")
max_pool_p.impl = _max_pool_impl
max_pool_p.shape_rule = _pool_shape


def _max_pool_vjp(out, x, **p):
    idx = max_pool_argmax_p.bind(x, out, flat=False, **p)
    in_shape = tuple(x.shape[x.ndim - len(p["kernel"]):])
    return lambda ct: (max_pool_scatter_p.bind(ct, idx, in_shape=in_shape, **p),)


max_pool_p.vjp = _max_pool_vjp
max_pool_p.jvp = lambda tangents, out, x, **p: max_pool_gather_p.bind(
    tangents[0], max_pool_argmax_p.bind(x, out, flat=False, **p), **p)
max_pool_p.batch = _pool_batch_unary(max_pool_p)


def max_pool(x, *, kernel, stride, padding, dilation):
    """Bind ``max_pool`` (normalised parameters; see :func:`funcgrad.numpy.conv.max_pool`)."""
    return max_pool_p.bind(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation)


# --------------------------------------------------------------------------- #
# max_pool_argmax(x, m): where each window's maximum ``m`` (max_pool's output)
# first occurs -- or its last NaN, as PyTorch.  No derivative.  flat=False:
# the row-major kernel offset (int8 when it fits: the VJP's residual);
# flat=True: the int64 flat index into the unpadded spatial dims of ``x``,
# as PyTorch's return_indices.
# --------------------------------------------------------------------------- #
def _offset_dtype(kernel):
    return np.dtype(np.int8) if W.prod(kernel) <= 127 else np.dtype(np.int32)


def _max_pool_argmax_impl(xp, x, m, *, kernel, stride, padding, dilation, flat):
    xpad = W.pad(xp, x, padding, _lowest(x.dtype))
    nd = len(kernel)
    out_shape = tuple(m.shape[m.ndim - nd:])
    sls = W.offset_slices(kernel, stride, dilation, out_shape)
    # Knowing the maxima, the first match is the number of leading offsets
    # whose element differs from the maximum: a running AND of "differs"
    # masks, added up (3 passes per offset, no data-dependent branch).
    dtype = _offset_dtype(kernel)
    if len(sls) == 1:
        idx = xp.zeros(m.shape, dtype=dtype)
    else:
        differs = xpad[sls[0]] != m
        idx = differs.astype(dtype)
        tmp = xp.empty_like(differs)
        for k in range(1, len(sls) - 1):
            xp.not_equal(xpad[sls[k]], m, out=tmp)
            differs &= tmp
            idx += differs
    if x.dtype.kind in "fc" and xp.isnan(m).any():
        for k in range(len(sls)):  # ascending: the last NaN wins
            idx = xp.where(xp.isnan(xpad[sls[k]]), k, idx)
    if not flat:
        return idx
    spatial = x.shape[x.ndim - nd:]
    sizes = [W.prod(spatial[i + 1:]) for i in range(nd)]
    offsets = [sum(o * d * sz for o, d, sz in zip(offs, dilation, sizes))
               for offs in W.kernel_offsets(kernel)]
    base = 0
    for i in range(nd):
        shape = [1] * nd
        shape[i] = out_shape[i]
        start = (xp.arange(out_shape[i], dtype=np.int64) * stride[i] - padding[i][0]) * sizes[i]
        base = base + start.reshape(shape)
    return xp.asarray(offsets, dtype=np.int64)[idx] + base


max_pool_argmax_p = Primitive("max_pool_argmax", nondiff=True)
max_pool_argmax_p.impl = _max_pool_argmax_impl
max_pool_argmax_p.shape_rule = lambda x, m, *, flat, kernel, **p: (
    tuple(m.shape), np.dtype(np.int64) if flat else _offset_dtype(kernel))
max_pool_argmax_p.batch = _pool_batch_binary(max_pool_argmax_p)


# --------------------------------------------------------------------------- #
# max_pool_scatter: ct routed to the recorded position of each window (linear
# in ct; overlapping windows accumulate).  max_pool_gather: its transpose.
# --------------------------------------------------------------------------- #
def _disjoint(kernel, stride, dilation):
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


def _max_pool_scatter_impl(xp, ct, idx, *, in_shape, kernel, stride, padding, dilation):
    nd = len(kernel)
    out_shape = tuple(ct.shape[ct.ndim - nd:])
    padded = W.padded_shape(in_shape, padding)
    # Windows that tile the padded input write every element once: no zeros.
    tiled = all(k == s and (d == 1 or k == 1) and o * s == p for k, s, d, o, p in
                zip(kernel, stride, dilation, out_shape, padded))
    buf = (xp.empty if tiled else xp.zeros)(tuple(ct.shape[:ct.ndim - nd]) + padded,
                                            dtype=ct.dtype)
    sls = W.offset_slices(kernel, stride, dilation, out_shape)
    # ct * (idx == k) is where(idx == k, ct, 0) for finite ct, and much faster
    # (no data-dependent branch); a non-finite ct keeps the exact select.
    exact = not (ct.dtype.kind == "f" and bool(xp.isfinite(ct).all()))
    if _disjoint(kernel, stride, dilation):  # each element in one window: no accumulation
        for k, sl in enumerate(sls):
            if exact:
                buf[sl] = xp.where(idx == k, ct, 0)
            else:
                xp.multiply(ct, idx == k, out=buf[sl])
    else:
        for k, sl in enumerate(sls):
            buf[sl] += xp.where(idx == k, ct, 0) if exact else ct * (idx == k)
    return W.unpad(xp, buf, padding)


max_pool_scatter_p = Primitive("max_pool_scatter")
max_pool_scatter_p.impl = _max_pool_scatter_impl
max_pool_scatter_p.shape_rule = lambda ct, idx, *, in_shape, kernel, **p: (
    tuple(ct.shape[:ct.ndim - len(kernel)]) + tuple(in_shape), ct.dtype)
deflinear(max_pool_scatter_p, lambda ct, g, idx, *, in_shape, **p: max_pool_gather_p.bind(
    ct, idx, **p))
max_pool_scatter_p.batch = _pool_batch_binary(max_pool_scatter_p)


def _max_pool_gather_impl(xp, g, idx, *, kernel, stride, padding, dilation):
    gpad = W.pad(xp, g, padding)
    sls = W.offset_slices(kernel, stride, dilation, tuple(idx.shape[idx.ndim - len(kernel):]))
    out = gpad[sls[0]]
    if len(sls) == 1:
        return out.copy()
    if g.dtype.kind == "f" and bool(xp.isfinite(g).all()):
        # exactly one k matches per position: a sum of masked products is the
        # select, without a data-dependent branch per element
        out = out * (idx == 0)
        for k in range(1, len(sls)):
            out += gpad[sls[k]] * (idx == k)
        return out
    for k in range(1, len(sls)):
        out = xp.where(idx == k, gpad[sls[k]], out)
    return out


max_pool_gather_p = Primitive("max_pool_gather")
max_pool_gather_p.impl = _max_pool_gather_impl
max_pool_gather_p.shape_rule = lambda g, idx, **p: (tuple(idx.shape), g.dtype)
deflinear(max_pool_gather_p, lambda ct, g, idx, **p: max_pool_scatter_p.bind(
    ct, idx, in_shape=tuple(g.shape[g.ndim - len(p["kernel"]):]), **p))
max_pool_gather_p.batch = _pool_batch_binary(max_pool_gather_p)


# --------------------------------------------------------------------------- #
# sum_pool: the sum of each window (zero padding), and its adjoint
# --------------------------------------------------------------------------- #
def _sum_pool_impl(xp, x, *, kernel, stride, padding, dilation):
    xpad = W.pad(xp, x, padding)
    out = pool_out_shape(xpad.shape, kernel, stride, W.no_padding(len(kernel)), dilation)
    sls = W.offset_slices(kernel, stride, dilation, out)
    if len(sls) == 1:
        return xpad[sls[0]].copy()
    out = xpad[sls[0]] + xpad[sls[1]]
    for sl in sls[2:]:
        out += xpad[sl]
    return out


sum_pool_p = Primitive("sum_pool")
sum_pool_p.impl = _sum_pool_impl
sum_pool_p.shape_rule = _pool_shape
deflinear(sum_pool_p, lambda ct, x, **p: sum_pool_transpose_p.bind(
    ct, in_shape=tuple(x.shape[x.ndim - len(p["kernel"]):]), **p))
sum_pool_p.batch = _pool_batch_unary(sum_pool_p)


def _sum_pool_transpose_impl(xp, y, *, in_shape, kernel, stride, padding, dilation):
    nd = len(kernel)
    padded = W.padded_shape(in_shape, padding)
    buf = xp.zeros(tuple(y.shape[:y.ndim - nd]) + padded, dtype=y.dtype)
    for sl in W.offset_slices(kernel, stride, dilation, tuple(y.shape[y.ndim - nd:])):
        buf[sl] += y
    return W.unpad(xp, buf, padding)


sum_pool_transpose_p = Primitive("sum_pool_transpose")
sum_pool_transpose_p.impl = _sum_pool_transpose_impl
sum_pool_transpose_p.shape_rule = lambda y, *, in_shape, kernel, **p: (
    tuple(y.shape[:y.ndim - len(kernel)]) + tuple(in_shape), y.dtype)
deflinear(sum_pool_transpose_p, lambda ct, y, *, in_shape, **p: sum_pool_p.bind(ct, **p))
sum_pool_transpose_p.batch = _pool_batch_unary(sum_pool_transpose_p)


def sum_pool(x, *, kernel, stride, padding, dilation):
    """Bind ``sum_pool`` (normalised parameters)."""
    return sum_pool_p.bind(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation)


def max_pool_argmax(x, m, *, kernel, stride, padding, dilation, flat=True):
    """Bind ``max_pool_argmax`` (``m``: the pooled maxima); ``flat=True`` gives
    PyTorch's ``return_indices``."""
    return max_pool_argmax_p.bind(x, m, kernel=kernel, stride=stride, padding=padding,
                                  dilation=dilation, flat=flat)
