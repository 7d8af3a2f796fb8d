"""Elementwise math of the PyTorch-style front, with PyTorch's type promotion.

Every function takes Tensors (or Python scalars) and returns a Tensor; the
work is done by the same primitives as ``funcgrad.numpy``, so Tensors whose
data is traced (inside ``funcgrad.grad``/``vmap``) work too.  Operands are
converted to PyTorch's result dtype (:func:`funcgrad.torch_dtypes.result_type`)
before a primitive is bound, where NumPy's rules would differ.
"""
from __future__ import annotations

import builtins

import numpy as np

import funcgrad.numpy as fnp

from . import torch_dtypes as D
from .core import EMPTY_PARAMS as E, Tracer, bind
from .prims import elementwise as P
from .tensor import Tensor

_float, _int, _bool = builtins.float, builtins.int, builtins.bool


# --------------------------------------------------------------------------- #
# Operand helpers
# --------------------------------------------------------------------------- #
def as_tensor_arg(x):
    """``x`` as a Tensor (arrays and traced values are wrapped, sharing their data)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Tracer) or (hasattr(x, "shape") and hasattr(x, "dtype")
                                 and not isinstance(x, np.generic)):
        return Tensor._wrap(x)
    from .torch_factories import tensor
    return tensor(x)


def wrap(out):
    """``out`` as a Tensor (Tensors pass through)."""
    return out if isinstance(out, Tensor) else Tensor._wrap(out)


def cast(x, dt):
    """``x`` converted to ``dt`` (Python scalars stay weak: NumPy gives them ``dt``)."""
    d = getattr(x, "dtype", None)
    if d is None:
        return x
    if isinstance(x, np.generic):
        return x.item()
    return x if d == dt else P.convert(x, dt)


def _scalar(x):
    return x.item() if isinstance(x, np.generic) else x


def promoted(a, b):
    """``(a, b)`` converted to PyTorch's result dtype of ``a op b``."""
    rt = D.result_type(a, b)
    if getattr(a, "dtype", None) is None and getattr(b, "dtype", None) is None:
        a = np.asarray(a, dtype=rt)  # two Python scalars: the result still has dtype rt
    return cast(a, rt), cast(b, rt)


def _same_category_scalar(t, s):
    """True if the Python scalar ``s`` leaves ``t``'s dtype unchanged (NumPy agrees)."""
    k = t._data.dtype.kind
    ts = type(s)
    if ts is _float:
        return k in "fc"
    if ts is _int:
        return k != "b"
    if ts is _bool:
        return True
    return False


def binary(prim, a, b):
    """Bind an elementwise binary primitive with PyTorch's promotion.

    The common cases (same dtypes; a scalar of the tensor's category) bind
    directly; only mixed dtypes pay for the promotion.
    """
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype == b._data.dtype:
                return bind(prim, (a, b), E)
        elif _same_category_scalar(a, b):
            return bind(prim, (a, b), E)
    elif isinstance(b, Tensor) and _same_category_scalar(b, a):
        return bind(prim, (a, b), E)
    a, b = promoted(a, b)
    return wrap(bind(prim, (a, b), E))


def _to_float(a, b):
    """Operands of a true division: integer results become the default float dtype."""
    rt = D.result_type(a, b)
    if rt.kind not in "fc":
        rt = D.get_default_dtype()
    return cast(a, rt), cast(b, rt)


def true_divide_op(a, b):
    """``a / b`` with PyTorch's rules: integer operands divide in the default float dtype."""
    if isinstance(a, Tensor) and a._data.dtype.kind in "fc":
        if (isinstance(b, Tensor) and a._data.dtype == b._data.dtype) or type(b) in (
                _float, _int):
            return bind(P.divide_p, (a, b), E)
    a, b = _to_float(a, b)
    return wrap(bind(P.divide_p, (a, b), E))


def float_input(x):
    """``x`` as a Tensor; integer and bool tensors become the default float dtype."""
    x = as_tensor_arg(x)
    if x._data.dtype.kind not in "fc":
        x = P.convert(x, D.get_default_dtype())
    return x


# --------------------------------------------------------------------------- #
# Arithmetic
# --------------------------------------------------------------------------- #
def add(input, other, *, alpha=1):  # noqa: A002 - PyTorch's names
    """``input + alpha * other`` (PyTorch's type promotion)."""
    if alpha != 1:
        other = mul(other, alpha)
    return binary(P.add_p, as_tensor_arg(input), other)


def sub(input, other, *, alpha=1):  # noqa: A002
    """``input - alpha * other``."""
    if alpha != 1:
        other = mul(other, alpha)
    return binary(P.subtract_p, as_tensor_arg(input), other)


subtract = sub


def mul(input, other):  # noqa: A002
    """``input * other``."""
    return binary(P.multiply_p, as_tensor_arg(input), other)


