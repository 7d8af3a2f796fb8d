"""Helpers shared by the layer families: parameter creation and default dtype."""
from __future__ import annotations

import math

import numpy as np

from ...tensor import Tensor
from .. import init
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


def register_weight_and_bias(module, weight_shape, out_features, bias, dtype=None):
    """Give ``module`` an uninitialised ``weight`` of ``weight_shape`` and, with ``bias``,
    a ``bias`` of ``(out_features,)``; otherwise ``bias`` is registered as None."""
    module.weight = empty_parameter(weight_shape, dtype)
    if bias:
        module.bias = empty_parameter((out_features,), dtype)
    else:
        module.register_parameter("bias", None)


def kaiming_uniform_weight_and_bias_(weight, bias, skip_bias_without_fan_in=False):
    """PyTorch's default init of Linear and Conv layers.

    ``weight`` gets ``kaiming_uniform_(a=sqrt(5))``; ``bias`` (if not None) gets
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)).  When fan_in is 0, Linear fills the bias
    from U(0, 0) while Conv leaves it as it is: ``skip_bias_without_fan_in=True``
    gives the Conv behaviour.
    """
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        if fan_in == 0 and skip_bias_without_fan_in:
            return
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)
