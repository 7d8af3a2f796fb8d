"""Convolution primitives, in PyTorch's layout, for 1-, 2- and 3-D.

Layout: input ``(N, C_in, *spatial)``, weight ``(C_out, C_in // groups, *kernel)``.
Every parameter is a normalised tuple with one entry per spatial dimension
(``padding`` one ``(before, after)`` pair per dimension, possibly negative,
which crops); the wrappers in :mod:`funcgrad.numpy.conv` validate user input
and build them.  The pooling primitives live in :mod:`funcgrad.prims.pool`.

Three bilinear primitives closed under transposition
    ``conv(x, w) -> y``, ``conv_transpose(y, w) -> x`` (the adjoint of
    ``conv(., w)``; with asymmetric padding it is also PyTorch's
    ``conv_transpose`` with ``output_padding``) and ``conv_weight_grad(x, y) -> w``
    (the adjoint of ``conv(x, .)``).  Each one's two transposes are the other
    two, so derivatives of every order, forward mode and vmap of all of them
    come from these three blocks.

Lowering: strided views and one batched BLAS ``matmul``; no Python loop over
pixels, examples or groups.
    *im2col*: the padded input seen through ``as_strided`` as
    ``(N, C, *kernel, *cols)`` windows -- a view, copied once into the
    operand of one ``matmul`` over examples and groups at once.
    *col2im* (conv_transpose): one ``matmul`` makes window-shaped columns,
    then a loop over kernel offsets adds them back, each iteration one slice
    add vectorised over batch, channels and pixels.
    *Stride 1* (the common case) runs the columns over the flattened padded
    input (:func:`_flat_multipliers`), so copies and adds move long contiguous
    runs instead of short output rows, and may shift the input along its last
    dim only (:func:`_row_windows`): ``kernel[-1]`` shifted copies instead of
    ``prod(kernel)``, the other kernel offsets being strides of a view that
    BLAS reads directly.  That halves the data movement of 3x3 layers with
    a few channels or more, and of every input gradient.  With few channels
    (:func:`_prefer_rows` false, e.g. a first layer on 1-3 input channels)
    the weight gradient takes the full flat columns instead: ``y`` then sits
    on them as it is, and the transposed copy of ``y`` is not needed.
    NumPy's batched ``matmul`` calls BLAS only on operands whose matrices are
    C-contiguous (row-strided is fine; transposed is not), so small operands
    are copied into that layout; the weight gradient sums per-example products
    when those are no larger than the columns (BLAS is slow on one product
    with an inner dimension of N*P).

Batching: a batched input folds into N; a batched weight folds into the
output channels of each group (the group count is unchanged); both batched
fold into the groups (``groups * B``) -- the per-example-gradient case, which
therefore stays one BLAS call.
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive
from . import _windows as W
from ._rules import defbilinear
from .shape_ops import moveaxis, reshape, transpose


# --------------------------------------------------------------------------- #
# Lowering helpers (concrete arrays only)
# --------------------------------------------------------------------------- #
def _flat_multipliers(padded, stride):
    """Stride 1: the columns run over the *flattened* padded input.

    Each kernel offset then reads one contiguous run (offset sum(k*d*m)) of
    length P = sum((out-1)*m) + 1, where m are the row-major multipliers of
    the padded spatial dims.  Positions between output rows are computed too
    (and dropped, or fed zeros in the adjoints): ``padded[-1] / out[-1]``
    times the matmul work.  Returns m, or None for the plain output grid
    (strided convolutions).
    """
    if any(s != 1 for s in stride):
        return None
    return tuple(W.prod(padded[j + 1:]) for j in range(len(padded)))


def _flat_len(out, m):
    return sum((o - 1) * mj for o, mj in zip(out, m)) + 1


def _window_view(xp, xpad, kernel, stride, dilation, out, m):
    """``xpad`` (N, C, *S) seen as (N, C, *kernel, *cols) windows, no copy;
    cols is the output grid, or with multipliers ``m`` one flat axis.  The
    caller copies it (im2col) with ``ascontiguousarray``: a reshape may keep
    overlapping strides, which BLAS rejects."""
    if m is not None:
        xpad = _contiguous_spatial(xp, xpad, m)
    st = xpad.strides
    head = tuple(xpad.shape[:2]) + tuple(kernel)
    kst = tuple(st[:2]) + tuple(a * d for a, d in zip(st[2:], dilation))
    if m is None:
        return W.as_strided(xp, xpad, head + tuple(out),
                            kst + tuple(a * s for a, s in zip(st[2:], stride)))
    return W.as_strided(xp, xpad, head + (_flat_len(out, m),), kst + (st[-1],))


def _contiguous_spatial(xp, x, m):
    # The flat layout needs the row-major multipliers to be the real strides.
    e = x.itemsize
    if x.strides[2:] == tuple(mj * e for mj in m):
        return x
    return xp.ascontiguousarray(x)


def _row_windows(xp, xpad, kernel, dilation, out, m, groups):
    """Stride 1: the windows as a view (N, G, *kernel[:-1], C/G*kernel[-1], P).

    One copy holds the input shifted along its last dim (``kernel[-1]``
    shifts); the other kernel offsets are strides of the view, which BLAS
    reads in place (its rows are P long, ``R`` apart).
    """
    n, c = xpad.shape[:2]
    xf = xp.ascontiguousarray(xpad).reshape(n, c, -1)
    kl, dl = kernel[-1], dilation[-1]
    r = xf.shape[-1] - (kl - 1) * dl
    e = xf.itemsize
    rows = xp.ascontiguousarray(W.as_strided(xp, xf, (n, c, kl, r),
                                             xf.strides[:2] + (dl * e, e)))
    cg = c // groups
    return W.as_strided(
        xp, rows, (n, groups) + tuple(kernel[:-1]) + (cg * kl, _flat_len(out, m)),
        (rows.strides[0], cg * rows.strides[1]) +
        tuple(d * mj * e for d, mj in zip(dilation[:-1], m[:-1])) + (r * e, e))


def _prefer_rows(c, co, kernel):
    """Whether :func:`_row_windows` moves less data than full columns in ``conv``:
    C*kl shifted rows plus prod(kernel[:-1]) partial outputs of C_out rows,
    against C*prod(kernel) column rows."""
    heads = W.prod(kernel[:-1])
    return c * kernel[-1] + heads * co < c * kernel[-1] * heads


def _flat_cols(xp, y, out, m, pad):
    """``y`` (N, C, *out) placed on the flat columns, zeros elsewhere and
    ``pad`` zeros before and after: (N, C, P + 2*pad)."""
    n, c = y.shape[:2]
    yq = xp.zeros((n, c, _flat_len(out, m) + 2 * pad), dtype=y.dtype)
    e = yq.itemsize
    W.as_strided(xp, yq[:, :, pad:], y.shape, yq.strides[:2] + tuple(mj * e for mj in m))[...] = y
    return yq


def _from_cols(xp, yq, out, m):
    """The output grid (N, C, *out), contiguous, from the columns (N, C, P)."""
    if m is None:
        return yq.reshape(tuple(yq.shape[:2]) + tuple(out))
    e = yq.itemsize
    return xp.ascontiguousarray(W.as_strided(
        xp, yq, tuple(yq.shape[:2]) + tuple(out), yq.strides[:2] + tuple(mj * e for mj in m)))


def _transposed_cols(xp, y, out, m, groups):
    """``y`` (N, C, *out) as contiguous (N, groups, P, C/groups): the columns
    transposed, as the right operand of a BLAS matmul wants them."""
    n, c = y.shape[:2]
    cg = c // groups
    grid = m is None
    if grid:
        m = tuple(W.prod(out[j + 1:]) for j in range(len(out)))
    yt = (xp.empty if grid else xp.zeros)((n, groups, _flat_len(out, m), cg), dtype=y.dtype)
    e = yt.itemsize
    W.as_strided(xp, yt, (n, groups, cg) + tuple(out), yt.strides[:2] + (e,) +
                 tuple(mj * cg * e for mj in m))[...] = y.reshape((n, groups, cg) + tuple(out))
    return yt


def _per_example_fits(partial_sums, input_size):
    """Whether the weight gradient may hold N per-example partial sums: up to
    4M elements, or 4 times the input."""
    return partial_sums <= max(1 << 22, 4 * input_size)


def _check_out(op, got, want):
    # The windows are strided views: a mismatched shape would read out of bounds.
    if tuple(got) != tuple(want):
        raise ValueError(f"{op}: the spatial shape {tuple(got)} does not match the "
                         f"convolution's output shape {tuple(want)}")


# --------------------------------------------------------------------------- #
# conv: y = x (*) w   (cross-correlation, as in PyTorch)
# --------------------------------------------------------------------------- #
def _conv_impl(xp, x, w, *, stride, padding, dilation, groups):
    kernel = tuple(w.shape[2:])
    nd = len(kernel)
    xpad = W.pad(xp, x, padding)
    out = W.out_shape(xpad.shape[2:], kernel, stride, W.no_padding(nd), dilation)
    m = _flat_multipliers(xpad.shape[2:], stride)
    n, c = x.shape[:2]
    co = w.shape[0]
    g, cog, cg = groups, co // groups, c // groups
    if m is not None and nd > 1 and _prefer_rows(c, co, kernel):
        rows = _row_windows(xp, xpad, kernel, dilation, out, m, g)
        # wf[g, *head, a, (c, j)] = w[(g, a), c, *head, j]; partial sums per head.
        wf = w.reshape((g, cog, cg) + kernel).transpose(
            (0,) + tuple(range(3, 2 + nd)) + (1, 2, 2 + nd))
        y = xp.matmul(wf.reshape((g,) + kernel[:-1] + (cog, cg * kernel[-1])), rows)
        y = y.sum(axis=tuple(range(2, 1 + nd)))
    else:
        cols = xp.ascontiguousarray(_window_view(xp, xpad, kernel, stride, dilation, out, m))
        cols = cols.reshape(n, g, cg * W.prod(kernel), -1)
        y = xp.matmul(w.reshape(g, cog, -1), cols)  # (N, G, C_out/G, P)
    return _from_cols(xp, y.reshape(n, co, -1), out, m)


def _conv_shape(x, w, *, stride, padding, dilation, groups):
    return ((x.shape[0], w.shape[0]) +
            W.out_shape(x.shape[2:], w.shape[2:], stride, padding, dilation),
            np.result_type(x.dtype, w.dtype))


conv_p = Primitive("conv")
conv_p.impl = _conv_impl
conv_p.shape_rule = _conv_shape
defbilinear(
    conv_p,
    lambda ct, x, w, **p: conv_transpose(ct, w, in_shape=tuple(x.shape[2:]), **p),
    lambda ct, x, w, **p: conv_weight_grad(x, ct, kernel=tuple(w.shape[2:]), **p))


def _conv_batch(vals, dims, *, stride, padding, dilation, groups):
    (x, w), (xd, wd) = vals, dims
    p = dict(stride=stride, padding=padding, dilation=dilation)
    if wd is None:  # fold the batch into N
        x = moveaxis(x, xd, 0)
        b, n = x.shape[:2]
        y = conv(reshape(x, (b * n,) + tuple(x.shape[2:])), w, groups=groups, **p)
        return reshape(y, (b, n) + tuple(y.shape[1:])), 0
    w = moveaxis(w, wd, 0)
    b, co = w.shape[:2]
    rest = tuple(w.shape[2:])
    g = groups
    if xd is None:
        # Each group's output channels become (B, C_out/G): weight (G*B*C_out/G, ...).
        w2 = reshape(_swap01(reshape(w, (b, g, co // g) + rest)), (g * b * (co // g),) + rest)
        y = conv(x, w2, groups=g, **p)
        n, out = y.shape[0], tuple(y.shape[2:])
        y = moveaxis(reshape(y, (n, g, b, co // g) + out), 2, 0)
        return reshape(y, (b, n, co) + out), 0
    x = moveaxis(x, xd, 0)
    b, n, c = x.shape[:3]
    y = conv(reshape(_swap01(x), (n, b * c) + tuple(x.shape[3:])),
             reshape(w, (b * co,) + rest), groups=g * b, **p)
    return reshape(y, (n, b, co) + tuple(y.shape[2:])), 1


conv_p.batch = _conv_batch


def _swap01(x, a=0, b=1):
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, tuple(axes))


def conv(x, w, *, stride, padding, dilation, groups):
    """Bind ``conv`` (normalised parameters; see :func:`funcgrad.numpy.conv.conv`)."""
    return conv_p.bind(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)


# --------------------------------------------------------------------------- #
# conv_transpose: x = conv(., w)^T y  (col2im).  in_shape: x's spatial shape.
# --------------------------------------------------------------------------- #
def _conv_transpose_impl(xp, y, w, *, in_shape, stride, padding, dilation, groups):
    kernel = tuple(w.shape[2:])
    n, co = y.shape[:2]
    out = tuple(y.shape[2:])
    c = groups * w.shape[1]
    padded = W.padded_shape(in_shape, padding)
    _check_out("conv_transpose", out, W.out_shape(padded, kernel, stride,
                                                  W.no_padding(len(kernel)), dilation))
    m = _flat_multipliers(padded, stride)
    cog, cg = co // groups, w.shape[1]
    if m is None:
        wt = xp.ascontiguousarray(xp.swapaxes(w.reshape(groups, cog, -1), 1, 2))
        cols = xp.matmul(wt, y.reshape(n, groups, cog, W.prod(out)))  # (N, G, C/G*K, P)
        cols = cols.reshape((n, c) + kernel + out)
        buf = xp.zeros((n, c) + padded, dtype=cols.dtype)
        for offs, sl in zip(W.kernel_offsets(kernel),
                            W.offset_slices(kernel, stride, dilation, out)):
            buf[sl] += cols[(slice(None), slice(None)) + offs]
        return W.unpad(xp, buf, padding)
    # Stride 1: y shifted along the last kernel dim (kl copies of the flat
    # columns), one matmul with the weight flipped along that dim, then one
    # contiguous add per offset of the other kernel dims.
    kl, dl = kernel[-1], dilation[-1]
    ext = (kl - 1) * dl
    yq = _flat_cols(xp, y, out, m, ext)  # (N, C_out, P + 2*ext)
    q = yq.shape[-1] - ext
    st = yq.strides
    ys = xp.ascontiguousarray(W.as_strided(xp, yq, (n, groups, cog, kl, q),
                                           (st[0], cog * st[1], st[1], dl * st[2], st[2])))
    heads = W.prod(kernel[:-1])
    # wf[g, (head, c), (a, j)] = w[(g, a), c, head, kl - 1 - j]
    wf = w.reshape((groups, cog, cg, heads, kl))[..., ::-1].transpose(0, 3, 2, 1, 4)
    t = xp.matmul(wf.reshape(groups, heads * cg, cog * kl), ys.reshape(n, groups, cog * kl, q))
    t = t.reshape(n, groups, heads, cg, q)
    flat = xp.zeros((n, groups, cg, W.prod(padded)), dtype=t.dtype)
    for h, offs in enumerate(W.kernel_offsets(kernel[:-1])):
        start = sum(o * d * mj for o, d, mj in zip(offs, dilation, m))
        flat[..., start:start + q] += t[:, :, h]
    return W.unpad(xp, flat.reshape((n, c) + padded), padding)


def _conv_transpose_shape(y, w, *, in_shape, stride, padding, dilation, groups):
    return ((y.shape[0], groups * w.shape[1]) + tuple(in_shape),
            np.result_type(y.dtype, w.dtype))


conv_transpose_p = Primitive("conv_transpose")
conv_transpose_p.impl = _conv_transpose_impl
conv_transpose_p.shape_rule = _conv_transpose_shape
defbilinear(
    conv_transpose_p,
    lambda ct, y, w, in_shape, **p: conv(ct, w, **p),
    lambda ct, y, w, in_shape, **p: conv_weight_grad(ct, y, kernel=tuple(w.shape[2:]), **p))


def _conv_transpose_batch(vals, dims, *, in_shape, stride, padding, dilation, groups):
    (y, w), (yd, wd) = vals, dims
    p = dict(in_shape=in_shape, stride=stride, padding=padding, dilation=dilation)
    g = groups
    if wd is None:  # fold the batch into N
        y = moveaxis(y, yd, 0)
        b, n = y.shape[:2]
        x = conv_transpose(reshape(y, (b * n,) + tuple(y.shape[2:])), w, groups=g, **p)
        return reshape(x, (b, n) + tuple(x.shape[1:])), 0
    w = moveaxis(w, wd, 0)
    b, co, cg = w.shape[:3]
    kernel = tuple(w.shape[3:])
    if yd is None:
        # Weight (C_out, B*C/G, *k) with groups G: output channels ordered (G, B, C/G).
        w2 = reshape(transpose(reshape(w, (b, g, co // g, cg) + kernel),
                               (1, 2, 0, 3) + tuple(range(4, 4 + len(kernel)))),
                     (co, b * cg) + kernel)
        x = conv_transpose(y, w2, groups=g, **p)
        n = x.shape[0]
        x = moveaxis(reshape(x, (n, g, b, cg) + tuple(in_shape)), 2, 0)
        return reshape(x, (b, n, g * cg) + tuple(in_shape)), 0
    y = moveaxis(y, yd, 0)
    n = y.shape[1]
    x = conv_transpose(reshape(_swap01(y), (n, b * co) + tuple(y.shape[3:])),
                       reshape(w, (b * co, cg) + kernel), groups=g * b, **p)
    return reshape(x, (n, b, g * cg) + tuple(in_shape)), 1


conv_transpose_p.batch = _conv_transpose_batch


def conv_transpose(y, w, *, in_shape, stride, padding, dilation, groups):
    """Bind ``conv_transpose``: the adjoint of ``conv(., w)`` for inputs of ``in_shape``."""
    return conv_transpose_p.bind(y, w, in_shape=in_shape, stride=stride, padding=padding,
                                 dilation=dilation, groups=groups)


# --------------------------------------------------------------------------- #
# conv_weight_grad: w = conv(x, .)^T y  (correlation of x with y).  kernel: w's.
# --------------------------------------------------------------------------- #
def _conv_weight_grad_impl(xp, x, y, *, kernel, stride, padding, dilation, groups):
    nd = len(kernel)
    xpad = W.pad(xp, x, padding)
    out = tuple(y.shape[2:])
    _check_out("conv_weight_grad", out, W.out_shape(xpad.shape[2:], kernel, stride,
                                                    W.no_padding(nd), dilation))
    m = _flat_multipliers(xpad.shape[2:], stride)
    n, c = x.shape[:2]
    co = y.shape[1]
    g, cog, cg = groups, co // groups, c // groups
    # Per-example products summed over N: BLAS is far faster on those than on
    # one product with an inner dimension N*P (and the copy for it), as long
    # as N partial weight gradients fit.
    per_example = _per_example_fits(n * co * cg * W.prod(kernel), x.size)
    if m is not None and per_example and nd > 1 and not _prefer_rows(cg, cog, kernel):
        # Few channels: full columns beat row windows (as in conv), and ``y``
        # goes on the flat columns as is (no transposed copy): dw = y @ cols^T.
        cols = xp.ascontiguousarray(_window_view(xp, xpad, kernel, stride, dilation, out, m))
        yq = _flat_cols(xp, y, out, m, 0).reshape(n, g, cog, -1)
        dw = xp.matmul(yq, xp.swapaxes(cols.reshape(n, g, cg * W.prod(kernel), -1), 2, 3))
        return dw.sum(axis=0).reshape((co, cg) + kernel)  # (G, C_out/G, C/G*K)
    yt = _transposed_cols(xp, y, out, m, g)  # (N, G, P, C_out/G)
    p = yt.shape[2]
    if m is not None and per_example:
        rows = _row_windows(xp, xpad, kernel, dilation, out, m, g)
        dw = xp.matmul(rows, yt.reshape((n, g) + (1,) * (nd - 1) + (p, cog))).sum(axis=0)
        # (G, *head, (c, j), a) -> (G, a, c, *head, j)
        dw = dw.reshape((g,) + kernel[:-1] + (cg, kernel[-1], cog)).transpose(
            (0, nd + 2, nd) + tuple(range(1, nd)) + (nd + 1,))
        return dw.reshape((co, cg) + kernel)
    win = _window_view(xp, xpad, kernel, stride, dilation, out, m)  # (N, C, *k, *cols)
    if per_example:
        cols = xp.ascontiguousarray(win).reshape(n, g, cg * W.prod(kernel), p)
        dw = xp.matmul(cols, yt).sum(axis=0)
    else:  # one matmul per group contracting (N, P), on windows copied as (C, *k, N, *cols)
        nc = win.ndim - 2 - nd
        win = xp.ascontiguousarray(win.transpose((1,) + tuple(range(2, 2 + nd)) + (0,) +
                                                 tuple(range(2 + nd, 2 + nd + nc))))
        dw = xp.matmul(win.reshape(g, cg * W.prod(kernel), n * p),
                       yt.transpose(1, 0, 2, 3).reshape(g, n * p, cog))
    return xp.swapaxes(dw, 1, 2).reshape((co, cg) + kernel)  # (G, C_out/G, C/G*K)


def _conv_weight_grad_shape(x, y, *, kernel, stride, padding, dilation, groups):
    return ((y.shape[1], x.shape[1] // groups) + tuple(kernel),
            np.result_type(x.dtype, y.dtype))


conv_weight_grad_p = Primitive("conv_weight_grad")
conv_weight_grad_p.impl = _conv_weight_grad_impl
conv_weight_grad_p.shape_rule = _conv_weight_grad_shape
defbilinear(
    conv_weight_grad_p,
    lambda ct, x, y, kernel, **p: conv_transpose(y, ct, in_shape=tuple(x.shape[2:]), **p),
    lambda ct, x, y, kernel, **p: conv(x, ct, **p))


def _conv_weight_grad_batch(vals, dims, *, kernel, stride, padding, dilation, groups):
    (x, y), (xd, yd) = vals, dims
    p = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    g = groups
    if yd is None:
        # Input channels become (G, B, C/G) within each group: result (C_out, B*C/G, *k).
        x = moveaxis(x, xd, 0)
        b, n, c = x.shape[:3]
        sp = tuple(x.shape[3:])
        x2 = reshape(x, (b, n, g, c // g) + sp)
        x2 = reshape(transpose(x2, (1, 2, 0, 3) + tuple(range(4, 4 + len(sp)))),
                     (n, g * b * (c // g)) + sp)
        dw = conv_weight_grad(x2, y, groups=g, **p)
        return reshape(dw, (dw.shape[0], b, c // g) + tuple(kernel)), 1
    y = moveaxis(y, yd, 0)
    b, n, co = y.shape[:3]
    out = tuple(y.shape[3:])
    if xd is None:
        # Output channels become (G, B, C_out/G): result (G*B*C_out/G, C/G, *k).
        y2 = reshape(y, (b, n, g, co // g) + out)
        y2 = reshape(transpose(y2, (1, 2, 0, 3) + tuple(range(4, 4 + len(out)))),
                     (n, g * b * (co // g)) + out)
        dw = conv_weight_grad(x, y2, groups=g, **p)
        cg = dw.shape[1]
        dw = _swap01(reshape(dw, (g, b, co // g, cg) + tuple(kernel)))
        return reshape(dw, (b, co, cg) + tuple(kernel)), 0
    x = moveaxis(x, xd, 0)
    c = x.shape[2]
    dw = conv_weight_grad(reshape(_swap01(x), (n, b * c) + tuple(x.shape[3:])),
                          reshape(_swap01(y), (n, b * co) + out), groups=g * b, **p)
    return reshape(dw, (b, co) + tuple(dw.shape[1:])), 0


conv_weight_grad_p.batch = _conv_weight_grad_batch


def conv_weight_grad(x, y, *, kernel, stride, padding, dilation, groups):
    """Bind ``conv_weight_grad``: the adjoint of ``conv(x, .)`` for weights of ``kernel``."""
    return conv_weight_grad_p.bind(x, y, kernel=kernel, stride=stride, padding=padding,
                                   dilation=dilation, groups=groups)


from . import pool  # noqa: E402,F401  (registers the pooling primitives)
