"""Helpers shared by the layer families: parameter creation and default dtype."""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor
from ..parameter import Parameter


def default_dtype(dtype=None):
    """``dtype``, or the PyTorch-style front's default (float32 unless changed)."""
    if dtype is not None:
        return np.dtype(dtype)
    import funcgrad
    get = getattr(funcgrad, "get_default_dtype", None)
    return np.dtype(get()) if get is not None else np.dtype(np.float32)


def empty_parameter(shape, dtype=None, requires_grad=True):
    """An uninitialised Parameter (filled by the layer's ``reset_parameters``)."""
    return Parameter(np.zeros(tuple(shape), dtype=default_dtype(dtype)), requires_grad)


def filled(shape, value, dtype=None):
    return np.full(tuple(shape), value, dtype=default_dtype(dtype))


def as_tensor(x):
    """``x`` as a Tensor (for buffers given as arrays), or None."""
    if x is None or isinstance(x, Tensor):
        return x
    return Tensor(np.asarray(x))


def ntuple(v, n):
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v,) * n
