"""Convolutions and pooling of ``nn.functional`` (PyTorch's signatures).

The fixed-window operations bind the primitives through
:mod:`funcgrad.numpy.conv`; this module adds biases, unbatched inputs and
the adaptive poolings (a constant averaging matrix per axis for average
pooling, one gather of the windows for max pooling).
"""
from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from ...numpy import conv as fconv
from ._util import arr

_LAYOUTS = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)",
            3: "(N, C, D, H, W) or (C, D, H, W)"}


def _batched(x, nd, op):
    if x.ndim == nd + 2:
        return x, False
    if x.ndim == nd + 1:
        return fnp.expand_dims(x, 0), True
    raise ValueError(f"{op}: Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input "
                     f"{_LAYOUTS[nd]}, but got input of size: {list(x.shape)}")


def _convnd(nd, input, weight, bias, stride, padding, dilation, groups):
    op = f"conv{nd}d"
    x, w = arr(input), arr(weight)
    if w.ndim != nd + 2:
        raise ValueError(f"{op}: expected a weight with {nd + 2} dims (out_channels, "
                         f"in_channels / groups, *kernel), got shape {tuple(w.shape)}")
    x, unbatched = _batched(x, nd, op)
    if isinstance(padding, (tuple, list)) and len(padding) == 1 and nd > 1:
        padding = tuple(padding) * nd
    out = fconv.conv(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    if bias is not None:
        out = out + fnp.reshape(bias, (1, -1) + (1,) * nd)
    return out[0] if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of ``(N, C_in, L)`` by ``(C_out, C_in/groups, k)``.

    ``padding`` may be an int, a tuple, ``'valid'`` or ``'same'``.
    """
    return _convnd(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of ``(N, C_in, H, W)`` by ``(C_out, C_in/groups, kH, kW)``.

    Examples:
        >>> import numpy as np
        >>> conv2d(np.ones((1, 3, 5, 5)), np.ones((2, 3, 3, 3)), padding=1).shape
        (1, 2, 5, 5)
    """
    return _convnd(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution of ``(N, C_in, D, H, W)`` by ``(C_out, C_in/groups, kD, kH, kW)``."""
    return _convnd(3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transposend(nd, input, weight, bias, stride, padding, output_padding, groups,
                      dilation):
    op = f"conv_transpose{nd}d"
    x, w = arr(input), arr(weight)
    if w.ndim != nd + 2:
        raise ValueError(f"{op}: expected a weight with {nd + 2} dims (in_channels, "
                         f"out_channels / groups, *kernel), got shape {tuple(w.shape)}")
    x, unbatched = _batched(x, nd, op)
    out = fconv.conv_transpose(x, w, stride=stride, padding=padding,
                               output_padding=output_padding, dilation=dilation,
                               groups=groups)
    if bias is not None:
        out = out + fnp.reshape(bias, (1, -1) + (1,) * nd)
    return out[0] if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """1-D transposed convolution; weight ``(C_in, C_out/groups, k)``."""
    return _conv_transposend(1, input, weight, bias, stride, padding, output_padding, groups,
                             dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """2-D transposed convolution; weight ``(C_in, C_out/groups, kH, kW)``."""
    return _conv_transposend(2, input, weight, bias, stride, padding, output_padding, groups,
                             dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """3-D transposed convolution; weight ``(C_in, C_out/groups, kD, kH, kW)``."""
    return _conv_transposend(3, input, weight, bias, stride, padding, output_padding, groups,
                             dilation)


# --------------------------------------------------------------------------- #
# Fixed-window pooling
# --------------------------------------------------------------------------- #
def _stride(stride):
    return None if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else stride


def _max_poolnd(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x = arr(input)
    _batched(x, nd, f"max_pool{nd}d")
    return fconv.max_pool(x, kernel_size, _stride(stride), padding, dilation, ceil_mode,
                          return_indices, spatial_dims=nd)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of the last dim; ``return_indices`` gives flat positions too."""
    return _max_poolnd(1, input, kernel_size, stride, padding, dilation, ceil_mode,
                       return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of the last two dims (derivative to the first maximum).

    Examples:
        >>> import numpy as np
        >>> max_pool2d(np.arange(16.).reshape(1, 1, 4, 4), 2).shape
        (1, 1, 2, 2)
    """
    return _max_poolnd(2, input, kernel_size, stride, padding, dilation, ceil_mode,
                       return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_poolnd(3, input, kernel_size, stride, padding, dilation, ceil_mode,
                       return_indices)


def _avg_poolnd(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
    x = arr(input)
    _batched(x, nd, f"avg_pool{nd}d")
    return fconv.avg_pool(x, kernel_size, _stride(stride), padding, ceil_mode,
                          count_include_pad, divisor_override, spatial_dims=nd)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over windows of the last dim."""
    return _avg_poolnd(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over windows of the last two dims."""
    return _avg_poolnd(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_poolnd(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``(sum over window of x^p)^(1/p)``."""
    x = arr(input)
    k = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * 2
    s = avg_pool2d(x ** norm_type, k, stride, 0, ceil_mode)
    from .activation import relu
    return (fnp.sign(s) * relu(fnp.abs(s)) * (k[0] * k[1])) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    x = arr(input)
    s = avg_pool1d(x ** norm_type, kernel_size, stride, 0, ceil_mode)
    from .activation import relu
    return (fnp.sign(s) * relu(fnp.abs(s)) * kernel_size) ** (1.0 / norm_type)


# --------------------------------------------------------------------------- #
# Adaptive pooling
# --------------------------------------------------------------------------- #
def _bounds(n_in, n_out):
    i = np.arange(n_out)
    return (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)


def _output_size(x, output_size, nd, op):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != nd:
            raise ValueError(f"{op}: output_size must have {nd} elements, got {output_size!r}")
        sizes = tuple(output_size)
    else:
        sizes = (output_size,) * nd
    spatial = tuple(x.shape[x.ndim - nd:])
    sizes = tuple(s if o is None else int(o) for s, o in zip(spatial, sizes))
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{op}: Expected {nd + 1}D or {nd + 2}D tensor, but got input of "
                         f"size {list(x.shape)}")
    if any(o < 1 for o in sizes) or any(s < 1 for s in spatial):
        raise ValueError(f"{op}: output_size {sizes} and input spatial size {spatial} must be "
                         "positive")
    return spatial, sizes


def _averaging_matrix(n_in, n_out, dtype):
    lo, hi = _bounds(n_in, n_out)
    a = np.zeros((n_out, n_in), dtype=dtype)
    for i, (s, e) in enumerate(zip(lo, hi)):
        a[i, s:e] = 1.0 / (e - s)
    return a


def _adaptive_avg(nd, input, output_size):
    op = f"adaptive_avg_pool{nd}d"
    x = arr(input)
    spatial, sizes = _output_size(x, output_size, nd, op)
    if x.dtype.kind not in "fc":
        x = fnp.astype(x, np.float64)
    for d in range(nd):
        ax = x.ndim - nd + d
        n_in, n_out = spatial[d], sizes[d]
        if n_in == n_out:
            continue
        if n_in % n_out == 0:
            shape = tuple(x.shape[:ax]) + (n_out, n_in // n_out) + tuple(x.shape[ax + 1:])
            x = fnp.mean(fnp.reshape(x, shape), axis=ax + 1)
            continue
        a = _averaging_matrix(n_in, n_out, x.dtype)
        x = fnp.moveaxis(fnp.matmul(fnp.moveaxis(x, ax, -1), a.T), -1, ax)
    return x


def adaptive_avg_pool1d(input, output_size):
    """Average pooling to a fixed output length (PyTorch's window bounds)."""
    return _adaptive_avg(1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size ``(oH, oW)`` (None keeps a dim)."""
    return _adaptive_avg(2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg(3, input, output_size)


def _window_index(n_in, n_out):
    lo, hi = _bounds(n_in, n_out)
    k = int((hi - lo).max())
    # Short windows repeat their last element: duplicates do not change a maximum.
    idx = np.minimum(lo[:, None] + np.arange(k)[None, :], (hi - 1)[:, None])
    return idx, k


def _adaptive_max(nd, input, output_size, return_indices):
    op = f"adaptive_max_pool{nd}d"
    x = arr(input)
    spatial, sizes = _output_size(x, output_size, nd, op)
    lead = x.ndim - nd
    idxs, ks = zip(*[_window_index(s, o) for s, o in zip(spatial, sizes)])
    # Gather (..., o1, k1, o2, k2, ...) with broadcasting index arrays.
    index = []
    for d, idx in enumerate(idxs):
        shape = [1] * (2 * nd)
        shape[2 * d], shape[2 * d + 1] = idx.shape
        index.append(idx.reshape(shape))
    win = x[(slice(None),) * lead + tuple(index)]
    # -> (..., o1, o2, ..., k1 * k2 * ...)
    perm = tuple(range(lead)) + tuple(lead + 2 * d for d in range(nd)) + \
        tuple(lead + 2 * d + 1 for d in range(nd))
    win = fnp.reshape(fnp.transpose(win, perm), tuple(x.shape[:lead]) + sizes + (-1,))
    out = fnp.max(win, axis=-1)
    if not return_indices:
        return out
    arg = fnp.argmax(win, axis=-1)  # the first maximum, row-major in the window
    # flat[o..., j]: the flat input position of window element j of output o.
    grids = np.meshgrid(*[np.arange(o) for o in sizes], *[np.arange(k) for k in ks],
                        indexing="ij")
    flat = 0
    for d in range(nd):
        flat = flat + idxs[d][grids[d], grids[nd + d]] * int(np.prod(spatial[d + 1:]))
    table = flat.reshape(int(np.prod(sizes)), -1)
    rows = np.arange(table.shape[0]).reshape(sizes)
    return out, fnp.getitem(table, (rows, arg))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling to a fixed output length."""
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed output size ``(oH, oW)``."""
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max(3, input, output_size, return_indices)


__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d",
           "avg_pool2d", "avg_pool3d", "lp_pool1d", "lp_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "adaptive_max_pool3d"]
