"""Array creation.  Not primitives: new arrays are constants to every transform.

The backend is taken from a reference array where there is one (``*_like``),
otherwise from the default device (see :mod:`funcgrad.backends`).
"""
from __future__ import annotations

import numpy as np

from .. import backends
from ..core import Tracer


def _xp_of(x):
    """The namespace of ``x``'s device, looking through tracers (vmap, grad, Tensor)."""
    return backends.namespace_of_value(x)


def zeros_like(x, dtype=None, shape=None):
    """Zeros with the shape, dtype and backend of ``x`` (a constant even if ``x`` is traced)."""
    xp = _xp_of(x)
    return xp.zeros(tuple(x.shape) if shape is None else shape,
                    dtype=x.dtype if dtype is None else dtype)


def ones_like(x, dtype=None, shape=None):
    xp = _xp_of(x)
    return xp.ones(tuple(x.shape) if shape is None else shape,
                   dtype=x.dtype if dtype is None else dtype)


def full_like(x, fill_value, dtype=None, shape=None):
    xp = _xp_of(x)
    return xp.full(tuple(x.shape) if shape is None else shape, fill_value,
                   dtype=x.dtype if dtype is None else dtype)


def empty_like(x, dtype=None, shape=None):
    return zeros_like(x, dtype=dtype, shape=shape)


def zeros(shape, dtype=float, device=None):
    """Zeros on ``device`` (default: the default device, see :mod:`funcgrad.device`)."""
    return _factory(device).zeros(shape, dtype=dtype)


def ones(shape, dtype=float, device=None):
    return _factory(device).ones(shape, dtype=dtype)


def full(shape, fill_value, dtype=None, device=None):
    return _factory(device).full(shape, fill_value, dtype=dtype)


def empty(shape, dtype=float, device=None):
    return _factory(device).zeros(shape, dtype=dtype)


def eye(N, M=None, k=0, dtype=float, device=None):
    return _factory(device).eye(N, M, k=k, dtype=dtype)


def identity(n, dtype=float, device=None):
    return _factory(device).eye(n, dtype=dtype)


def arange(*args, dtype=None, device=None, **kwargs):
    return _factory(device).arange(*args, dtype=dtype, **kwargs)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
             device=None):
    return _factory(device).linspace(start, stop, num, endpoint=endpoint, retstep=retstep,
                                     dtype=dtype, axis=axis)


def _factory(device):
    if device is None:
        return backends.default_namespace()
    from ..device import parse_device_spec
    return backends.factory(parse_device_spec(device, "device="))


def asarray(x, dtype=None):
    """``x`` as an array; traced values pass through (cast if ``dtype`` is given)."""
    if isinstance(x, Tracer):
        if dtype is None:
            return x
        from .elementwise import convert
        return convert(x, dtype)
    if isinstance(x, (list, tuple)) and any(isinstance(e, Tracer) for e in _flat(x)):
        from .shape_ops import stack_any
        return stack_any(x, dtype)
    if hasattr(x, "dtype") and hasattr(x, "shape"):
        return backends.namespace_of((x,)).asarray(x, dtype=dtype)
    # Python numbers and lists are made on the default device.
    return backends.default_namespace().asarray(x, dtype=dtype)


def _flat(x):
    for e in x:
        if isinstance(e, (list, tuple)):
            yield from _flat(e)
        else:
            yield e


__all__ = ["zeros_like", "ones_like", "full_like", "empty_like", "zeros", "ones", "full",
           "empty", "eye", "identity", "arange", "linspace", "asarray"]
