"""Small helpers shared by the ``nn.functional`` families."""
from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from ...core import Tracer
from ...prims.elementwise import relu as _relu
from ...tensor import Tensor


def arr(x):
    """``x`` if it is an array, Tensor or traced value; else an array of it."""
    if isinstance(x, (Tracer, np.ndarray)):  # the common cases first (a Tensor is a Tracer)
        return x
    return x if hasattr(x, "shape") and hasattr(x, "dtype") else fnp.asarray(x)


def concrete_or_none(x):
    """A NumPy view of ``x``'s values, or None when they are traced (under a transform)."""
    if isinstance(x, Tensor):
        x = x._data
    if isinstance(x, Tracer):
        return None
    if hasattr(x, "get") and not isinstance(x, np.ndarray):  # CuPy
        return x.get()
    return np.asarray(x)


def shape_str(shape):
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


_REDUCTIONS = ("none", "mean", "sum")


def legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated ``size_average``/``reduce`` flags mapped to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def check_reduction(reduction, op, extra=()):
    if reduction not in _REDUCTIONS + tuple(extra):
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; use one "
                         f"of {', '.join(repr(r) for r in _REDUCTIONS + tuple(extra))}")


def reduce(loss, reduction, op):
    """Apply ``reduction`` ('none' | 'mean' | 'sum') to an elementwise loss."""
    if reduction == "none":
        return loss
    if reduction == "mean":
        return fnp.mean(loss)
    if reduction == "sum":
        return fnp.sum(loss)
    check_reduction(reduction, op)


# max(x, 0) with derivative 0 at 0 (PyTorch's convention): the relu primitive itself.
relu0 = _relu


def log1pexp(x):
    """``log(1 + exp(x))`` without overflow, with the exact derivative (sigmoid) everywhere.

    (Written per sign, so that no kink of max/abs sits at 0.)
    """
    pos = x > 0
    return fnp.where(pos, x, 0.0) + fnp.log1p(fnp.exp(fnp.where(pos, -x, x)))


def clamp_keep_grad(x, lo=None, hi=None):
    """``x`` clamped to [lo, hi] in value, with the derivative of the identity.

    (PyTorch clamps some values under ``no_grad``, so the derivative passes
    through the clamp; ``gaussian_nll_loss``'s variance is one.)
    """
    c = fnp.clip(fnp.stop_gradient(x), lo, hi)
    return x + fnp.stop_gradient(c - x)
