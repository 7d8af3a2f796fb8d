"""Activation functions of ``nn.functional``: composites of funcgrad.numpy.

Piecewise functions use ``fnp.where`` with PyTorch's choice of derivative at
the kinks (relu'(0) = 0, ...), and evaluate each branch on a safe input so
that the unselected branch never poisons the gradient with inf * 0.
"""
from __future__ import annotations

import math

import numpy as np

from ... import numpy as fnp
from ...prims.shape_ops import normalize_axes
from ...prims.softmax import log_softmax as _log_softmax
from ...prims.special import erf
from ._util import arr, log1pexp, relu0

_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def relu(input, inplace=False):
    """max(x, 0), elementwise (derivative 0 at 0, as PyTorch).

    Examples:
        >>> import numpy as np
        >>> relu(np.array([-1.0, 2.0]))
        array([0., 2.])
    """
    return relu0(arr(input))


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, ``negative_slope * x`` otherwise."""
    x = arr(input)
    return fnp.where(x > 0, x, x * negative_slope)


def _neg_part(x):
    # min(x, 0) in value; derivative 1 where x <= 0 (the side it is used on).
    return fnp.where(x > 0, 0.0, x)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""
    x = arr(input)
    return fnp.where(x > 0, x, alpha * fnp.expm1(_neg_part(x)))


def selu(input, inplace=False):
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return _SELU_SCALE * elu(input, _SELU_ALPHA)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    x = arr(input)
    return fnp.where(x > 0, x, alpha * fnp.expm1(_neg_part(x) / alpha))


def gelu(input, approximate="none"):
    """Gaussian error linear unit: ``x * Phi(x)``.

    Args:
      approximate: ``'none'`` (exact, through erf) or ``'tanh'``.
    """
    x = arr(input)
    if approximate == "none":
        return 0.5 * x * (1.0 + erf(x * _SQRT_HALF))
    if approximate == "tanh":
        return 0.5 * x * (1.0 + fnp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def sigmoid(input):
    """1 / (1 + exp(-x)), without overflow."""
    return fnp.sigmoid(arr(input))


def tanh(input):
    return fnp.tanh(arr(input))


def silu(input, inplace=False):
    """x * sigmoid(x) (swish)."""
    x = arr(input)
    return x * fnp.sigmoid(x)


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``; linear where ``beta * x > threshold``."""
    x = arr(input)
    bx = x * beta
    over = bx > threshold
    safe = fnp.where(over, 0.0, bx)
    return fnp.where(over, x, fnp.log1p(fnp.exp(safe)) / beta)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    x = arr(input)
    return x * fnp.tanh(softplus(x))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]; derivative 1 strictly inside, else 0."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    x = arr(input)
    return fnp.where(x <= min_val, min_val, fnp.where(x >= max_val, max_val, x))


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    x = arr(input)
    return hardtanh(x + 3.0, 0.0, 6.0) / 6.0


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    x = arr(input)
    return x * hardsigmoid(x)


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), without overflow."""
    return -log1pexp(-arr(input))


def softsign(input):
    """x / (1 + |x|)."""
    x = arr(input)
    return x / (1.0 + fnp.abs(x))


def tanhshrink(input):
    """x - tanh(x)."""
    x = arr(input)
    return x - fnp.tanh(x)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``."""
    x = arr(input)
    return fnp.where(x > threshold, x, value)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    x = arr(input)
    return fnp.where(fnp.abs(x) > lambd, x, 0.0)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""
    x = arr(input)
    return fnp.where(x > lambd, x - lambd, fnp.where(x < -lambd, x + lambd, 0.0))


def prelu(input, weight):
    """x for x > 0, ``weight * x`` otherwise; ``weight`` has 1 or C (channel dim 1) entries."""
    x, w = arr(input), arr(weight)
    if w.ndim != 1 and w.ndim != 0:
        raise ValueError(f"prelu: weight must be 0-d or 1-D, got shape {tuple(w.shape)}")
    n = 1 if w.ndim == 0 else w.shape[0]
    if n != 1:
        c = x.shape[1] if x.ndim >= 2 else 1
        if n != c:
            raise ValueError(f"prelu: mismatch of parameter numbers and input channel size: "
                             f"weight has {n} entries but the input of shape "
                             f"{tuple(x.shape)} has {c} channels")
        if x.ndim >= 2:
            w = fnp.reshape(w, (n,) + (1,) * (x.ndim - 2))
    elif w.ndim == 1:
        w = fnp.reshape(w, ())
    return fnp.where(x > 0, x, w * x)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU; in eval it is leaky_relu with slope (lower + upper) / 2."""
    x = arr(input)
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    from .._random import uniform
    slope = fnp.asarray(uniform(tuple(x.shape), lower, upper, x.dtype))
    return fnp.where(x >= 0, x, x * slope)


def glu(input, dim=-1):
    """Gated linear unit: ``a * sigmoid(b)`` with ``a, b`` the halves of ``input`` along ``dim``."""
    x = arr(input)
    n = x.shape[dim]
    if n % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {dim} is size {n}")
    a, b = fnp.split(x, 2, axis=dim)
    return a * fnp.sigmoid(b)


def _softmax_dim(ndim):
    # PyTorch's legacy implicit choice when dim is None.
    return 0 if ndim in (0, 1, 3) else 1


def _with_dtype(x, dtype):
    x = arr(x)
    if dtype is not None:
        x = fnp.astype(x, np.dtype(dtype))
    return x


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``x - logsumexp(x, dim)``: stable log-probabilities along ``dim``."""
    x = _with_dtype(input, dtype)
    if dim is None:
        dim = _softmax_dim(x.ndim)
    if x.ndim == 0:
        return x - x
    if x.dtype.kind == "f":  # one primitive (one graph node), see funcgrad/prims/softmax.py
        return _log_softmax(x, normalize_axes(dim, x.ndim, "log_softmax")[0])
    return x - fnp.logsumexp(x, axis=dim, keepdims=True)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``exp(x) / sum(exp(x), dim)``, computed stably.

    Examples:
        >>> import numpy as np
        >>> softmax(np.zeros(2), dim=0)
        array([0.5, 0.5])
    """
    x = _with_dtype(input, dtype)
    if dim is None:
        dim = _softmax_dim(x.ndim)
    if x.ndim == 0:
        return fnp.exp(x - x)
    m = fnp.stop_gradient(fnp.max(x, axis=dim, keepdims=True))
    e = fnp.exp(x - m)
    return e / fnp.sum(e, axis=dim, keepdims=True)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x)."""
    return softmax(-_with_dtype(input, dtype), dim)


__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "sigmoid", "tanh",
           "silu", "softplus", "mish", "hardtanh", "hardsigmoid", "hardswish", "logsigmoid",
           "softsign", "tanhshrink", "threshold", "hardshrink", "softshrink", "prelu", "rrelu",
           "glu", "log_softmax", "softmax", "softmin"]