multiply = mul


def div(input, other, *, rounding_mode=None):  # noqa: A002
    """``input / other``; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient.

    Integer inputs divide in the default float dtype (``torch.tensor(3) / 2 -> 1.5``).
    """
    input = as_tensor_arg(input)
    if rounding_mode is None:
        return true_divide_op(input, other)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        rt = D.result_type(input, other)
        if rt.kind in "iub":
            q = floor_divide(input, other)
            # floor and trunc differ where the division is inexact and the signs differ
            inexact = remainder(input, other) != 0
            return where(inexact & ((input < 0) != (as_tensor_arg(other) < 0)), q + 1, q)
        return trunc(true_divide_op(input, other))
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                     f"but found '{rounding_mode}'")


divide = div
true_divide = div


def floor_divide(input, other):  # noqa: A002
    """``input // other`` (rounds toward minus infinity; no derivative)."""
    return binary(P.floor_divide_p, as_tensor_arg(input), other)


def remainder(input, other):  # noqa: A002
    """Python's ``%``: the result has the sign of ``other``."""
    return binary(P.remainder_p, as_tensor_arg(input), other)


def fmod(input, other):  # noqa: A002
    """C's ``fmod``: the result has the sign of ``input``."""
    input = as_tensor_arg(input)
    r = remainder(input, other)
    o = other if isinstance(other, Tensor) else as_tensor_arg(other)
    fix = (r != 0) & ((r < 0) != (input < 0))
    return where(fix, r - o, r)


def pow(input, exponent):  # noqa: A001,A002 - PyTorch's names
    """``input ** exponent`` (either may be a Python scalar)."""
    if not isinstance(input, Tensor):
        return binary(P.power_p, input, as_tensor_arg(exponent))
    return binary(P.power_p, input, exponent)


def neg(input):  # noqa: A002
    """``-input``."""
    return bind(P.negative_p, (as_tensor_arg(input),), E)


negative = neg


def abs(input):  # noqa: A001,A002
    """``|input|``; the derivative at 0 is 0 (as in PyTorch)."""
    return fnp.abs(as_tensor_arg(input))


absolute = abs


def _float_fn(fn, name, doc):
    def f(input):  # noqa: A002
        return fn(float_input(input))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc + " Integer tensors compute in the default float dtype."
    return f


exp = _float_fn(fnp.exp, "exp", "``e ** input``, elementwise.")
exp2 = _float_fn(fnp.exp2, "exp2", "``2 ** input``, elementwise.")
expm1 = _float_fn(fnp.expm1, "expm1", "``exp(input) - 1``, accurate near 0.")
log = _float_fn(fnp.log, "log", "Natural logarithm, elementwise.")
log2 = _float_fn(fnp.log2, "log2", "Base-2 logarithm, elementwise.")
log10 = _float_fn(fnp.log10, "log10", "Base-10 logarithm, elementwise.")
log1p = _float_fn(fnp.log1p, "log1p", "``log(1 + input)``, accurate near 0.")
sqrt = _float_fn(fnp.sqrt, "sqrt", "Square root, elementwise.")
sin = _float_fn(fnp.sin, "sin", "Sine, elementwise.")
cos = _float_fn(fnp.cos, "cos", "Cosine, elementwise.")
tan = _float_fn(fnp.tan, "tan", "Tangent, elementwise.")
asin = arcsin = _float_fn(fnp.arcsin, "asin", "Inverse sine, elementwise.")
acos = arccos = _float_fn(fnp.arccos, "acos", "Inverse cosine, elementwise.")
atan = arctan = _float_fn(fnp.arctan, "atan", "Inverse tangent, elementwise.")
sinh = _float_fn(fnp.sinh, "sinh", "Hyperbolic sine, elementwise.")
cosh = _float_fn(fnp.cosh, "cosh", "Hyperbolic cosine, elementwise.")
tanh = _float_fn(fnp.tanh, "tanh", "Hyperbolic tangent, elementwise.")
asinh = arcsinh = _float_fn(fnp.arcsinh, "asinh", "Inverse hyperbolic sine.")
acosh = arccosh = _float_fn(fnp.arccosh, "acosh", "Inverse hyperbolic cosine.")
atanh = arctanh = _float_fn(fnp.arctanh, "atanh", "Inverse hyperbolic tangent.")
sigmoid = _float_fn(fnp.sigmoid, "sigmoid", "``1 / (1 + exp(-input))``, without overflow.")
reciprocal = _float_fn(lambda x: 1.0 / x, "reciprocal", "``1 / input``.")
rsqrt = _float_fn(lambda x: 1.0 / fnp.sqrt(x), "rsqrt", "``1 / sqrt(input)``.")


