"""Helpers that let one primitive block declare its rules in a line or two.

* :func:`defjvp` -- a JVP as one function per argument, summed over the
  arguments whose tangent is not a symbolic zero.
* :func:`deflinear` -- a primitive linear in its first argument declares its
  transpose once; both modes follow from it.
* :func:`defbilinear` -- a primitive linear in each of two arguments declares a
  transpose per argument; both modes follow.
* :func:`elementwise_shape`, :func:`same_shape` -- common shape/dtype rules.
"""
from __future__ import annotations

import numpy as np

from ..batching import elementwise_batch


def defjvp(prim, *per_arg):
    """``per_arg[i](t_i, out, *primals, **params)``: contribution of argument ``i``.

    ``None`` in ``per_arg`` marks an argument the output does not depend on
    differentiably (an index, a mask).
    """
    def jvp(tangents, out, *primals, **params):
        acc = None
        for f, t in zip(per_arg, tangents):
            if t is None or f is None:
                continue
            r = f(t, out, *primals, **params)
            acc = r if acc is None else acc + r
        return acc
    prim.jvp = jvp
    return jvp


def deflinear(prim, transpose):
    """Declare ``prim`` linear in its first argument, with ``transpose(ct, x_aval, **params)``.

    The JVP applies the primitive to the tangent; the VJP applies the
    transpose to the cotangent.  Only ``x``'s shape and dtype are kept as
    residuals, never ``x`` itself.
    """
    prim.transpose = transpose

    def jvp(tangents, out, x, *rest, **params):
        return prim.bind(tangents[0], *rest, **params)

    def vjp(out, x, *rest, **params):
        aval = _Aval(x.shape, x.dtype)
        return lambda ct: (transpose(ct, aval, *rest, **params),) + (None,) * len(rest)

    prim.jvp = jvp
    prim.vjp = vjp


def defbilinear(prim, transpose_lhs, transpose_rhs):
    """Declare ``prim(x, y)`` linear in each argument.

    ``transpose_lhs(ct, x_aval, y, **params)`` is the cotangent of ``x`` and
    ``transpose_rhs(ct, x, y_aval, **params)`` the cotangent of ``y``.
    """
    prim.transpose = (transpose_lhs, transpose_rhs)

    def jvp(tangents, out, x, y, **params):
        tx, ty = tangents
        acc = None if tx is None else prim.bind(tx, y, **params)
        if ty is not None:
            r = prim.bind(x, ty, **params)
            acc = r if acc is None else acc + r
        return acc

    def vjp(out, x, y, needs, **params):
        # Keep only what each wanted cotangent needs: y for x's, x for y's.
        need_x, need_y = needs
        xa = _Aval(x.shape, x.dtype)
        ya = _Aval(y.shape, y.dtype)
        ry = y if need_x else None
        rx = x if need_y else None
        return lambda ct: (transpose_lhs(ct, xa, ry, **params) if need_x else None,
                           transpose_rhs(ct, rx, ya, **params) if need_y else None)

    prim.jvp = jvp
    prim.vjp = vjp
    prim.vjp_needs = True


class _Aval:
    """Shape and dtype of a residual that a rule needs only the metadata of."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = shape
        self.dtype = dtype

    @property
    def ndim(self):
        return len(self.shape)


def _dtype_arg(x):
    # Python scalars stay weakly typed under NumPy 2's promotion rules.
    if isinstance(x, (bool, int, float, complex)):
        return x
    return x.dtype


def elementwise_shape(*args, **params):
    """Shape/dtype rule of a NumPy elementwise op: broadcast shapes, promote dtypes."""
    shapes = [a.shape for a in args if hasattr(a, "shape")]
    shape = np.broadcast_shapes(*shapes) if shapes else ()
    return shape, np.result_type(*[_dtype_arg(a) for a in args])


def unary_float_shape(x, **params):
    """Shape/dtype rule of a float-valued unary function (ints promote to float64)."""
    dt = np.result_type(_dtype_arg(x), np.float16) if not isinstance(x, (int, float)) \
        else np.dtype(np.float64)
    return getattr(x, "shape", ()), dt


def same_shape(x, **params):
    return x.shape, x.dtype


def define_elementwise(prim, impl, *, shape_rule=elementwise_shape, jvp=None, vjp=None):
    """Fill the parts every elementwise primitive shares: impl, shape and batch rules."""
    prim.impl = impl
    prim.np_fn = getattr(impl, "ufunc", None)  # the NumPy ufunc, when impl is just that
    prim.shape_rule = shape_rule
    prim.batch = elementwise_batch(prim)
    if jvp is not None:
        defjvp(prim, *jvp)
    if vjp is not None:
        prim.vjp = vjp
    return prim
