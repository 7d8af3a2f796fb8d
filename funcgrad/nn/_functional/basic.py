"""Linear maps, dropout, padding, one-hot, embeddings, distances, interpolation."""
from __future__ import annotations

import math

import numpy as np

from ... import numpy as fnp
from ...prims.linear import linear as _linear
from ...tensor import Tensor, no_grad
from .. import _random
from ._util import arr, concrete_or_none


# --------------------------------------------------------------------------- #
# Linear
# --------------------------------------------------------------------------- #
def linear(input, weight, bias=None):
    """``input @ weight.T + bias``.

    Args:
      input: ``(*, in_features)``.
      weight: ``(out_features, in_features)``.
      bias: ``(out_features,)`` or None.

    Raises:
      ValueError: the last dim of ``input`` is not ``in_features``.

    Examples:
        >>> import numpy as np
        >>> linear(np.ones((2, 3)), np.ones((4, 3))).shape
        (2, 4)
    """
    x, w = arr(input), arr(weight)
    xs, ws = x.shape, w.shape
    if not xs or xs[-1] != ws[-1]:
        raise ValueError(f"linear: mat1 and mat2 shapes cannot be multiplied: input of shape "
                         f"{tuple(xs)} against weight of shape {tuple(ws)} (the "
                         f"input's last dimension must be in_features={ws[-1]})")
    if bias is not None:
        bias = arr(bias)
    if len(ws) == 2 and (bias is None or bias.ndim == 1):
        if bias is not None and bias.shape[0] not in (ws[0], 1):
            raise ValueError(f"linear: bias of shape {tuple(bias.shape)} does not match "
                             f"the weight of shape {tuple(ws)} (expected "
                             f"({ws[0]},), one entry per output feature)")
        # one fused primitive: one graph node, one GEMM, the bias added in place
        return _linear(x, w, bias)
    out = fnp.matmul(x, fnp.swapaxes(w, -1, -2) if w.ndim == 2 else w)
    if bias is not None:
        out = out + bias
    return out


def bilinear(input1, input2, weight, bias=None):
    """``y_o = x1 @ weight[o] @ x2 + bias_o`` for weight ``(out, in1, in2)``."""
    x1, x2, w = arr(input1), arr(input2), arr(weight)
    if x1.shape[-1] != w.shape[1] or x2.shape[-1] != w.shape[2]:
        raise ValueError(f"bilinear: input1 {tuple(x1.shape)} and input2 {tuple(x2.shape)} "
                         f"do not match the weight of shape {tuple(w.shape)} (expected last "
                         f"dims {w.shape[1]} and {w.shape[2]})")
    out = fnp.einsum("...i,oij,...j->...o", x1, w, x2)
    if bias is not None:
        out = out + bias
    return out


# --------------------------------------------------------------------------- #
# Dropout
# --------------------------------------------------------------------------- #
def _check_p(p, op):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def _mask(shape, keep, dtype, like=None):
    mask = _random.bernoulli(shape, keep, dtype=dtype)
    if like is not None and isinstance(mask, np.ndarray):
        from ...prims.creation import _xp_of
        xp = _xp_of(like)
        if xp is not np:  # drawn on the host: move it to the input's device
            mask = xp.asarray(mask)
    return mask


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``.

    The mask is drawn from the global generator (``funcgrad.manual_seed``).
    Under ``vmap`` one mask is drawn per example shape and shared by the
    batch.  Identity when ``training`` is False.
    """
    _check_p(p, "dropout")
    x = arr(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    return x * (_mask(tuple(x.shape), 1.0 - p, x.dtype, x) / (1.0 - p))


def _feature_dropout(x, p, training, nd, op):
    _check_p(p, op)
    x = arr(x)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{op}: expected {nd + 1}D or {nd + 2}D input, but received input "
                         f"of shape {tuple(x.shape)}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    shape = tuple(x.shape[:x.ndim - nd]) + (1,) * nd
    return x * (_mask(shape, 1.0 - p, x.dtype, x) / (1.0 - p))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, L)`` / ``(C, L)`` inputs with probability ``p``."""
    return _feature_dropout(input, p, training, 1, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, H, W)`` / ``(C, H, W)`` inputs."""
    return _feature_dropout(input, p, training, 2, "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, D, H, W)`` / ``(C, D, H, W)`` inputs."""
    return _feature_dropout(input, p, training, 3, "dropout3d")


