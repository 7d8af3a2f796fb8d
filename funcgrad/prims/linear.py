"""The affine map ``linear(x, w, b) = x @ w.T + b``, fused into one primitive.

``nn.Linear`` is the most common layer there is, and written as primitives it
is three (transpose, matmul, add) with three graph nodes, a broadcast
cotangent to sum back, and a transposed-weight cotangent to lay out again.
As one primitive it records one node, runs one GEMM over the flattened
leading dimensions, adds the bias in place into the fresh product, and its
VJP gives each cotangent in its operand's own (row-major) layout:

    ct_x = ct @ w        ct_w = ct2.T @ x2        ct_b = sum(ct2, axis=0)

where ``ct2``/``x2`` are ``ct``/``x`` with their leading dimensions
flattened.  Shapes: ``x`` is ``(*, k)`` (at least 1-D), ``w`` is ``(n, k)``,
``b`` is ``(n,)`` or absent; the output is ``(*, n)``.
"""
from __future__ import annotations

import math

import numpy as np

from ..core import Primitive
from .elementwise import add
from .products import _mm
from .reductions import reduce_sum
from .shape_ops import moveaxis, reshape, transpose


def _rows(shape):
    return math.prod(shape)


def _linear_impl(xp, x, w, b=None):
    lead = x.shape[:-1]
    if len(lead) > 1:  # one GEMM over all leading dimensions, not one per batch entry
        out = xp.matmul(x.reshape((_rows(lead), x.shape[-1])), w.T)
        out = out.reshape(lead + (w.shape[0],))
    else:
        out = xp.matmul(x, w.T)
    if b is not None:
        if xp.result_type(out, b) == out.dtype:
            out += b  # the product is a fresh array: add the bias in place
        else:
            out = out + b
    return out


def _linear_shape(x, w, b=None):
    dtypes = [x.dtype, w.dtype] + ([b.dtype] if b is not None else [])
    return tuple(x.shape[:-1]) + (w.shape[0],), np.result_type(*dtypes)


linear_p = Primitive("linear")
linear_p.impl = _linear_impl
linear_p.shape_rule = _linear_shape


def _linear_vjp(out, x, w, b=None, *, needs):
    need_x, need_w = needs[0], needs[1]
    need_b = len(needs) > 2 and needs[2]
    x_shape = tuple(x.shape)
    n, k = w.shape
    flat = len(x_shape) != 2  # 1-D x, or leading dims to flatten
    rows = _rows(x_shape[:-1])
    rw = w if need_x else None  # keep only what the wanted cotangents use
    rx = x if need_w else None

    def vjp(ct):
        concrete = ct.__class__ is _ndarray and (rw is None or rw.__class__ is _ndarray) \
            and (rx is None or rx.__class__ is _ndarray)
        mm, re, tr, sum0 = _ARRAY_OPS if concrete else _PRIM_OPS
        ct2 = re(ct, (rows, n)) if flat else ct
        ct_x = ct_w = ct_b = None
        if need_x:
            ct_x = mm(ct2, rw)
            if flat:
                ct_x = re(ct_x, x_shape)
        if need_w:
            ct_w = mm(tr(ct2), re(rx, (rows, k)) if flat else rx)
        if need_b:
            ct_b = sum0(ct2)
        return (ct_x, ct_w) if len(needs) == 2 else (ct_x, ct_w, ct_b)
    return vjp


# The cotangents' operations (matmul, reshape, transpose, sum over rows): NumPy's
# own on concrete NumPy arrays -- nothing differentiates through them, and a bind
# would cost more than the small products -- and primitives for traced values, so
# that the rule differentiates again.  Both give the same bits.
_ARRAY_OPS = (np.matmul, lambda a, shape: a.reshape(shape), lambda a: a.T,
              lambda a: a.sum(axis=(0,), keepdims=False))
_PRIM_OPS = (_mm, reshape, lambda a: transpose(a, (1, 0)), lambda a: reduce_sum(a, (0,)))


_ndarray = np.ndarray


linear_p.vjp = _linear_vjp
linear_p.vjp_needs = True


def _linear_jvp(tangents, out, x, w, b=None):
    tx, tw = tangents[0], tangents[1]
    tb = tangents[2] if len(tangents) > 2 else None
    acc = None if tx is None else linear_p.bind(tx, w)  # linear in x ...
    if tw is not None:  # ... and in w
        r = linear_p.bind(x, tw)
        acc = r if acc is None else add(acc, r)
    if tb is not None:  # broadcast against the output by the forward-mode trace
        acc = tb if acc is None else add(acc, tb)
    return acc


linear_p.jvp = _linear_jvp


def _linear_batch(vals, dims):
    x, w = vals[0], vals[1]
    dx, dw = dims[0], dims[1]
    b = vals[2] if len(vals) > 2 else None
    db = dims[2] if len(dims) > 2 else None
    if dx is not None:
        x = moveaxis(x, dx, 0)
    if dw is None:
        # A shared weight: the batch is one more leading dimension of x.
        out = linear_p.bind(x, w) if db is not None or b is None else linear_p.bind(x, w, b)
        batched = dx is not None  # else only the bias is batched (added below)
    else:
        # Per-example weights: one batched product x[i] @ w[i].T.
        w = moveaxis(w, dw, 0)
        size, n, k = w.shape
        lead = tuple(x.shape[1:-1]) if dx is not None else tuple(x.shape[:-1])
        rows = _rows(lead)
        x3 = reshape(x, (size, rows, k)) if dx is not None else reshape(x, (rows, k))
        out = reshape(_mm(x3, transpose(w, (0, 2, 1))), (size,) + lead + (n,))
        batched = True
    if db is not None:
        b = moveaxis(b, db, 0)
        ndim_out = out.ndim + (not batched)
        b = reshape(b, (b.shape[0],) + (1,) * (ndim_out - 2) + (b.shape[-1],))
        out = add(out, b)
    elif b is not None and dw is not None:
        out = add(out, b)  # an unbatched bias broadcasts over the batch
    return out, 0


linear_p.batch = _linear_batch


def linear(x, w, b=None):
    """``x @ w.T + b`` as one primitive (shapes checked by the caller, ``F.linear``)."""
    return linear_p.bind(x, w) if b is None else linear_p.bind(x, w, b)
