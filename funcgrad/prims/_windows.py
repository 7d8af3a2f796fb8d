"""Sliding-window geometry shared by the convolution and pooling primitives.

Helpers on concrete backend arrays (``xp`` is NumPy or CuPy), used inside
primitive implementations only.  Windows run over the trailing
``len(kernel)`` dimensions; ``padding`` holds one ``(before, after)`` pair per
window dimension, and a negative width crops.
"""
from __future__ import annotations

import functools
import itertools


def out_size(size, k, stride, lo, hi, dilation):
    """Number of windows along one dim: PyTorch's formula (floor), padding (lo, hi)."""
    return (size + lo + hi - dilation * (k - 1) - 1) // stride + 1


def out_shape(spatial, kernel, stride, padding, dilation):
    """:func:`out_size` for each window dimension."""
    return tuple(out_size(s, k, st, lo, hi, d) for s, k, st, (lo, hi), d in
                 zip(spatial, kernel, stride, padding, dilation))


def prod(t):
    p = 1
    for v in t:
        p *= v
    return p


def no_padding(nd):
    return ((0, 0),) * nd


def pad(xp, x, padding, value=0):
    """``x`` framed by ``value`` on its trailing dims; negative widths crop."""
    if not any(lo or hi for lo, hi in padding):
        return x
    nd = len(padding)
    if any(lo < 0 or hi < 0 for lo, hi in padding):
        x = x[(Ellipsis,) + tuple(slice(max(-lo, 0), s - max(-hi, 0)) for s, (lo, hi)
                                  in zip(x.shape[-nd:], padding))]
        padding = tuple((max(lo, 0), max(hi, 0)) for lo, hi in padding)
        if not any(lo or hi for lo, hi in padding):
            return x
    spatial = x.shape[-nd:]
    shape = tuple(x.shape[:-nd]) + tuple(s + lo + hi for s, (lo, hi) in zip(spatial, padding))
    out = xp.full(shape, value, dtype=x.dtype) if value else xp.zeros(shape, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(spatial, padding))] = x
    return out


def unpad(xp, x, padding):
    """The adjoint of :func:`pad` (value 0): crop the frame, zero-fill what was cropped."""
    if not any(lo or hi for lo, hi in padding):
        return x
    nd = len(padding)
    x = x[(Ellipsis,) + tuple(slice(max(lo, 0), s - max(hi, 0)) for s, (lo, hi)
                              in zip(x.shape[-nd:], padding))]
    if any(lo < 0 or hi < 0 for lo, hi in padding):
        x = pad(xp, x, tuple((max(-lo, 0), max(-hi, 0)) for lo, hi in padding))
    return x


def padded_shape(spatial, padding):
    return tuple(s + lo + hi for s, (lo, hi) in zip(spatial, padding))


@functools.lru_cache(maxsize=512)
def offset_slices(kernel, stride, dilation, out):
    """Per kernel offset (row-major), the index selecting what it sees of the padded input."""
    per_dim = [[slice(k * d, k * d + s * (o - 1) + 1, s) for k in range(kk)]
               for kk, s, d, o in zip(kernel, stride, dilation, out)]
    return tuple((Ellipsis,) + sl for sl in itertools.product(*per_dim))


def kernel_offsets(kernel):
    """The kernel offsets in row-major order (the order of :func:`offset_slices`)."""
    return itertools.product(*map(range, kernel))


def as_strided(xp, x, shape, strides):
    """A view of ``x``'s memory; the caller guarantees it stays in bounds."""
    return xp.lib.stride_tricks.as_strided(x, tuple(shape), tuple(strides))
