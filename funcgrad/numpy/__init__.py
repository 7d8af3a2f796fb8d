"""``import funcgrad.numpy as fnp``: NumPy's API, differentiable.

Functions take and return plain backend arrays (``numpy.ndarray``, or CuPy
arrays) outside transforms, and traced values inside them.  Names, signatures,
broadcasting and dtype promotion follow NumPy 2.
"""
from __future__ import annotations

import numpy as _np

from ..prims.creation import (arange, asarray, empty, empty_like, eye, full, full_like,  # noqa
                              identity, linspace, ones, ones_like, zeros, zeros_like)
from ..prims.elementwise import stop_gradient  # noqa: F401
from .math import *  # noqa: F401,F403
from .math import abs, round, pow  # noqa: F401,A004
from .reductions import *  # noqa: F401,F403
from .reductions import sum, max, min, all, any  # noqa: F401,A004
from .shapes import *  # noqa: F401,F403
from .shapes import shape, ndim, size  # noqa: F401
from .indexing import *  # noqa: F401,F403
from .indexing import at, getitem  # noqa: F401
from .products import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from . import linalg  # noqa: F401

# dtypes and constants, so fnp.float32 / fnp.pi work like np.float32 / np.pi.
float16, float32, float64 = _np.float16, _np.float32, _np.float64
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
bool_ = _np.bool_
complex64, complex128 = _np.complex64, _np.complex128
ndarray = _np.ndarray
dtype = _np.dtype
finfo, iinfo = _np.finfo, _np.iinfo
result_type, promote_types, can_cast = _np.result_type, _np.promote_types, _np.can_cast
issubdtype = _np.issubdtype
floating, integer, number, inexact = _np.floating, _np.integer, _np.number, _np.inexact
pi, e, inf, nan, newaxis, euler_gamma = _np.pi, _np.e, _np.inf, _np.nan, None, _np.euler_gamma


def array(object, dtype=None, copy=True, ndmin=0):  # noqa: A002 - NumPy's name
    """Create an array (traced values pass through, or are stacked from lists)."""
    out = asarray(object, dtype=dtype)
    if ndmin and out.ndim < ndmin:
        out = reshape(out, (1,) * (ndmin - out.ndim) + tuple(out.shape))  # noqa: F405
    if copy and isinstance(out, _np.ndarray) and out is object:
        out = out.copy()
    return out


def copy(a):
    """A copy of ``a`` (values are immutable under transforms, so tracers pass through)."""
    a = asarray(a)
    return a.copy() if isinstance(a, _np.ndarray) else a


def astype(x, dtype):
    from ..prims.elementwise import convert
    return convert(asarray(x), dtype)
