"""Elementwise functions of ``funcgrad.numpy``: NumPy's names and broadcasting.

Thin wrappers over the elementwise primitives, plus composites whose
gradients follow from their parts (no rules here).  Stable formulations are
used where the naive one overflows (``logaddexp``, ``softplus``, ``sigmoid``).
"""
from __future__ import annotations

import numpy as np

from ..ad import unary_function as _unary_function
from ..core import EMPTY_PARAMS, bind as _bind
from ..prims import elementwise as P
from ..prims.creation import asarray

# Unary primitives, exported under NumPy's names.
exp = P.exp
log = P.log
sqrt = P.sqrt
sin = P.sin
cos = P.cos
sinh = P.sinh
cosh = P.cosh
sign = P.sign
floor = P.floor


def _unary(prim, doc):
    f = _unary_function(prim)  # bind(prim, (x,)), reverse mode's common case inline
    f.__doc__ = doc
    return f


log1p = _unary(P.log1p_p, "log(1 + x), accurate for small x.")
expm1 = _unary(P.expm1_p, "exp(x) - 1, accurate for small x.")
tan = _unary(P.tan_p, "Tangent, elementwise.")
arcsin = _unary(P.arcsin_p, "Inverse sine, elementwise.")
arccos = _unary(P.arccos_p, "Inverse cosine, elementwise.")
arctan = _unary(P.arctan_p, "Inverse tangent, elementwise.")
tanh = _unary(P.tanh_p, "Hyperbolic tangent, elementwise.")
arcsinh = _unary(P.arcsinh_p, "Inverse hyperbolic sine, elementwise.")
arccosh = _unary(P.arccosh_p, "Inverse hyperbolic cosine, elementwise.")
arctanh = _unary(P.arctanh_p, "Inverse hyperbolic tangent, elementwise.")
absolute = _unary(P.abs_p, "|x|; the derivative at 0 is 0.")
abs = absolute  # noqa: A001 - NumPy's name
fabs = absolute
ceil = _unary(P.ceil_p, "Ceiling (zero derivative).")
trunc = _unary(P.trunc_p, "Truncation toward zero (zero derivative).")
fix = trunc
rint = _unary(P.round_p, "Round to nearest integer (zero derivative).")
isnan = _unary(P.isnan_p, "NaN test (boolean).")
isinf = _unary(P.isinf_p, "Inf test (boolean).")
isfinite = _unary(P.isfinite_p, "Finite test (boolean).")
logical_not = _unary(P.logical_not_p, "Logical NOT (boolean).")
invert = _unary(P.invert_p, "Bitwise NOT.")
bitwise_not = invert
arcsinh.__name__ = "arcsinh"
asin, acos, atan = arcsin, arccos, arctan
asinh, acosh, atanh = arcsinh, arccosh, arctanh


def round(x, decimals=0):  # noqa: A001 - NumPy's name
    """Round to ``decimals`` (zero derivative)."""
    return P.round_p.bind(x, decimals=int(decimals))


around = round


def _binary(prim, doc):
    def f(x, y):
        return _bind(prim, (x, y), EMPTY_PARAMS)
    f.__name__ = prim.name
    f.__doc__ = doc
    return f


add = _binary(P.add_p, "x + y with broadcasting.")
subtract = _binary(P.subtract_p, "x - y with broadcasting.")
multiply = _binary(P.multiply_p, "x * y with broadcasting.")
divide = _binary(P.divide_p, "x / y with broadcasting (true division).")
true_divide = divide
power = _binary(P.power_p, "x ** y; d/dy at x == 0 is taken as 0.")
pow = power  # noqa: A001
maximum = _binary(P.maximum_p, "Elementwise max; ties split the derivative evenly.")
minimum = _binary(P.minimum_p, "Elementwise min; ties split the derivative evenly.")
arctan2 = _binary(P.arctan2_p, "Quadrant-aware arctan(y / x).")
atan2 = arctan2
remainder = _binary(P.remainder_p, "x mod y with the sign of y (like NumPy).")
mod = remainder
floor_divide = _binary(P.floor_divide_p, "Floor division (zero derivative).")
equal = _binary(P.equal_p, "x == y (boolean).")
not_equal = _binary(P.not_equal_p, "x != y (boolean).")
less = _binary(P.less_p, "x < y (boolean).")
less_equal = _binary(P.less_equal_p, "x <= y (boolean).")
greater = _binary(P.greater_p, "x > y (boolean).")
greater_equal = _binary(P.greater_equal_p, "x >= y (boolean).")
logical_and = _binary(P.logical_and_p, "Logical AND (boolean).")
logical_or = _binary(P.logical_or_p, "Logical OR (boolean).")
logical_xor = _binary(P.logical_xor_p, "Logical XOR (boolean).")
bitwise_and = _binary(P.bitwise_and_p, "Bitwise AND.")
bitwise_or = _binary(P.bitwise_or_p, "Bitwise OR.")
bitwise_xor = _binary(P.bitwise_xor_p, "Bitwise XOR.")


