"""Operators and array methods of :class:`funcgrad.core.Tracer`, via funcgrad.numpy.

Installed once at import, so that code written for NumPy arrays (``x @ W + b``,
``x.sum(axis=0)``, ``x[1:]``, ``x.T``) runs unchanged on traced values.
"""
from __future__ import annotations

import funcgrad.numpy as fnp

from ..core import EMPTY_PARAMS as E, Tracer, bind
from ..prims import elementwise as P
from ..prims.indexing import _IndexUpdateHelper, getitem


def _swap(f):
    return lambda self, other: f(other, self)


def install():
    T = Tracer
    T.__add__ = lambda s, o: bind(P.add_p, (s, o), E)
    T.__radd__ = lambda s, o: bind(P.add_p, (o, s), E)
    T.__sub__ = lambda s, o: bind(P.subtract_p, (s, o), E)
    T.__rsub__ = lambda s, o: bind(P.subtract_p, (o, s), E)
    T.__mul__ = lambda s, o: bind(P.multiply_p, (s, o), E)
    T.__rmul__ = lambda s, o: bind(P.multiply_p, (o, s), E)
    T.__truediv__ = lambda s, o: bind(P.divide_p, (s, o), E)
    T.__rtruediv__ = lambda s, o: bind(P.divide_p, (o, s), E)
    T.__floordiv__ = lambda s, o: fnp.floor_divide(s, o)
    T.__rfloordiv__ = lambda s, o: fnp.floor_divide(o, s)
    T.__mod__ = lambda s, o: fnp.remainder(s, o)
    T.__rmod__ = lambda s, o: fnp.remainder(o, s)
    T.__pow__ = lambda s, o: bind(P.power_p, (s, o), E)
    T.__rpow__ = lambda s, o: bind(P.power_p, (o, s), E)
    T.__matmul__ = lambda s, o: fnp.matmul(s, o)
    T.__rmatmul__ = lambda s, o: fnp.matmul(o, s)
    T.__neg__ = lambda s: bind(P.negative_p, (s,), E)
    T.__pos__ = lambda s: s
    T.__abs__ = lambda s: fnp.abs(s)
    T.__eq__ = lambda s, o: bind(P.equal_p, (s, o), E)
    T.__ne__ = lambda s, o: bind(P.not_equal_p, (s, o), E)
    T.__lt__ = lambda s, o: bind(P.less_p, (s, o), E)
    T.__le__ = lambda s, o: bind(P.less_equal_p, (s, o), E)
    T.__gt__ = lambda s, o: bind(P.greater_p, (s, o), E)
    T.__ge__ = lambda s, o: bind(P.greater_equal_p, (s, o), E)
    T.__and__ = lambda s, o: _logic(fnp.bitwise_and, fnp.logical_and, s, o)
    T.__rand__ = lambda s, o: _logic(fnp.bitwise_and, fnp.logical_and, o, s)
    T.__or__ = lambda s, o: _logic(fnp.bitwise_or, fnp.logical_or, s, o)
    T.__ror__ = lambda s, o: _logic(fnp.bitwise_or, fnp.logical_or, o, s)
    T.__xor__ = lambda s, o: _logic(fnp.bitwise_xor, fnp.logical_xor, s, o)
    T.__invert__ = lambda s: fnp.logical_not(s) if s.dtype.kind == "b" else fnp.invert(s)
    T.__getitem__ = lambda s, idx: getitem(s, idx)
    T.__setitem__ = _no_setitem
    T.T = property(lambda s: fnp.transpose(s))
    T.mT = property(lambda s: fnp.swapaxes(s, -1, -2))
    T.at = property(lambda s: _IndexUpdateHelper(s))
    T.reshape = lambda s, *shape, order="C": fnp.reshape(
        s, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)
    T.transpose = lambda s, *axes: fnp.transpose(
        s, None if not axes else (axes[0] if len(axes) == 1 and not isinstance(axes[0], int)
                                  else axes))
    T.swapaxes = lambda s, a, b: fnp.swapaxes(s, a, b)
    T.flatten = lambda s: fnp.ravel(s)
    T.ravel = lambda s: fnp.ravel(s)
    T.squeeze = lambda s, axis=None: fnp.squeeze(s, axis)
    T.astype = lambda s, dtype: P.convert(s, dtype)
    T.copy = lambda s: s
    T.sum = lambda s, axis=None, dtype=None, keepdims=False: fnp.sum(s, axis, dtype, keepdims)
    T.mean = lambda s, axis=None, dtype=None, keepdims=False: fnp.mean(s, axis, dtype,
                                                                        keepdims)
    T.var = lambda s, axis=None, dtype=None, ddof=0, keepdims=False: fnp.var(
        s, axis, dtype, ddof, keepdims)
    T.std = lambda s, axis=None, dtype=None, ddof=0, keepdims=False: fnp.std(
        s, axis, dtype, ddof, keepdims)
    T.max = lambda s, axis=None, keepdims=False: fnp.max(s, axis, keepdims)
    T.min = lambda s, axis=None, keepdims=False: fnp.min(s, axis, keepdims)
    T.argmax = lambda s, axis=None, keepdims=False: fnp.argmax(s, axis, keepdims)
    T.argmin = lambda s, axis=None, keepdims=False: fnp.argmin(s, axis, keepdims)
    T.all = lambda s, axis=None, keepdims=False: fnp.all(s, axis, keepdims)
    T.any = lambda s, axis=None, keepdims=False: fnp.any(s, axis, keepdims)
    T.clip = lambda s, a_min=None, a_max=None: fnp.clip(s, a_min, a_max)
    T.round = lambda s, decimals=0: fnp.round(s, decimals)
    T.dot = lambda s, o: fnp.dot(s, o)
    T.conj = lambda s: fnp.conj(s)
    T.real = property(lambda s: fnp.real(s))
    for name in ("prod", "cumsum", "cumprod", "repeat", "take", "sort", "argsort", "trace",
                 "diagonal", "nonzero"):
        setattr(T, name, _forward(name))


def _forward(name):
    def method(self, *args, **kwargs):
        return getattr(fnp, name)(self, *args, **kwargs)
    method.__name__ = name
    return method


def _logic(bitwise, logical, a, b):
    da = getattr(a, "dtype", None)
    if da is not None and da.kind == "b":
        return logical(a, b)
    return bitwise(a, b)


def _no_setitem(self, idx, value):
    raise TypeError(
        "Traced arrays are immutable: `x[idx] = v` cannot be recorded. Use the "
        "functional update `x = x.at[idx].set(v)` (or .add/.multiply/.min/.max).")
