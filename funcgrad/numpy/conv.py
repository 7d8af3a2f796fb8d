"""Convolution and pooling on arrays, in PyTorch's layout, for 1-, 2- and 3-D.

``from funcgrad.numpy import conv as fconv``::

    y = fconv.conv(x, w, stride=1, padding=1)            # x (N, C, H, W), w (O, C, 3, 3)
    z = fconv.max_pool(y, 2)                             # (N, O, H/2, W/2)
    a = fconv.avg_pool(y, (3, 3), stride=1, padding=1)

These functions validate and normalise their arguments, then bind the
primitives of :mod:`funcgrad.prims.conv` and :mod:`funcgrad.prims.pool`
(whose docstrings explain the lowering and the derivative rules).  They work
on plain arrays and inside every transform (grad, jvp, vmap, jit, ...).  The
number of spatial dimensions is the weight's ``ndim - 2`` for convolutions
and ``len(kernel_size)`` (or ``spatial_dims``) for pooling; error messages
name the operation the way PyTorch does (``conv2d``, ``max_pool3d``, ...).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backends
from ..prims import _windows as W
from ..prims import conv as P
from ..prims import pool as Q
from ..prims.creation import asarray
from ..prims.elementwise import convert

__all__ = ["conv", "conv_transpose", "max_pool", "max_pool_with_indices", "avg_pool",
           "conv_output_shape"]

_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


def _arr(a):
    return a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a)


def _ints(v, nd, what, op, low):
    """``v`` (an int or a sequence of ``nd`` ints) as a tuple of ``nd`` ints >= ``low``."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        t = (int(v),) * nd
    elif isinstance(v, (tuple, list)) and len(v) == nd and all(
            isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in v):
        t = tuple(int(e) for e in v)
    else:
        raise TypeError(f"{op}: {what} must be an int or a tuple of {nd} ints, got {v!r}")
    if any(e < low for e in t):
        raise ValueError(f"{op}: {what} must be {'positive' if low else 'non-negative'}, "
                         f"got {v!r}")
    return t