_ALPHA_SELU = 1.7580993408473766  # scale * alpha of SELU


def _alpha_dropout(x, p, training, mask_shape, op):
    _check_p(p, op)
    x = arr(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = _mask(mask_shape(x), 1.0 - p, x.dtype, x)
    a = 1.0 / math.sqrt((_ALPHA_SELU ** 2 * p + 1) * (1 - p))
    b = (keep - 1.0) * (_ALPHA_SELU * a) + _ALPHA_SELU * a * p
    return x * (keep * a) + b.astype(x.dtype)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's self-normalisation (mean 0, variance 1)."""
    return _alpha_dropout(input, p, training, lambda x: tuple(x.shape), "alpha_dropout")


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout of whole channels."""
    return _alpha_dropout(input, p, training,
                          lambda x: tuple(x.shape[:2]) + (1,) * (x.ndim - 2),
                          "feature_alpha_dropout")


# --------------------------------------------------------------------------- #
# Padding
# --------------------------------------------------------------------------- #
def _pad_indices(n, lo, hi, mode, op):
    """Source index for each padded position of an axis of length ``n``."""
    i = np.arange(-lo, n + hi)
    if mode == "reflect":
        if lo >= n or hi >= n:
            raise ValueError(f"{op}: Padding size should be less than the corresponding input "
                             f"dimension, but got: padding ({lo}, {hi}) at dimension of size {n}")
        period = 2 * (n - 1) if n > 1 else 1
        i = np.abs(i) % period
        return np.where(i >= n, period - i, i)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        if lo > n or hi > n:
            raise ValueError(f"{op}: Padding value causes wrapping around more than once "
                             f"(padding ({lo}, {hi}) at dimension of size {n})")
        return i % n
    raise ValueError(f"{op}: mode must be 'constant', 'reflect', 'replicate' or 'circular', "
                     f"got {mode!r}")


def pad(input, pad, mode="constant", value=None):
    """Pad the trailing dims: ``pad = (left_last, right_last, left_2nd_last, ...)``.

    Args:
      mode: ``'constant'`` (``value``, default 0; negative widths crop),
        ``'reflect'``, ``'replicate'`` or ``'circular'``.

    Examples:
        >>> import numpy as np
        >>> pad(np.ones((1, 2)), (1, 2)).shape
        (1, 5)
    """
    x = arr(input)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding length must be divisible by 2 and at most twice the "
                         f"number of dims ({x.ndim}), got {len(pad)} values")
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    if mode == "constant":
        if any(lo < 0 or hi < 0 for lo, hi in widths):
            x = x[tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0))
                        for d, (lo, hi) in enumerate(widths))]
            widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        if not any(lo or hi for lo, hi in widths):
            return x
        from ...prims.shape_ops import pad_constant
        return pad_constant(x, tuple(widths), 0 if value is None else value)
    if value not in (None, 0, 0.0):
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    for d, (lo, hi) in enumerate(widths):
        if lo or hi:
            if lo < 0 or hi < 0:
                raise ValueError("pad: negative padding is only supported in constant mode")
            idx = _pad_indices(x.shape[d], lo, hi, mode, f"pad({mode})")
            x = x[(slice(None),) * d + (idx,)]
    return x


# --------------------------------------------------------------------------- #
# One-hot, embeddings
# --------------------------------------------------------------------------- #
def one_hot(tensor, num_classes=-1):
    """Integer class indices to one-hot vectors (int64), along a new last axis.

    Raises:
      TypeError: ``tensor`` is not of an integer dtype.
      ValueError: a class index is negative or not below ``num_classes``.
    """
    t = arr(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensor (integers), got dtype "
                        f"{t.dtype}")
    vals = concrete_or_none(t)
    if num_classes == -1:
        if vals is None:
            raise ValueError("one_hot: num_classes=-1 needs the values of the indices, which "
                             "are traced here; pass num_classes explicitly")
        num_classes = int(vals.max()) + 1 if vals.size else 0
    if vals is not None and vals.size and (vals.min() < 0 or vals.max() >= num_classes):
        raise ValueError(f"one_hot: Class values must be smaller than num_classes "
                         f"({num_classes}) and non-negative; got values in "
                         f"[{vals.min()}, {vals.max()}]")
    eq = fnp.expand_dims(t, -1) == np.arange(num_classes)
    return fnp.astype(eq, np.int64)


def _renorm_rows(weight, idx, max_norm, norm_type):
    """Rescale the rows ``idx`` of ``weight`` to norm at most ``max_norm`` (in place for Tensors)."""
    w = weight._data if isinstance(weight, Tensor) else weight
    vals = concrete_or_none(w)
    rows = concrete_or_none(idx)
    if vals is None or rows is None:
        raise ValueError("embedding: max_norm renormalises the weight in place, which needs "
                         "concrete values (not under a transform); renormalise beforehand")
    rows = np.unique(rows.reshape(-1))
    sub = vals[rows]
    norms = np.linalg.norm(sub, ord=norm_type, axis=1) if norm_type != 2 else \
        np.sqrt((sub * sub).sum(axis=1))
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(vals.dtype)
    new = vals.copy()
    new[rows] = sub * scale[:, None]
    if isinstance(weight, Tensor):
        with no_grad():
            weight._assign(new)
        return weight
    return new


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Look up rows of ``weight`` (``(num_embeddings, dim)``) by integer ``input``.

    Args:
      padding_idx: the gradient of this row is always zero.
      max_norm: rows looked up with a larger ``norm_type``-norm are rescaled
        to ``max_norm`` in place first (as PyTorch).
      scale_grad_by_freq: divide each row's gradient by how often it occurs
        in the batch.

    Raises:
      TypeError: ``input`` is not of an integer dtype.
      IndexError: an index is out of range.
    """
    idx, w = arr(input), arr(weight)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: Expected tensor for argument #1 'indices' to have an "
                        f"integer dtype (Long or Int), but got {idx.dtype}")
    n = w.shape[0]
    vals = concrete_or_none(idx)
    if vals is not None and vals.size and (vals.min() < -n or vals.max() >= n):
        raise IndexError(f"embedding: index out of range in self: indices in "
                         f"[{vals.min()}, {vals.max()}] for a weight with {n} rows")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx must be within num_embeddings ({n}), "
                             f"got {padding_idx}")
        padding_idx = padding_idx % n
    if max_norm is not None:
        w = _renorm_rows(weight, idx, max_norm, norm_type)
    out = w[idx]
    if padding_idx is not None:
        out = fnp.where(fnp.expand_dims(idx != padding_idx, -1), out, fnp.stop_gradient(out))
    if scale_grad_by_freq:
        if vals is None:
            raise ValueError("embedding: scale_grad_by_freq needs concrete indices")
        _, inv, counts = np.unique(vals.reshape(-1), return_inverse=True, return_counts=True)
        scale = (1.0 / counts[inv]).reshape(vals.shape + (1,)).astype(w.dtype)
        frozen = fnp.stop_gradient(out)
        out = frozen + (out - frozen) * scale
    return out


