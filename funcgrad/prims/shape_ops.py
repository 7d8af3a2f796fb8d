"""Shape primitives: reshape, broadcast_to, transpose, concatenate, pad.

All five are linear (``pad`` jointly in the array and its fill value), so
each declares its transpose once and gets both derivative modes from it.  Parameters are normalised by the
wrappers (no ``-1`` in shapes, non-negative axes as tuples) so that equal
operations have equal, hashable parameters -- the jit cache relies on that.
"""
from __future__ import annotations

import math

import numpy as np

from ..core import Primitive
from ._rules import deflinear


def _normalize_axis(axis, ndim, op):
    if not -ndim <= axis < max(ndim, 1):
        raise np.exceptions.AxisError(
            f"{op}: axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim if ndim else 0


def normalize_axes(axis, ndim, op):
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(sorted(_normalize_axis(int(a), ndim, op) for a in axis))
        if len(set(axes)) != len(axes):
            raise ValueError(f"{op}: repeated axis in {axis}")
        return axes
    return (_normalize_axis(int(axis), ndim, op),)


# --------------------------------------------------------------------------- #
# reshape
# --------------------------------------------------------------------------- #
reshape_p = Primitive("reshape")
reshape_p.impl = lambda xp, x, shape: xp.reshape(x, shape)
reshape_p.shape_rule = lambda x, shape: (shape, x.dtype)
deflinear(reshape_p, lambda ct, x, shape: reshape(ct, x.shape))


def _reshape_batch(vals, dims, shape):
    x, d = vals[0], dims[0]
    x = moveaxis(x, d, 0) if d != 0 else x
    return reshape(x, (x.shape[0],) + tuple(shape)), 0


reshape_p.batch = _reshape_batch


def resolve_shape(shape, size, op="reshape", from_shape=None):
    """``shape`` with its one ``-1`` filled in, or a clear error."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(int(s) for s in shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise ValueError(f"{op}: can only specify one unknown dimension (-1), got {shape}")
    known = math.prod([s for s in shape if s != -1])
    if unknown:
        if known == 0 or size % known:
            raise ValueError(f"{op}: cannot reshape array of size {size} "
                             f"(shape {from_shape}) into shape {shape}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    elif known != size:
        raise ValueError(f"{op}: cannot reshape array of size {size} "
                         f"(shape {from_shape}) into shape {shape}")
    return shape


def reshape(x, shape):
    old = tuple(x.shape)
    if type(shape) is not tuple or -1 in shape or math.prod(shape) != math.prod(old):
        shape = resolve_shape(shape, math.prod(old), from_shape=old)  # or a clear error
    if old == shape:
        return x
    return reshape_p.bind(x, shape=shape)


def _size(x):
    return math.prod(x.shape)


# --------------------------------------------------------------------------- #
# broadcast_to; its transpose is sum_to (which the backward pass also uses)
# --------------------------------------------------------------------------- #
broadcast_to_p = Primitive("broadcast_to")
broadcast_to_p.impl = lambda xp, x, shape: xp.broadcast_to(x, shape)
broadcast_to_p.shape_rule = lambda x, shape: (shape, x.dtype)
deflinear(broadcast_to_p, lambda ct, x, shape: sum_to(ct, x.shape))


def _broadcast_batch(vals, dims, shape):
    x, d = vals[0], dims[0]
    x = moveaxis(x, d, 0) if d != 0 else x
    pad = len(shape) - (x.ndim - 1)
    x = reshape(x, (x.shape[0],) + (1,) * pad + tuple(x.shape[1:]))
    return broadcast_to(x, (x.shape[0],) + tuple(shape)), 0


broadcast_to_p.batch = _broadcast_batch


def broadcast_to(x, shape):
    shape = tuple(int(s) for s in shape)
    if tuple(x.shape) == shape:
        return x
    try:
        np.broadcast_shapes(tuple(x.shape), shape)
        if len(shape) < len(x.shape) or np.broadcast_shapes(tuple(x.shape), shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast an array of shape "
                         f"{tuple(x.shape)} to shape {shape}: each dimension must "
                         "match or be 1 in the input, and the input cannot have "
                         "more dimensions than the target") from None
    return broadcast_to_p.bind(x, shape=shape)


def sum_to(x, shape):
    """Sum ``x`` over the axes broadcasting added to ``shape`` (undo broadcast)."""
    shape = tuple(shape)
    if tuple(x.shape) == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
    from .reductions import reduce_sum
    out = reduce_sum(x, axes, keepdims=False) if axes else x
    if tuple(out.shape) != shape:
        out = reshape(out, shape)
    return out


# --------------------------------------------------------------------------- #
# transpose (permute axes)
# --------------------------------------------------------------------------- #
transpose_p = Primitive("transpose")
transpose_p.impl = lambda xp, x, axes: xp.transpose(x, axes)
transpose_p.shape_rule = lambda x, axes: (tuple(x.shape[a] for a in axes), x.dtype)
deflinear(transpose_p, lambda ct, x, axes: transpose(ct, tuple(np.argsort(axes).tolist())))


def _transpose_batch(vals, dims, axes):
    x, d = vals[0], dims[0]
    x = moveaxis(x, d, 0) if d != 0 else x
    return transpose_p.bind(x, axes=(0,) + tuple(a + 1 for a in axes)), 0


transpose_p.batch = _transpose_batch


def transpose(x, axes=None):
    nd = x.ndim
    if axes is None:
        axes = tuple(range(nd))[::-1]
    else:
        axes = tuple(_normalize_axis(int(a), nd, "transpose") for a in axes)
        if sorted(axes) != list(range(nd)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the "
                             f"{nd} axes of an array of shape {tuple(x.shape)}")
    if axes == tuple(range(nd)):
        return x
    return transpose_p.bind(x, axes=axes)


def moveaxis(x, source, destination):
    nd = x.ndim
    src = _normalize_axis(source, nd, "moveaxis")
    dst = _normalize_axis(destination, nd, "moveaxis")
    order = [a for a in range(nd) if a != src]
    order.insert(dst, src)
    return transpose(x, tuple(order))


def expand_dims(x, axis):
    shape = list(x.shape)
    nd = len(shape) + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    for a in normalize_axes(axis, nd, "expand_dims"):
        shape.insert(a, 1)
    return reshape(x, tuple(shape))


# --------------------------------------------------------------------------- #
# concatenate (variadic, linear in each input)
# --------------------------------------------------------------------------- #
concatenate_p = Primitive("concatenate")
concatenate_p.impl = lambda xp, *xs, axis: xp.concatenate(xs, axis=axis)


def _concat_shape(*xs, axis):
    shape = list(xs[0].shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return tuple(shape), np.result_type(*[x.dtype for x in xs])


concatenate_p.shape_rule = _concat_shape


def _concat_vjp(out, *xs, axis):
    sizes = [x.shape[axis] for x in xs]
    return lambda ct: tuple(split_sizes(ct, sizes, axis))


def _concat_jvp(tangents, out, *xs, axis):
    ts = [t if t is not None else _zeros_like(x) for t, x in zip(tangents, xs)]
    return concatenate_p.bind(*ts, axis=axis)


def _concat_batch(vals, dims, axis):
    size = next(v.shape[d] for v, d in zip(vals, dims) if d is not None)
    from ..batching import bdim_at_front
    return concatenate_p.bind(*[bdim_at_front(v, d, size) for v, d in zip(vals, dims)],
                              axis=axis + 1), 0


concatenate_p.vjp = _concat_vjp
concatenate_p.jvp = _concat_jvp
concatenate_p.batch = _concat_batch


def _zeros_like(x):
    from .creation import zeros_like
    return zeros_like(x)


def concatenate(xs, axis=0):
    xs = list(xs)
    if not xs:
        raise ValueError("concatenate: need at least one array to concatenate")
    nd = xs[0].ndim
    if nd == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
    axis = _normalize_axis(axis, nd, "concatenate")
    for i, x in enumerate(xs):
        if x.ndim != nd or any(a != b for k, (a, b) in enumerate(zip(x.shape, xs[0].shape))
                               if k != axis):
            raise ValueError(
                f"concatenate: all input array dimensions except for the concatenation "
                f"axis ({axis}) must match, but array 0 has shape {tuple(xs[0].shape)} "
                f"and array {i} has shape {tuple(x.shape)}")
    if len(xs) == 1:
        return xs[0]
    return concatenate_p.bind(*xs, axis=axis)


def split_sizes(x, sizes, axis):
    """Split ``x`` along ``axis`` into pieces of the given sizes (by slicing)."""
    from .indexing import getitem
    out = []
    start = 0
    for s in sizes:
        idx = (slice(None),) * axis + (slice(start, start + s),)
        out.append(getitem(x, idx))
        start += s
    return out


def stack(xs, axis=0):
    """Stack arrays of equal shape along a new ``axis``."""
    xs = list(xs)
    if not xs:
        raise ValueError("stack: need at least one array to stack")
    shape0 = tuple(xs[0].shape)
    for i, x in enumerate(xs):
        if tuple(x.shape) != shape0:
            raise ValueError(f"stack: all input arrays must have the same shape, but "
                             f"array 0 has shape {shape0} and array {i} has shape "
                             f"{tuple(x.shape)}")
    axis = _normalize_axis(axis, len(shape0) + 1, "stack")
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis) if len(xs) > 1 \
        else expand_dims(xs[0], axis)


def stack_any(xs, dtype=None):
    """``asarray`` of a (nested) list mixing traced values and numbers."""
    from .creation import asarray
    items = [stack_any(x, dtype) if isinstance(x, (list, tuple)) else asarray(x, dtype)
             for x in xs]
    return stack(items)


# --------------------------------------------------------------------------- #
# pad (constant mode): out = x framed by the scalar c.  Linear in (x, c)
# jointly: the cotangent of x is the slice of ct where x sits, that of c the
# sum of ct over the frame.  ``widths`` holds one (before, after) pair per axis.
# --------------------------------------------------------------------------- #
def _pad_impl(xp, x, c, widths):
    shape = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape, widths))
    out = xp.full(shape, c, dtype=x.dtype)
    out[_interior(x.shape, widths)] = x
    return out


def _interior(shape, widths):
    return tuple(slice(lo, lo + s) for s, (lo, _) in zip(shape, widths))


pad_p = Primitive("pad")
pad_p.impl = _pad_impl
pad_p.shape_rule = lambda x, c, widths: (
    tuple(s + lo + hi for s, (lo, hi) in zip(x.shape, widths)), x.dtype)


def _pad_vjp(out, x, c, widths, needs):
    from .indexing import getitem
    from .reductions import reduce_sum
    inner = _interior(x.shape, widths)
    need_c = needs[1]

    def vjp(ct):
        ct_x = getitem(ct, inner)
        if not need_c:
            return ct_x, None
        every = tuple(range(ct.ndim))
        return ct_x, reduce_sum(ct, every) - reduce_sum(ct_x, every)
    return vjp


def _pad_jvp(tangents, out, x, c, widths):
    tx, tc = tangents
    return pad_p.bind(_zeros_like(x) if tx is None else tx, 0.0 if tc is None else tc,
                      widths=widths)


def _pad_batch(vals, dims, widths):
    from ..batching import bdim_at_front
    (x, c), (xd, cd) = vals, dims
    size = x.shape[xd] if xd is not None else c.shape[cd]
    x = bdim_at_front(x, xd, size)
    widths_b = ((0, 0),) + tuple(widths)
    if cd is None:
        return pad_p.bind(x, c, widths=widths_b), 0
    # A different fill per example: pad with 0, then add c times the frame's mask.
    from .creation import zeros_like
    frame = pad_p.bind(zeros_like(x, shape=tuple(x.shape[1:])), 1, widths=widths)
    c = reshape(moveaxis(c, cd, 0) if cd else c, (size,) + (1,) * (x.ndim - 1))
    return pad_p.bind(x, 0, widths=widths_b) + c * frame, 0


pad_p.vjp = _pad_vjp
pad_p.vjp_needs = True
pad_p.jvp = _pad_jvp
pad_p.batch = _pad_batch


def pad_constant(x, widths, value=0):
    """``x`` framed by ``value``: ``widths`` is one (before, after) pair of ints per axis."""
    widths = tuple((int(lo), int(hi)) for lo, hi in widths)
    if all(lo == 0 and hi == 0 for lo, hi in widths):
        return x
    return pad_p.bind(x, value, widths=widths)