def _conv_padding(padding, nd, kernel, stride, dilation, op):
    """Normalise ``padding`` to one (before, after) pair per spatial dimension."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride={stride}); pad explicitly instead")
            # Like PyTorch: any odd leftover goes after.
            return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                         for k, d in zip(kernel, dilation))
        raise ValueError(f"{op}: padding must be 'same', 'valid', an int or a tuple, "
                         f"got {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == nd and all(
            isinstance(e, (tuple, list)) for e in padding):
        return tuple(_ints(e, 2, "each padding pair", op, 0) for e in padding)
    try:
        return tuple((p, p) for p in _ints(padding, nd, "padding", op, 0))
    except TypeError:
        raise TypeError(f"{op}: padding must be 'same', 'valid', an int, a tuple of {nd} ints "
                        f"or a tuple of {nd} (before, after) pairs, got {padding!r}") from None


def _check_input(x, nd, op):
    if x.ndim != nd + 2:
        fix = " (for a single example, add the batch axis: x[None])" if x.ndim == nd + 1 else ""
        raise ValueError(f"{op}: expected input with {nd + 2} dims {_LAYOUT[nd]}, got shape "
                         f"{tuple(x.shape)}{fix}")


def _spatial_dims_of_weight(w, op):
    if w.ndim not in (3, 4, 5):
        raise ValueError(f"{op}: expected a weight with 3, 4 or 5 dims (C_out, C_in/groups, "
                         f"*kernel) for a 1-, 2- or 3-D convolution, got shape "
                         f"{tuple(w.shape)}")
    return w.ndim - 2


def _check_fits(spatial, pads, kernel, dilation, op):
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(spatial, pads))
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(e > p for e, p in zip(extent, padded)):
        raise ValueError(f"{op}: the kernel, of size {extent} after dilation, is larger than "
                         f"the padded input, of size {padded} (input {tuple(spatial)}, "
                         f"padding {pads}); pad the input or use a smaller kernel")


def conv_output_shape(spatial, kernel, stride=1, padding=0, dilation=1):
    """Spatial output shape of a convolution (PyTorch's formula).

    Examples:
        >>> conv_output_shape((28, 28), (5, 5), stride=2, padding=2)
        (14, 14)
    """
    nd = len(spatial)
    stride = _ints(stride, nd, "stride", "conv_output_shape", 1)
    dilation = _ints(dilation, nd, "dilation", "conv_output_shape", 1)
    pads = _conv_padding(padding, nd, kernel, stride, dilation, "conv_output_shape")
    return W.out_shape(tuple(spatial), tuple(kernel), stride, pads, dilation)


def conv(x, w, stride=1, padding=0, dilation=1, groups=1):
    """N-d convolution (cross-correlation, as in PyTorch's ``conv1d/2d/3d``), no bias.

    Args:
      x: input of shape ``(N, C_in, *spatial)``.
      w: weight of shape ``(C_out, C_in // groups, *kernel)``; its ``ndim - 2``
        (1, 2 or 3) is the number of spatial dimensions.
      stride, dilation: an int or one int per spatial dimension.
      padding: an int, one int per dimension, one ``(before, after)`` pair per
        dimension, ``'valid'`` (none) or ``'same'`` (output as large as the
        input; stride 1 only).  Zeros are added.
      groups: split the channels into this many independent groups
        (``groups == C_in`` with ``C_out = k * C_in`` is a depthwise convolution).

    Returns:
      ``(N, C_out, *out)`` with ``out = (S + pad - dilation*(k-1) - 1) // stride + 1``.

    Raises:
      ValueError: wrong number of dims, channels that do not match the weight
        and groups, or a kernel larger than the padded input.

    Examples:
        >>> x = np.ones((1, 1, 5, 5)); w = np.ones((2, 1, 3, 3))
        >>> conv(x, w, padding=1).shape
        (1, 2, 5, 5)
    """
    x, w = _arr(x), _arr(w)
    nd = _spatial_dims_of_weight(w, "conv")
    op = f"conv{nd}d"
    _check_input(x, nd, op)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    c_in, c_out = x.shape[1], w.shape[0]
    if c_in % groups or c_out % groups:
        raise ValueError(f"{op}: in_channels ({c_in}) and out_channels ({c_out}) must both "
                         f"be divisible by groups ({groups})")
    if w.shape[1] * groups != c_in:
        raise ValueError(
            f"{op}: a weight of shape {tuple(w.shape)} with groups={groups} expects an input "
            f"with weight.shape[1] * groups = {w.shape[1]} * {groups} = "
            f"{w.shape[1] * groups} channels, but the input of shape {tuple(x.shape)} has "
            f"{c_in}; the weight should have shape ({c_out}, {c_in // groups}, "
            f"{', '.join(map(str, w.shape[2:]))})")
    kernel = tuple(w.shape[2:])
    stride = _ints(stride, nd, "stride", op, 1)
    dilation = _ints(dilation, nd, "dilation", op, 1)
    pads = _conv_padding(padding, nd, kernel, stride, dilation, op)
    _check_fits(x.shape[2:], pads, kernel, dilation, op)
    return P.conv(x, w, stride=stride, padding=pads, dilation=dilation, groups=groups)


def conv_transpose(x, w, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """N-d transposed convolution (PyTorch's ``conv_transpose1d/2d/3d``), no bias.

    The adjoint of :func:`conv` in its input: ``conv_transpose(conv(.., w), w)``
    maps an output-shaped array back to the input's shape.

    Args:
      x: input of shape ``(N, C_in, *spatial)``.
      w: weight of shape ``(C_in, C_out // groups, *kernel)`` (PyTorch's layout
        for transposed convolutions).
      stride, padding, dilation: as for the convolution this transposes;
        ``padding`` (an int or one per dimension) removes that many rows
        from each side of the output.
      output_padding: extra size added after each dimension of the output
        (smaller than stride or dilation), to pick among the input sizes a
        strided convolution maps to the same output size.
      groups: channel groups.

    Returns:
      ``(N, C_out, *out)`` with
      ``out = (S - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1``.

    Examples:
        >>> conv_transpose(np.ones((1, 4, 3, 3)), np.ones((4, 2, 3, 3)), stride=2).shape
        (1, 2, 7, 7)
    """
    x, w = _arr(x), _arr(w)
    nd = _spatial_dims_of_weight(w, "conv_transpose")
    op = f"conv_transpose{nd}d"
    _check_input(x, nd, op)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    c_in = x.shape[1]
    if w.shape[0] != c_in:
        raise ValueError(f"{op}: a weight of shape {tuple(w.shape)} expects an input with "
                         f"weight.shape[0] = {w.shape[0]} channels, but the input of shape "
                         f"{tuple(x.shape)} has {c_in}; the weight of a transposed "
                         "convolution is (C_in, C_out // groups, *kernel)")
    if c_in % groups:
        raise ValueError(f"{op}: in_channels ({c_in}) must be divisible by groups ({groups})")
    kernel = tuple(w.shape[2:])
    stride = _ints(stride, nd, "stride", op, 1)
    dilation = _ints(dilation, nd, "dilation", op, 1)
    pad = _ints(padding, nd, "padding", op, 0)
    out_pad = _ints(output_padding, nd, "output_padding", op, 0)
    if any(o >= max(s, d) for o, s, d in zip(out_pad, stride, dilation)):
        raise ValueError(f"{op}: output_padding must be smaller than either stride or "
                         f"dilation, got output_padding={out_pad}, stride={stride}, "
                         f"dilation={dilation}")
    out = tuple((s - 1) * st - 2 * p + d * (k - 1) + o + 1 for s, st, p, d, k, o in
                zip(x.shape[2:], stride, pad, dilation, kernel, out_pad))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: the output would have spatial size {out} for input "
                         f"{tuple(x.shape)}, kernel {kernel}, stride {stride}, padding "
                         f"{pad}; reduce the padding")
    # The forward convolution with padding (p, p - output_padding) maps `out` to x's size.
    pads = tuple((p, p - o) for p, o in zip(pad, out_pad))
    return P.conv_transpose(x, w, in_shape=out, stride=stride, padding=pads,
                            dilation=dilation, groups=groups)


def _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode, spatial_dims, name):
    """Validate pooling arguments; return (op, kernel, stride, pads, dilation, out)."""
    if isinstance(kernel_size, (tuple, list)):
        nd = len(kernel_size)
    else:
        nd = spatial_dims if spatial_dims is not None else x.ndim - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"{name}: pooling has 1, 2 or 3 spatial dims; got kernel_size="
                         f"{kernel_size!r} for an input of shape {tuple(x.shape)} (pass a "
                         "tuple kernel_size or spatial_dims=)")
    op = f"{name}{nd}d"
    if x.ndim not in (nd + 1, nd + 2):
        layout = _LAYOUT[nd]
        raise ValueError(f"{op}: expected input with {nd + 1} or {nd + 2} dims "
                         f"(C, {layout[7:]} or {layout}, got shape {tuple(x.shape)}")
    kernel = _ints(kernel_size, nd, "kernel_size", op, 1)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and
                                          not stride) else _ints(stride, nd, "stride", op, 1)
    pad = _ints(padding, nd, "padding", op, 0)
    dilation = _ints(dilation, nd, "dilation", op, 1)
    if any(p > k // 2 for p, k in zip(pad, kernel)):
        raise ValueError(f"{op}: padding should be at most half of the kernel size, got "
                         f"padding={pad} and kernel_size={kernel}")
    spatial = tuple(x.shape[x.ndim - nd:])
    out = []
    for s, k, st, p, d in zip(spatial, kernel, stride, pad, dilation):
        span = s + 2 * p - d * (k - 1) - 1
        o = (-(-span // st) if ceil_mode else span // st) + 1
        if ceil_mode and (o - 1) * st >= s + p:
            o -= 1  # the last window must start inside the input or its left padding
        out.append(o)
    out = tuple(out)
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: input of shape {tuple(x.shape)} is too small for "
                         f"kernel_size={kernel} (dilation {dilation}, padding {pad}): the "
                         f"output size would be {out}")
    # Padding after each dim covers exactly the last window (ceil_mode included).
    pads = tuple((p, (o - 1) * st + d * (k - 1) + 1 - s - p) for s, k, st, p, d, o in
                 zip(spatial, kernel, stride, pad, dilation, out))
    return op, kernel, stride, pads, dilation, out


def max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
             return_indices=False, *, spatial_dims=None):
    """Max pooling over the trailing 1, 2 or 3 dims (PyTorch's ``max_pool1d/2d/3d``).

    The derivative goes to the first maximal element of each window (in
    row-major kernel order), as in PyTorch; padding is ``-inf``, so a window
    that dilation and padding leave without any input element gives ``-inf``
    (as PyTorch does; its index then points into the padding).

    Args:
      x: ``(N, C, *spatial)`` or ``(C, *spatial)``.
      kernel_size: an int or a tuple with one int per spatial dim.
      stride: default ``kernel_size``.
      padding: implicit ``-inf`` padding on both sides, at most half the kernel.
      dilation: spacing between window elements.
      ceil_mode: round the output size up (windows may run past the end).
      return_indices: also return the flat spatial index of each maximum.
      spatial_dims: the number of spatial dims when ``kernel_size`` is an int
        (default ``x.ndim - 2``).

    Returns:
      The pooled array, and with ``return_indices`` an int64 array of the same
      shape holding indices into the flattened spatial dims of ``x``.

    Examples:
        >>> max_pool(np.arange(16.).reshape(1, 1, 4, 4), 2)[0, 0]
        array([[ 5.,  7.],
               [13., 15.]])
    """
    x = _arr(x)
    op, kernel, stride, pads, dilation, _ = _pool_args(
        x, kernel_size, stride, padding, dilation, ceil_mode, spatial_dims, "max_pool")
    out = Q.max_pool(x, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    if return_indices:
        return out, Q.max_pool_argmax(x, out, kernel=kernel, stride=stride, padding=pads,
                                      dilation=dilation)
    return out


def max_pool_with_indices(x, kernel_size, stride=None, padding=0, dilation=1,
                          ceil_mode=False, *, spatial_dims=None):
    """``max_pool(..., return_indices=True)``: (values, flat spatial indices of the maxima)."""
    return max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, True,
                    spatial_dims=spatial_dims)


def _window_counts(s, k, st, p, o, include_pad):
    start = np.arange(o) * st - p
    if include_pad:
        return np.minimum(start + k, s + p) - start
    return np.minimum(start + k, s) - np.maximum(start, 0)


def avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None, *, spatial_dims=None):
    """Average pooling over the trailing 1, 2 or 3 dims (PyTorch's ``avg_pool1d/2d/3d``).

    Args:
      x: ``(N, C, *spatial)`` or ``(C, *spatial)``; integers average in float64.
      kernel_size, stride, padding, ceil_mode, spatial_dims: as :func:`max_pool`
        (zero padding).
      count_include_pad: divide by the window size including the zero padding
        (but never the part past the padding that ``ceil_mode`` adds); else by
        the number of input elements in the window.
      divisor_override: divide every window sum by this instead.

    Examples:
        >>> avg_pool(np.arange(16.).reshape(1, 1, 4, 4), 2)[0, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """
    x = _arr(x)
    if x.dtype.kind not in "fc":
        x = convert(x, np.float64)
    op, kernel, stride, pads, dilation, out = _pool_args(
        x, kernel_size, stride, padding, 1, ceil_mode, spatial_dims, "avg_pool")
    total = Q.sum_pool(x, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must be non-zero")
        return total / divisor_override
    spatial = tuple(x.shape[x.ndim - len(kernel):])
    counts = [_window_counts(s, k, st, p, o, count_include_pad) for s, k, st, (p, _), o in
              zip(spatial, kernel, stride, pads, out)]
    if all(np.all(c == c[0]) for c in counts):
        return total / math.prod(int(c[0]) for c in counts)
    divisor = counts[0]
    for c in counts[1:]:
        divisor = np.multiply.outer(divisor, c)
    # The divisor is a constant on x's device (CuPy arrays refuse host operands).
    return total / backends.namespace_of_value(x).asarray(divisor, dtype=x.dtype)