# --------------------------------------------------------------------------- #
# Distances
# --------------------------------------------------------------------------- #
def _norm(x, p, axis, keepdims=False):
    if p == 2:
        return fnp.sqrt(fnp.sum(x * x, axis=axis, keepdims=keepdims))
    if p == 1:
        return fnp.sum(fnp.abs(x), axis=axis, keepdims=keepdims)
    if p == float("inf"):
        return fnp.max(fnp.abs(x), axis=axis, keepdims=keepdims)
    return fnp.sum(fnp.abs(x) ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``x / max(||x||_p, eps)`` along ``dim``."""
    x = arr(input)
    n = _norm(x, p, dim, keepdims=True)
    return x / fnp.maximum(n, eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (norms clamped at ``eps``)."""
    a, b = fnp.broadcast_arrays(arr(x1), arr(x2))
    na = fnp.sqrt(fnp.sum(a * a, axis=dim, keepdims=True))
    nb = fnp.sqrt(fnp.sum(b * b, axis=dim, keepdims=True))
    # PyTorch clamps the norms under no_grad: the derivative ignores the clamp.
    na = na + fnp.stop_gradient(fnp.maximum(na, eps) - na)
    nb = nb + fnp.stop_gradient(fnp.maximum(nb, eps) - nb)
    return fnp.sum((a / na) * (b / nb), axis=dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` along the last dim."""
    d = arr(x1) - arr(x2) + eps
    return _norm(d, p, -1, keepdims=keepdim)


def pdist(input, p=2.0):
    """Distances between every pair of rows of a 2-D input (upper triangle, row-major)."""
    x = arr(input)
    n = x.shape[0]
    i, j = np.triu_indices(n, 1)
    return _norm(x[i] - x[j], p, -1)


# --------------------------------------------------------------------------- #
# Interpolation
# --------------------------------------------------------------------------- #
def _out_size(spatial, size, scale_factor, op):
    nd = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: either size or scale_factor should be defined (not both)")
    if size is not None:
        size = (size,) * nd if isinstance(size, int) else tuple(size)
        if len(size) != nd:
            raise ValueError(f"{op}: size {size} does not match the {nd} spatial dims of the "
                             "input")
        return tuple(int(s) for s in size), None
    sf = (scale_factor,) * nd if not isinstance(scale_factor, (tuple, list)) \
        else tuple(scale_factor)
    return tuple(int(math.floor(s * f)) for s, f in zip(spatial, sf)), sf


def _linear_weights(n_in, n_out, align_corners, scale):
    """(lo index, hi index, hi weight) of 1-D linear interpolation (PyTorch's coordinates)."""
    o = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = o * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        r = (1.0 / scale) if scale is not None else n_in / n_out
        src = np.maximum((o + 0.5) * r - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, src - lo


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of ``(N, C, *spatial)`` inputs.

    Modes: ``'nearest'`` (PyTorch's floor rule), ``'linear'`` (1-D),
    ``'bilinear'`` (2-D) and ``'trilinear'`` (3-D), with ``align_corners``.
    """
    x = arr(input)
    nd = x.ndim - 2
    if nd < 1:
        raise ValueError(f"interpolate: expected an input with a batch and a channel dim plus "
                         f"1-3 spatial dims, got shape {tuple(x.shape)}")
    spatial = tuple(x.shape[2:])
    out, sf = _out_size(spatial, size, scale_factor, "interpolate")
    if recompute_scale_factor:
        sf = None
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError("interpolate: align_corners option can only be set with the "
                             "interpolating modes: linear | bilinear | bicubic | trilinear")
        for d, (n_in, n_out) in enumerate(zip(spatial, out)):
            scale = (1.0 / sf[d]) if sf is not None else n_in / n_out
            idx = np.minimum(np.floor(np.arange(n_out) * scale).astype(np.int64), n_in - 1)
            x = x[(slice(None),) * (2 + d) + (idx,)]
        return x
    want = {"linear": 1, "bilinear": 2, "trilinear": 3}.get(mode)
    if want is None:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (nearest, "
                                  "linear, bilinear, trilinear)")
    if want != nd:
        raise ValueError(f"interpolate: mode {mode!r} expects {want + 2}-D input, got shape "
                         f"{tuple(x.shape)}")
    for d, (n_in, n_out) in enumerate(zip(spatial, out)):
        lo, hi, t = _linear_weights(n_in, n_out, bool(align_corners),
                                    sf[d] if sf is not None else None)
        ax = 2 + d
        pre = (slice(None),) * ax
        shape = (n_out,) + (1,) * (x.ndim - ax - 1)
        t = t.reshape(shape).astype(x.dtype)
        x = x[pre + (lo,)] * (1.0 - t) + x[pre + (hi,)] * t
    return x


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(..., mode='nearest')``."""
    return interpolate(input, size, scale_factor, "nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(..., mode='bilinear', align_corners=True)``."""
    return interpolate(input, size, scale_factor, "bilinear", align_corners=True)


__all__ = ["linear", "bilinear", "dropout", "dropout1d", "dropout2d", "dropout3d",
           "alpha_dropout", "feature_alpha_dropout", "pad", "one_hot", "embedding",
           "normalize", "cosine_similarity", "pairwise_distance", "pdist", "interpolate",
           "upsample", "upsample_nearest", "upsample_bilinear"]