def erf(input):  # noqa: A002
    """The error function, elementwise."""
    from .prims.special import erf as _erf
    return wrap(_erf(float_input(input)))


def atan2(input, other):  # noqa: A002
    """Quadrant-aware ``atan(input / other)``."""
    a, b = _to_float(as_tensor_arg(input), other)
    return wrap(fnp.arctan2(a, b))


arctan2 = atan2


def square(input):  # noqa: A002
    """``input * input``."""
    input = as_tensor_arg(input)
    return binary(P.multiply_p, input, input)


def _keeps_ints(fn, name, doc):
    def f(input):  # noqa: A002
        input = as_tensor_arg(input)
        if input._data.dtype.kind in "iub":
            return clone(input)  # already whole numbers (PyTorch returns a copy)
        return fn(input)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    return f


floor = _keeps_ints(fnp.floor, "floor", "Round down (no derivative).")
ceil = _keeps_ints(fnp.ceil, "ceil", "Round up (no derivative).")
trunc = fix = _keeps_ints(fnp.trunc, "trunc", "Round toward zero (no derivative).")


def round(input, *, decimals=0):  # noqa: A001,A002
    """Round half to even, to ``decimals`` places (no derivative)."""
    input = as_tensor_arg(input)
    if input._data.dtype.kind in "iub" and decimals >= 0:
        return clone(input)
    return fnp.round(input, decimals)


def frac(input):  # noqa: A002
    """``input - trunc(input)``."""
    input = as_tensor_arg(input)
    return input - trunc(input)


def sign(input):  # noqa: A002
    """-1, 0 or 1 by the sign of each element (no derivative)."""
    input = as_tensor_arg(input)
    if input._data.dtype.kind == "b":
        return clone(input)
    return fnp.sign(input)


sgn = sign


def clone(input, *, memory_format=None):  # noqa: A002
    """A copy of ``input`` that stays on the graph (gradients flow to ``input``)."""
    input = as_tensor_arg(input)
    return P.convert_p.bind(input, dtype=input._data.dtype)


def _zero_of(x):
    return 0.0 if x._data.dtype.kind in "fc" else (False if x._data.dtype.kind == "b" else 0)


def relu(input):  # noqa: A002
    """``max(input, 0)``; the derivative at 0 is 0 (as in PyTorch)."""
    input = as_tensor_arg(input)
    return fnp.where(input > 0, input, _zero_of(input))


# --------------------------------------------------------------------------- #
# Comparisons and logic (booleans; no derivative)
# --------------------------------------------------------------------------- #
def _compare(prim, name):
    def f(input, other):  # noqa: A002
        return binary(prim, as_tensor_arg(input), other)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise ``{name}`` comparison (a bool tensor)."
    return f


eq = _compare(P.equal_p, "eq")
ne = not_equal = _compare(P.not_equal_p, "ne")
lt = less = _compare(P.less_p, "lt")
le = less_equal = _compare(P.less_equal_p, "le")
gt = greater = _compare(P.greater_p, "gt")
ge = greater_equal = _compare(P.greater_equal_p, "ge")


def logical_and(input, other):  # noqa: A002
    """Elementwise logical AND (a bool tensor)."""
    return wrap(fnp.logical_and(as_tensor_arg(input), other))


def logical_or(input, other):  # noqa: A002
    """Elementwise logical OR (a bool tensor)."""
    return wrap(fnp.logical_or(as_tensor_arg(input), other))


def logical_xor(input, other):  # noqa: A002
    """Elementwise logical XOR (a bool tensor)."""
    return wrap(fnp.logical_xor(as_tensor_arg(input), other))


def logical_not(input):  # noqa: A002
    """Elementwise logical NOT (a bool tensor)."""
    return wrap(fnp.logical_not(as_tensor_arg(input)))


def isnan(input):  # noqa: A002
    """True where ``input`` is NaN."""
    return wrap(fnp.isnan(as_tensor_arg(input)))


def isinf(input):  # noqa: A002
    """True where ``input`` is +-inf."""
    return wrap(fnp.isinf(as_tensor_arg(input)))


def isfinite(input):  # noqa: A002
    """True where ``input`` is neither NaN nor infinite."""
    return wrap(fnp.isfinite(as_tensor_arg(input)))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    """``|input - other| <= atol + rtol * |other|`` elementwise."""
    a, b = promoted(as_tensor_arg(input), as_tensor_arg(other))
    a, b = fnp.stop_gradient(a), fnp.stop_gradient(b)
    close = (a == b) | (fnp.abs(a - b) <= atol + rtol * fnp.abs(b))
    if equal_nan:
        close = close | (fnp.isnan(a) & fnp.isnan(b))
    return wrap(close)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    """True if every element of ``input`` is close to ``other`` (a Python bool)."""
    return _bool(fnp.all(isclose(input, other, rtol, atol, equal_nan)))


