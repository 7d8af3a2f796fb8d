"""A NumPy-backed stand-in for ``cupyx`` -- a TEST DOUBLE (see fake_cupy.py).

Only the names in ``api.py`` exist.  ``scatter_add/max/min`` keep CuPy's
dtype limits (its atomics), so a caller that forgets them fails here too.
"""
from __future__ import annotations

import contextlib
import math
import sys
import types

import numpy as _np

_cupy = sys.modules["cupy"]
_api = _cupy._api

# CuPy's atomics (cupy/_core/_routines_indexing.pyx, _scatter_op_single).
_ADD_DTYPES = frozenset(map(_np.dtype, ("int32", "uint32", "uint64", "float16", "float32",
                                        "float64")))
_MINMAX_DTYPES = frozenset(map(_np.dtype, ("int32", "int64", "uint32", "uint64", "float32",
                                           "float64")))


def _scatter(name, ufunc, dtypes):
    def scatter(a, slices, value):
        if type(a) is not _cupy.ndarray:
            raise TypeError(f"{name}: a must be a cupy.ndarray, got {type(a)}")
        if a.dtype not in dtypes:
            raise TypeError(f"cupy.{ufunc.__name__}.at only supports "
                            f"{', '.join(sorted(d.name for d in dtypes))} as data type")
        found = []
        idx = _cupy._unwrap_all(slices if isinstance(slices, tuple) else (slices,), found)
        val = _cupy._unwrap_all(value, found)
        _cupy._operand_device([a] + found)
        _cupy._kernel()
        ufunc.at(a.view(_np.ndarray), idx, val)
    scatter.__name__ = name
    return scatter


scatter_add = _scatter("scatter_add", _np.add, _ADD_DTYPES)
scatter_max = _scatter("scatter_max", _np.maximum, _MINMAX_DTYPES)
scatter_min = _scatter("scatter_min", _np.minimum, _MINMAX_DTYPES)


@contextlib.contextmanager
def errstate(*, linalg=None):
    """``cupyx.errstate(linalg="raise")``: NumPy raises LinAlgError anyway."""
    yield


_erf = _np.vectorize(math.erf, otypes=[_np.float64])


def _special_erf(x):
    found = []
    base = _cupy._unwrap_all(x, found)
    dev = _cupy._operand_device(found)
    out = _erf(base)
    dt = _np.result_type(base, _np.float16)
    return _cupy._wrap(out.astype(dt), dev)


special = types.ModuleType("cupyx.scipy.special")
special.erf = _special_erf
scipy = types.ModuleType("cupyx.scipy")
scipy.special = special

SUBMODULES = {"cupyx.scipy": scipy, "cupyx.scipy.special": special}


def __getattr__(name):
    raise AttributeError(f"module 'cupyx' (the NumPy test double) has no attribute {name!r}: "
                         "see tests/cupy_double/api.py")