def negative(x):
    """-x."""
    return P.negative_p.bind(x)


def positive(x):
    """+x (a no-op)."""
    return x


def where(condition, x=None, y=None):
    """Select ``x`` where ``condition`` holds, else ``y`` (broadcasting).

    The derivative flows only into the selected branch.  If the other branch
    computes a NaN or Inf (``where(x > 0, log(x), 0)``), its zero cotangent
    times that NaN still poisons the gradient: compute the branch on a safe
    input (``log(where(x > 0, x, 1))``).  See docs/sharp_edges.md.
    """
    if x is None and y is None:
        from .indexing import nonzero
        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("where: either both or neither of x and y must be given")
    return P.select_p.bind(condition, x, y)


def fmax(x, y):
    """Elementwise max ignoring NaNs."""
    return where(isnan(y), x, where(isnan(x), y, maximum(x, y)))


def fmin(x, y):
    """Elementwise min ignoring NaNs."""
    return where(isnan(y), x, where(isnan(x), y, minimum(x, y)))


def square(x):
    """x * x."""
    return x * x


def reciprocal(x):
    """1 / x."""
    return 1.0 / x


def cbrt(x):
    """Real cube root."""
    return sign(x) * power(absolute(x), 1.0 / 3.0)


def exp2(x):
    """2 ** x."""
    return exp(x * np.log(2.0))


def log2(x):
    """Base-2 logarithm."""
    return log(x) / np.log(2.0)


def log10(x):
    """Base-10 logarithm."""
    return log(x) / np.log(10.0)


def logaddexp(x, y):
    """log(exp(x) + exp(y)) without overflow."""
    m = maximum(x, y)
    m_safe = where(isfinite(m), m, 0.0)
    return log(exp(x - m_safe) + exp(y - m_safe)) + m_safe


def logaddexp2(x, y):
    """log2(2**x + 2**y) without overflow."""
    return logaddexp(x * np.log(2.0), y * np.log(2.0)) / np.log(2.0)


def hypot(x, y):
    """sqrt(x**2 + y**2)."""
    return sqrt(x * x + y * y)


def sinc(x):
    """sin(pi x) / (pi x), with sinc(0) = 1 and a finite derivative there."""
    px = np.pi * x
    small = absolute(px) < 1e-4
    safe = where(small, 1.0, px)
    # Taylor series near zero keeps the derivative exact at 0.
    return where(small, 1.0 - px * px / 6.0, sin(safe) / safe)


def deg2rad(x):
    """Degrees to radians."""
    return x * (np.pi / 180.0)


def rad2deg(x):
    """Radians to degrees."""
    return x * (180.0 / np.pi)


radians = deg2rad
degrees = rad2deg


def clip(a, a_min=None, a_max=None):
    """Limit values to ``[a_min, a_max]``; derivative 1 inside, 0 outside."""
    if a_min is not None:
        a = maximum(a, a_min)
    if a_max is not None:
        a = minimum(a, a_max)
    return a


def heaviside(x, h0):
    """Step function (zero derivative)."""
    from ..api import stop_gradient
    x = stop_gradient(x)
    return where(x < 0, 0.0, where(x > 0, 1.0, h0))


def copysign(x, y):
    """|x| with the sign of y."""
    from ..api import stop_gradient
    s = where(stop_gradient(y) < 0, -1.0, 1.0)
    return absolute(x) * s


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """Replace NaN and infinities with finite numbers."""
    x = asarray(x)
    fi = np.finfo(x.dtype if x.dtype.kind == "f" else np.float64)
    posinf = fi.max if posinf is None else posinf
    neginf = fi.min if neginf is None else neginf
    x = where(isnan(x), nan, x)
    return where(isinf(x), where(x > 0, posinf, neginf), x)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow (funcgrad extra)."""
    return P.logistic_p.bind(x)


def softplus(x):
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)) (funcgrad extra)."""
    return maximum(x, 0.0) + log1p(exp(-absolute(x)))


def real(x):
    """Real part (identity for real arrays)."""
    return x if getattr(x, "dtype", np.dtype(float)).kind != "c" else _complex_part(x, "real")


def conj(x):
    """Complex conjugate (identity for real arrays)."""
    if getattr(x, "dtype", np.dtype(float)).kind != "c":
        return x
    raise NotImplementedError("funcgrad.numpy.conj of complex arrays is not supported yet")


conjugate = conj


def _complex_part(x, which):
    raise NotImplementedError(f"funcgrad.numpy.{which} of complex arrays is not supported yet")