def equal(input, other):  # noqa: A002
    """True if both have the same shape and elements (a Python bool)."""
    input, other = as_tensor_arg(input), as_tensor_arg(other)
    if tuple(input.shape) != tuple(other.shape):
        return False
    return _bool(fnp.all(eq(input, other)))


# --------------------------------------------------------------------------- #
# Selection and clamping
# --------------------------------------------------------------------------- #
def where(condition, input=None, other=None):  # noqa: A002
    """``input`` where ``condition`` holds, else ``other`` (broadcasting, promoted).

    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``.
    """
    if input is None and other is None:
        from .torch_shape import nonzero
        return nonzero(condition, as_tuple=True)
    a, b = promoted(input, other)
    return wrap(fnp.where(condition, a, b))


def clamp(input, min=None, max=None):  # noqa: A001,A002 - PyTorch's names
    """Limit values to ``[min, max]``; the derivative is 1 inside (bounds included), 0 out.

    Raises:
        RuntimeError: neither ``min`` nor ``max`` is given.
    """
    input = as_tensor_arg(input)
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    out = input
    if min is not None:
        x, lo = promoted(out, min)
        out = wrap(fnp.where(x < lo, lo, x))
    if max is not None:
        x, hi = promoted(out, max)
        out = wrap(fnp.where(x > hi, hi, x))
    return out


clip = clamp


def clamp_min(input, min):  # noqa: A001,A002
    """``clamp(input, min=min)``."""
    return clamp(input, min=min)


def clamp_max(input, max):  # noqa: A001,A002
    """``clamp(input, max=max)``."""
    return clamp(input, max=max)


def maximum(input, other):  # noqa: A002
    """Elementwise maximum; ties share the derivative evenly."""
    return binary(P.maximum_p, as_tensor_arg(input), as_tensor_arg(other))


def minimum(input, other):  # noqa: A002
    """Elementwise minimum; ties share the derivative evenly."""
    return binary(P.minimum_p, as_tensor_arg(input), as_tensor_arg(other))


fmax, fmin = maximum, minimum


def lerp(input, end, weight):  # noqa: A002
    """``input + weight * (end - input)``."""
    input = as_tensor_arg(input)
    return add(input, mul(sub(end, input), weight))


def masked_fill(input, mask, value):  # noqa: A002
    """``input`` with ``value`` where ``mask`` is True (``mask`` broadcasts)."""
    input = as_tensor_arg(input)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, "
                               f"but got tensor with {value.ndim} dimension(s).")
        value = cast(value, input._data.dtype)
    else:
        value = np.asarray(_scalar(value), dtype=input._data.dtype)
    m = mask._data if isinstance(mask, Tensor) else mask
    if getattr(m, "dtype", None) is None or m.dtype.kind != "b":
        raise RuntimeError(f"masked_fill only supports boolean masks, but got mask with "
                           f"dtype {getattr(m, 'dtype', type(m).__name__)}")
    return wrap(fnp.where(m, value, input))


# --------------------------------------------------------------------------- #
# Activations over a dimension
# --------------------------------------------------------------------------- #
def _dim_arg(dim, ndim, op):
    if dim is None:
        if ndim in (0, 1, 3):
            return 0
        return 1  # PyTorch's legacy implicit choice (with a deprecation warning there)
    from .torch_shape import wrap_dim
    return wrap_dim(dim, ndim, op)


def softmax(input, dim=None, dtype=None):  # noqa: A002
    """``exp(input) / sum(exp(input), dim)``, computed without overflow."""
    x = float_input(input) if dtype is None else cast(as_tensor_arg(input), D.as_dtype(dtype))
    d = _dim_arg(dim, x.ndim, "softmax")
    e = fnp.exp(x - fnp.stop_gradient(fnp.max(x, d, keepdims=True)))
    return e / fnp.sum(e, d, keepdims=True)


def log_softmax(input, dim=None, dtype=None):  # noqa: A002
    """``input - logsumexp(input, dim)``: log-probabilities, without overflow."""
    x = float_input(input) if dtype is None else cast(as_tensor_arg(input), D.as_dtype(dtype))
    d = _dim_arg(dim, x.ndim, "log_softmax")
    if x.ndim and x.dtype.kind == "f":  # one primitive (one graph node)
        from .prims.softmax import log_softmax as log_softmax_prim
        return log_softmax_prim(x, d)
    return x - fnp.logsumexp(x, d, keepdims=True)


def logsumexp(input, dim, keepdim=False):  # noqa: A002
    """``log(sum(exp(input), dim))`` without overflow; its derivative is the softmax."""
    x = float_input(input)
    from .torch_shape import dims_arg
    return wrap(fnp.logsumexp(x, dims_arg(dim, x.ndim, "logsumexp"), keepdims=keepdim))
