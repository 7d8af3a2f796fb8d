"""Elementwise primitives: arithmetic, transcendental functions, comparisons, select.

Every primitive here broadcasts like NumPy; the backward pass sums cotangents
back to each input's shape in one central place (``ad._fit``), so no rule
here un-broadcasts.  Rules are written with funcgrad operations (operators on
arrays or tracers, and the functions in this module), never with ``np``
directly, so they can be differentiated again.

Unary functions are declared through :func:`unary`, one line each, with the
derivative written as the math: ``dx`` (a function of the input) or ``dout``
(a function of the output).  The staged VJP keeps exactly that one residual.
"""
from __future__ import annotations

import numpy as np

from ..core import EMPTY_PARAMS, Primitive, bind as _bind
from ._rules import define_elementwise, elementwise_shape, unary_float_shape, defjvp


def _impl(np_name):
    np_fn = getattr(np, np_name, None)

    def impl(xp, *args):
        # NumPy's ufunc is looked up once; other backends by name.
        return np_fn(*args) if xp is np else getattr(xp, np_name)(*args)
    impl.__name__ = np_name
    impl.ufunc = np_fn  # jit calls the ufunc directly
    return impl


# --------------------------------------------------------------------------- #
# Unary functions: f(x) with f' expressed through x or through f(x).
# --------------------------------------------------------------------------- #
def unary(name, *, dx=None, dout=None, np_name=None, shape_rule=unary_float_shape):
    """Declare a differentiable unary elementwise primitive ``name``.

    Exactly one of ``dx(x)`` / ``dout(out)`` gives f' and decides the one
    residual the VJP keeps.
    """
    prim = Primitive(name)
    derivative = dx if dx is not None else dout
    bwd = lambda ct, r: (ct * derivative(r),)  # noqa: E731 - r: x for dx, out for dout
    if dx is not None:
        vjp = lambda out, x: lambda ct: bwd(ct, x)  # noqa: E731
        jvp = lambda t, out, x: t * dx(x)  # noqa: E731
    else:
        vjp = lambda out, x: lambda ct: bwd(ct, out)  # noqa: E731
        jvp = lambda t, out, x: t * dout(out)  # noqa: E731
    define_elementwise(prim, _impl(np_name or name), shape_rule=shape_rule, jvp=(jvp,), vjp=vjp)
    prim.bwd_res = (bwd, dx is None)  # the same rule, unstaged (see ad.unary_function)
    return prim


def nondiff(name, *, np_name=None, shape_rule=elementwise_shape):
    """Declare an elementwise primitive whose derivative is zero wherever it exists."""
    prim = Primitive(name, nondiff=True)
    define_elementwise(prim, _impl(np_name or name), shape_rule=shape_rule)
    return prim


def _bool_shape(*args, **params):
    return elementwise_shape(*args)[0], np.dtype(bool)


