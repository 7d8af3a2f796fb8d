"""Special functions: the error function (exact GELU, normal CDFs).

NumPy has no ``erf``; SciPy's is used when it is installed, otherwise the
standard library's ``math.erf`` elementwise (exact to rounding, slower).
CuPy has its own in ``cupyx.scipy.special``.
"""
from __future__ import annotations

import math

import numpy as np

from ._rules import define_elementwise, unary_float_shape

from ..core import Primitive

_math_erf = np.vectorize(math.erf, otypes=[np.float64])
_scipy_erf = None  # looked up on first use: importing SciPy costs ~0.5 s at import time


def _erf_impl(xp, x):
    global _scipy_erf
    if _scipy_erf is None:
        try:  # SciPy is optional: a fast vectorised erf when present.
            from scipy.special import erf as _scipy_erf
        except ImportError:  # pragma: no cover - depends on the environment
            _scipy_erf = False
    if _scipy_erf:
        return _scipy_erf(x)
    out = _math_erf(x)
    dt = np.result_type(x, np.float16)
    return out.astype(dt) if out.dtype != dt else out


def _erf_cupy(xp, x):  # pragma: no cover - needs a GPU
    from cupyx.scipy.special import erf
    return erf(x)


# d erf(x) = 2/sqrt(pi) * exp(-x^2)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
erf_p = define_elementwise(
    Primitive("erf"), _erf_impl, shape_rule=unary_float_shape,
    jvp=(lambda t, out, x: t * (_TWO_OVER_SQRT_PI * _exp(-(x * x))),),
    vjp=lambda out, x: lambda ct: (ct * (_TWO_OVER_SQRT_PI * _exp(-(x * x))),))
erf_p.impls["cupy"] = _erf_cupy


def _exp(x):
    from .elementwise import exp_p
    return exp_p.bind(x)


def erf(x):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, elementwise.

    Examples:
        >>> import numpy as np
        >>> float(erf(np.array(0.5)))  # doctest: +ELLIPSIS
        0.5204998778...
    """
    return erf_p.bind(x)


__all__ = ["erf", "erf_p"]
