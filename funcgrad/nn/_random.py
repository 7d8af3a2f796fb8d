"""Where ``funcgrad.nn`` draws random numbers (initialisers, dropout masks).

Every draw takes a fresh key from the global generator behind
``funcgrad.manual_seed`` (:data:`funcgrad.random.default_generator`), or
from the ``generator`` given, so models initialise and drop out
reproducibly.  Draws are concrete NumPy arrays made on the host: shapes are
static even under transforms.
"""
from __future__ import annotations

import numpy as np

from .. import random as fr


def _float_dtype(dtype):
    dt = np.dtype(dtype)
    return dt if dt.kind == "f" else np.dtype(np.float32)


def uniform(shape, low=0.0, high=1.0, dtype=np.float32, generator=None):
    """U(low, high) samples of ``shape``, as an array of ``dtype``."""
    return fr.uniform(fr.next_key(generator), tuple(shape), dtype=_float_dtype(dtype),
                      minval=low, maxval=high)


def normal(shape, mean=0.0, std=1.0, dtype=np.float32, generator=None):
    """N(mean, std^2) samples of ``shape``."""
    z = fr.normal(fr.next_key(generator), tuple(shape), dtype=_float_dtype(dtype))
    return z * np.asarray(std, dtype=z.dtype) + np.asarray(mean, dtype=z.dtype)


def bernoulli(shape, p, generator=None):
    """Boolean samples of ``shape``, True with probability ``p``."""
    return fr.uniform(fr.next_key(generator), tuple(shape)) < p


def permutation(n, generator=None):
    """A random permutation of ``range(n)``."""
    return fr.permutation(fr.next_key(generator), int(n))