# d exp = exp; d log = 1/x; ... each line is the primitive's whole contract.
exp_p = unary("exp", dout=lambda out: out)
log_p = unary("log", dx=lambda x: 1.0 / x)
log1p_p = unary("log1p", dx=lambda x: 1.0 / (1.0 + x))
expm1_p = unary("expm1", dout=lambda out: out + 1.0)
sqrt_p = unary("sqrt", dout=lambda out: 0.5 / out)  # +inf at 0, like NumPy's 1/(2*sqrt(0))
sin_p = unary("sin", dx=lambda x: cos(x))
cos_p = unary("cos", dx=lambda x: -sin(x))
tan_p = unary("tan", dout=lambda out: 1.0 + out * out)
arcsin_p = unary("arcsin", dx=lambda x: 1.0 / sqrt(1.0 - x * x))
arccos_p = unary("arccos", dx=lambda x: -1.0 / sqrt(1.0 - x * x))
arctan_p = unary("arctan", dx=lambda x: 1.0 / (1.0 + x * x))
sinh_p = unary("sinh", dx=lambda x: cosh(x))
cosh_p = unary("cosh", dx=lambda x: sinh(x))
tanh_p = unary("tanh", dout=lambda out: 1.0 - out * out)
arcsinh_p = unary("arcsinh", dx=lambda x: 1.0 / sqrt(x * x + 1.0))
arccosh_p = unary("arccosh", dx=lambda x: 1.0 / sqrt(x * x - 1.0))
arctanh_p = unary("arctanh", dx=lambda x: 1.0 / (1.0 - x * x))
# logistic(x) = 1 / (1 + exp(-x)), computed without overflow for large |x|.
logistic_p = unary("logistic", dout=lambda out: out * (1.0 - out))
logistic_p.impl = lambda xp, x: _stable_logistic(xp, x)
logistic_p.np_fn = None
# relu(x) = max(x, 0); the derivative at 0 is 0 (PyTorch's convention).  A
# primitive rather than where(x > 0, x, 0): NumPy's where is several times
# slower than maximum, and the rule is one multiply by a mask.
relu_p = unary("relu", dout=lambda out: out > 0, shape_rule=lambda x: (x.shape, x.dtype))
relu_p.impl = lambda xp, x: xp.maximum(x, 0)
relu_p.np_fn = None
# |x|: the derivative at 0 is taken as 0 (sign(0) = 0), like JAX and PyTorch.
abs_p = unary("abs", dx=lambda x: sign(x), shape_rule=lambda x: (x.shape, x.dtype))


def _stable_logistic(xp, x):
    # exp(-|x|) never overflows; pick the algebraically equal form per sign.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# Zero-derivative elementwise functions (declared, never implied).
sign_p = nondiff("sign", shape_rule=lambda x: (x.shape, x.dtype))
floor_p = nondiff("floor", shape_rule=lambda x: (x.shape, x.dtype))
ceil_p = nondiff("ceil", shape_rule=lambda x: (x.shape, x.dtype))
round_p = nondiff("round", shape_rule=lambda x, decimals=0: (x.shape, x.dtype))
round_p.impl = lambda xp, x, decimals=0: xp.round(x, decimals)
round_p.np_fn = None
trunc_p = nondiff("trunc", shape_rule=lambda x: (x.shape, x.dtype))
floor_divide_p = nondiff("floor_divide")
isnan_p = nondiff("isnan", shape_rule=_bool_shape)
isfinite_p = nondiff("isfinite", shape_rule=_bool_shape)
isinf_p = nondiff("isinf", shape_rule=_bool_shape)
logical_not_p = nondiff("logical_not", shape_rule=_bool_shape)
equal_p = nondiff("equal", shape_rule=_bool_shape)
not_equal_p = nondiff("not_equal", shape_rule=_bool_shape)
less_p = nondiff("less", shape_rule=_bool_shape)
less_equal_p = nondiff("less_equal", shape_rule=_bool_shape)
greater_p = nondiff("greater", shape_rule=_bool_shape)
greater_equal_p = nondiff("greater_equal", shape_rule=_bool_shape)
logical_and_p = nondiff("logical_and", shape_rule=_bool_shape)
logical_or_p = nondiff("logical_or", shape_rule=_bool_shape)
logical_xor_p = nondiff("logical_xor", shape_rule=_bool_shape)
bitwise_and_p = nondiff("bitwise_and")
bitwise_or_p = nondiff("bitwise_or")
bitwise_xor_p = nondiff("bitwise_xor")
invert_p = nondiff("invert", shape_rule=lambda x: (x.shape, x.dtype))


# --------------------------------------------------------------------------- #
# Binary arithmetic
# --------------------------------------------------------------------------- #
# The VJPs of add and subtract keep no residual: one shared function each.
_add_bwd = lambda ct: (ct, ct)  # noqa: E731
_subtract_bwd = lambda ct: (ct, -ct)  # noqa: E731
add_p = define_elementwise(
    Primitive("add"), _impl("add"),
    jvp=(lambda t, out, x, y: t, lambda t, out, x, y: t),
    vjp=lambda out, x, y: _add_bwd)

subtract_p = define_elementwise(
    Primitive("subtract"), _impl("subtract"),
    jvp=(lambda t, out, x, y: t, lambda t, out, x, y: -t),
    vjp=lambda out, x, y: _subtract_bwd)

