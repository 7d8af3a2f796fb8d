"""Rearrangements and patches: pixel/channel shuffle, unfold/fold, max_unpool, gumbel_softmax.

``unfold`` is a grouped convolution with one-hot kernels (one output channel
per input channel and kernel offset) and ``fold`` its transpose, so both are
single ``conv``/``conv_transpose`` primitives with exact adjoint derivatives.
"""
from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from .. import _random
from ._util import arr, concrete_or_none
from .activation import softmax
from .conv import conv2d, conv_transpose2d, max_pool1d, max_pool2d, max_pool3d
from .conv import adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d


def pixel_shuffle(input, upscale_factor):
    """``(*, C r^2, H, W) -> (*, C, H r, W r)`` (sub-pixel convolution)."""
    x = arr(input)
    r = int(upscale_factor)
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                         f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                         f"is not divisible by {r * r}")
    lead = tuple(lead)
    x = fnp.reshape(x, lead + (c // (r * r), r, r, h, w))
    n = len(lead)
    x = fnp.transpose(x, tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
    return fnp.reshape(x, lead + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """``(*, C, H r, W r) -> (*, C r^2, H, W)``: the inverse of pixel_shuffle."""
    x = arr(input)
    r = int(downscale_factor)
    *lead, c, h, w = x.shape
    if h % r or w % r:
        raise ValueError(f"pixel_unshuffle expects height ({h}) and width ({w}) to be "
                         f"divisible by downscale_factor ({r})")
    lead = tuple(lead)
    x = fnp.reshape(x, lead + (c, h // r, r, w // r, r))
    n = len(lead)
    x = fnp.transpose(x, tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return fnp.reshape(x, lead + (c * r * r, h // r, w // r))


def channel_shuffle(input, groups):
    """Interleave the channels of ``groups`` groups: ``(N, g*k, ...) -> (N, k*g, ...)``."""
    x = arr(input)
    n, c = x.shape[0], x.shape[1]
    if c % groups:
        raise ValueError(f"channel_shuffle: number of channels ({c}) must be divisible by "
                         f"groups ({groups})")
    rest = tuple(x.shape[2:])
    x = fnp.reshape(x, (n, groups, c // groups) + rest)
    return fnp.reshape(fnp.swapaxes(x, 1, 2), (n, c) + rest)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _one_hot_kernels(c, kh, kw, dtype):
    w = np.zeros((c * kh * kw, 1, kh, kw), dtype=dtype)
    k = np.arange(kh * kw)
    w.reshape(c, kh * kw, kh * kw)[:, k, k] = 1
    return w


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of a ``(N, C, H, W)`` input as columns: ``(N, C*kh*kw, L)`` (im2col)."""
    x = arr(input)
    unbatched = x.ndim == 3
    if unbatched:
        x = fnp.expand_dims(x, 0)
    if x.ndim != 4:
        raise ValueError(f"unfold: Input Error: Only 3D or 4D input Tensors are supported "
                         f"(got {x.ndim}D)")
    kh, kw = _pair(kernel_size)
    c = x.shape[1]
    w = _one_hot_kernels(c, kh, kw, x.dtype)
    cols = conv2d(x, w, None, _pair(stride), _pair(padding), _pair(dilation), c)
    out = fnp.reshape(cols, (x.shape[0], c * kh * kw, -1))
    return out[0] if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding blocks ``(N, C*kh*kw, L)`` back into ``(N, C, H, W)`` (col2im)."""
    x = arr(input)
    unbatched = x.ndim == 2
    if unbatched:
        x = fnp.expand_dims(x, 0)
    if x.ndim != 3:
        raise ValueError(f"fold: Input Error: Only unbatched (2D) or batched (3D) input "
                         f"Tensors are supported (got {x.ndim}D)")
    kh, kw = _pair(kernel_size)
    (dh, dw), (ph, pw), (sh, sw) = _pair(dilation), _pair(padding), _pair(stride)
    out_h, out_w = _pair(output_size)
    n, ckk, length = x.shape
    if ckk % (kh * kw):
        raise ValueError(f"fold: expected size of input's dimension 1 to be divisible by the "
                         f"product of kernel_size, but got input.size(1)={ckk} and "
                         f"kernel_size=({kh}, {kw})")
    oh = (out_h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (out_w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh * ow != length:
        raise ValueError(f"fold: Given output_size=({out_h}, {out_w}), kernel_size=({kh}, {kw}), "
                         f"dilation=({dh}, {dw}), padding=({ph}, {pw}), stride=({sh}, {sw}), "
                         f"expected size of input's dimension 2 to match the calculated "
                         f"number of sliding blocks {oh} * {ow} = {oh * ow}, but got "
                         f"input.size(2)={length}.")
    c = ckk // (kh * kw)
    w = _one_hot_kernels(c, kh, kw, x.dtype)
    base_h = (oh - 1) * sh - 2 * ph + dh * (kh - 1) + 1
    base_w = (ow - 1) * sw - 2 * pw + dw * (kw - 1) + 1
    out = conv_transpose2d(fnp.reshape(x, (n, ckk, oh, ow)), w, None, (sh, sw), (ph, pw),
                           (out_h - base_h, out_w - base_w), c, (dh, dw))
    return out[0] if unbatched else out


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size, op):
    x, idx = arr(input), arr(indices)
    k = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * nd
    s = k if stride is None else (stride if isinstance(stride, (tuple, list)) else (stride,) * nd)
    p = padding if isinstance(padding, (tuple, list)) else (padding,) * nd
    spatial_in = tuple(x.shape[x.ndim - nd:])
    if output_size is None:
        out = tuple((i - 1) * st - 2 * pp + kk for i, st, pp, kk in zip(spatial_in, s, p, k))
    else:
        out = tuple(output_size)[-nd:]
    lead = tuple(x.shape[:x.ndim - nd])
    size = int(np.prod(out))
    vals = concrete_or_none(idx)
    if vals is not None and vals.size and (vals.min() < 0 or vals.max() >= size):
        raise IndexError(f"{op}: Found an invalid max index: {vals.max()} (output volumes "
                         f"are of size {' x '.join(map(str, out))})")
    flat_x = fnp.reshape(x, (-1, int(np.prod(spatial_in))))
    flat_i = fnp.reshape(idx, (-1, int(np.prod(spatial_in))))
    rows = np.arange(flat_x.shape[0])[:, None]
    zeros = fnp.zeros((flat_x.shape[0], size), dtype=x.dtype)
    res = fnp.at(zeros)[rows, flat_i].set(flat_x)
    return fnp.reshape(res, lead + out)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Place each value at its ``max_pool1d`` index; zeros elsewhere."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size,
                       "max_unpool1d")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Place each value at its ``max_pool2d`` index (flat over H*W); zeros elsewhere."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size,
                       "max_unpool2d")


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size,
                       "max_unpool3d")


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool3d(input, output_size, True)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Sample from the Gumbel-softmax distribution (``hard``: one-hot, straight-through)."""
    x = arr(logits)
    u = _random.uniform(tuple(x.shape), 0.0, 1.0, x.dtype if x.dtype.kind == "f" else
                        np.float32)
    gumbels = -np.log(-np.log(np.clip(u, eps, 1.0)) + eps).astype(u.dtype)
    y = softmax((x + gumbels) / tau, dim)
    if not hard:
        return y
    idx = fnp.argmax(y, axis=dim, keepdims=True)
    n = x.shape[dim]
    shape = [1] * x.ndim
    shape[dim] = n
    one_hot = fnp.astype(idx == np.arange(n).reshape(shape), y.dtype)
    return one_hot - fnp.stop_gradient(y) + y


__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "unfold", "fold",
           "max_unpool1d", "max_unpool2d", "max_unpool3d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "max_pool3d_with_indices",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "gumbel_softmax"]