negative_p = define_elementwise(
    Primitive("negative"), _impl("negative"), shape_rule=lambda x: (x.shape, x.dtype),
    jvp=(lambda t, out, x: -t,),
    vjp=lambda out, x: lambda ct: (-ct,))


# d(xy) = y dx + x dy.  Each residual is kept only if the other input wants a cotangent.
def _mul_vjp(out, x, y, needs):
    if needs[1]:
        if needs[0]:
            return lambda ct: (ct * y, ct * x)
        return lambda ct: (None, ct * x)
    return lambda ct: (ct * y, None)


multiply_p = define_elementwise(
    Primitive("multiply"), _impl("multiply"),
    jvp=(lambda t, out, x, y: t * y, lambda t, out, x, y: x * t), vjp=_mul_vjp)
multiply_p.vjp_needs = True


# d(x/y) = dx / y - (x/y) dy / y
def _div_vjp(out, x, y, needs):
    if needs[1]:
        if needs[0]:
            return lambda ct: (ct / y, -ct * out / y)
        return lambda ct: (None, -ct * out / y)
    return lambda ct: (ct / y, None)


def _true_divide_shape(x, y):
    shape, dt = elementwise_shape(x, y)
    return shape, (dt if dt.kind in "fc" else np.dtype(np.float64))


divide_p = define_elementwise(
    Primitive("divide"), _impl("true_divide"), shape_rule=_true_divide_shape,
    jvp=(lambda t, out, x, y: t / y, lambda t, out, x, y: -t * out / y), vjp=_div_vjp)
divide_p.vjp_needs = True


# d(x**y) = y x**(y-1) dx + log(x) x**y dy.  The log term is taken as 0 where
# x == 0 (its limit when the power term is 0), so 0**y has a finite gradient.
def _pow_dy(x, out):
    safe_x = where(x == 0, 1.0, x)
    return where(x == 0, 0.0, out * log(safe_x))


def _pow_dx(x, y):
    if isinstance(y, (int, float)) and y == 2:
        return 2.0 * x  # the common square: no power call
    return y * power(x, y - 1)


def _pow_vjp(out, x, y, needs):
    rout = out if needs[1] else None
    return lambda ct: (ct * _pow_dx(x, y) if needs[0] else None,
                       ct * _pow_dy(x, rout) if needs[1] else None)


power_p = define_elementwise(
    Primitive("power"), _impl("power"),
    jvp=(lambda t, out, x, y: t * _pow_dx(x, y), lambda t, out, x, y: t * _pow_dy(x, out)),
    vjp=_pow_vjp)
power_p.vjp_needs = True


# max/min: at ties the cotangent is split evenly between the two inputs
# (the convention of JAX; keeps max(x, x) = x with derivative 1).
def _select_max(x, y, out):
    eq = (x == y)
    wx = where(eq, 0.5, where(out == x, 1.0, 0.0))
    return wx, 1.0 - wx


def _minmax_vjp(out, x, y):
    return lambda ct: tuple(ct * w for w in _select_max(x, y, out))


maximum_p = define_elementwise(
    Primitive("maximum"), _impl("maximum"),
    jvp=(lambda t, out, x, y: t * _select_max(x, y, out)[0],
         lambda t, out, x, y: t * _select_max(x, y, out)[1]),
    vjp=_minmax_vjp)
minimum_p = define_elementwise(
    Primitive("minimum"), _impl("minimum"),
    jvp=(lambda t, out, x, y: t * _select_max(x, y, out)[0],
         lambda t, out, x, y: t * _select_max(x, y, out)[1]),
    vjp=_minmax_vjp)


# atan2(y, x): d = (x dy - y dx) / (x^2 + y^2)
arctan2_p = define_elementwise(
    Primitive("arctan2"), _impl("arctan2"),
    jvp=(lambda t, out, y, x: t * x / (x * x + y * y),
         lambda t, out, y, x: -t * y / (x * x + y * y)),
    vjp=lambda out, y, x: lambda ct: (ct * x / (x * x + y * y), -ct * y / (x * x + y * y)))

# remainder(x, y) = x - floor(x / y) * y, differentiable almost everywhere.
remainder_p = define_elementwise(
    Primitive("remainder"), _impl("remainder"),
    jvp=(lambda t, out, x, y: t, lambda t, out, x, y: -t * floor(x / y)),
    vjp=lambda out, x, y: lambda ct: (ct, -ct * floor(x / y)))


# --------------------------------------------------------------------------- #
# select (where): differentiable in the two branches, not in the condition.
# --------------------------------------------------------------------------- #
def _where_shape(c, x, y):
    shape = np.broadcast_shapes(*[a.shape for a in (c, x, y) if hasattr(a, "shape")])
    return shape, elementwise_shape(x, y)[1]


def _where_vjp(out, c, x, y, needs):
    # The untaken branch gets an exact zero -- but 0 * inf = nan upstream of a
    # NaN-producing branch: see docs/sharp_edges.md ("where with NaN").
    # Only the wanted branches are computed: where(x > 0, x, 0.0) needs one.
    _, need_x, need_y = needs
    return lambda ct: (None, where(c, ct, 0.0) if need_x else None,
                       where(c, 0.0, ct) if need_y else None)


select_p = define_elementwise(Primitive("where"), _impl("where"), shape_rule=_where_shape,
                              vjp=_where_vjp)
select_p.vjp_needs = True
defjvp(select_p, None, lambda t, out, c, x, y: where(c, t, 0.0),
       lambda t, out, c, x, y: where(c, 0.0, t))


# --------------------------------------------------------------------------- #
# Dtype conversion and stop_gradient
# --------------------------------------------------------------------------- #
def _convert_impl(xp, x, dtype):
    return x.astype(dtype) if hasattr(x, "astype") else xp.asarray(x, dtype=dtype)


convert_p = Primitive("convert_element_type")
convert_p.impl = _convert_impl
convert_p.shape_rule = lambda x, dtype: (x.shape, np.dtype(dtype))


def _convert_vjp(out, x, dtype):
    src = x.dtype
    if src.kind not in "fc":
        return lambda ct: (None,)
    return lambda ct: (convert(ct, src),)


convert_p.vjp = _convert_vjp
defjvp(convert_p, lambda t, out, x, dtype: convert(t, dtype) if np.dtype(dtype).kind in "fc"
       else None)
convert_p.batch = lambda vals, dims, dtype: (convert(vals[0], dtype), dims[0])

stop_gradient_p = Primitive("stop_gradient", nondiff=True)
stop_gradient_p.impl = lambda xp, x: x
stop_gradient_p.shape_rule = lambda x: (x.shape, x.dtype)
stop_gradient_p.batch = lambda vals, dims: (vals[0], dims[0])


# --------------------------------------------------------------------------- #
# Wrappers: the names rules (and funcgrad.numpy) call.
# --------------------------------------------------------------------------- #
def _w1(prim):
    from ..ad import unary_function  # reverse mode's hot path inline
    return unary_function(prim)


exp = _w1(exp_p)
log = _w1(log_p)
sqrt = _w1(sqrt_p)
sin = _w1(sin_p)
cos = _w1(cos_p)
sinh = _w1(sinh_p)
cosh = _w1(cosh_p)
sign = _w1(sign_p)
floor = _w1(floor_p)


def relu(x):
    """max(x, 0), with derivative 0 at 0."""
    return _bind(relu_p, (x,), EMPTY_PARAMS)


def add(x, y):
    return _bind(add_p, (x, y), EMPTY_PARAMS)


def multiply(x, y):
    return _bind(multiply_p, (x, y), EMPTY_PARAMS)


def power(x, y):
    return _bind(power_p, (x, y), EMPTY_PARAMS)


def where(c, x, y):
    return _bind(select_p, (c, x, y), EMPTY_PARAMS)


def convert(x, dtype):
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    return convert_p.bind(x, dtype=dtype)


def stop_gradient(x):
    """Identity whose derivative is zero: ``x`` is treated as a constant."""
    return stop_gradient_p.bind(x)
