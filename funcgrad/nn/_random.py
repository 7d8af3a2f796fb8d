"""Where ``funcgrad.nn`` draws random numbers (initialisers, dropout masks).

Every draw takes a fresh key from the global generator behind
``funcgrad.manual_seed`` (:data:`funcgrad.random.default_generator`), or
from the ``generator`` given, so models initialise and drop out
reproducibly.  Draws are concrete NumPy arrays made on the host: shapes are
static even under transforms.
"""
from __future__ import annotations

import threading

import numpy as np

from .. import random as fr


class _DrawHook(threading.local):
    hook = None


# While funcgrad.compile traces a model, ``hook(sample, generator)`` takes every
# draw: ``sample(key)`` makes it from a key.  The compiled program receives the
# draws as inputs, made fresh for each call from the same generator and in the
# same order as eager code would, instead of baking one draw in as a constant.
_draw_hook = _DrawHook()


def _draw(sample, generator):
    hook = _draw_hook.hook
    if hook is not None:
        return hook(sample, generator)
    return sample(fr.next_key(generator))


def _float_dtype(dtype):
    dt = np.dtype(dtype)
    return dt if dt.kind == "f" else np.dtype(np.float32)


def uniform(shape, low=0.0, high=1.0, dtype=np.float32, generator=None):
    """U(low, high) samples of ``shape``, as an array of ``dtype``."""
    shape, dt = tuple(shape), _float_dtype(dtype)
    return _draw(lambda k: fr.uniform(k, shape, dtype=dt, minval=low, maxval=high), generator)


def normal(shape, mean=0.0, std=1.0, dtype=np.float32, generator=None):
    """N(mean, std^2) samples of ``shape``."""
    shape, dt = tuple(shape), _float_dtype(dtype)

    def sample(k):
        z = fr.normal(k, shape, dtype=dt)
        return z * np.asarray(std, dtype=z.dtype) + np.asarray(mean, dtype=z.dtype)
    return _draw(sample, generator)


def bernoulli(shape, p, generator=None, dtype=None):
    """Samples of ``shape``, True with probability ``p`` (as ``dtype``: 1/0, if given)."""
    shape = tuple(shape)

    def sample(k):
        b = fr.uniform(k, shape) < p
        return b if dtype is None else b.astype(dtype)
    return _draw(sample, generator)


def permutation(n, generator=None):
    """A random permutation of ``range(n)``."""
    n = int(n)
    return _draw(lambda k: fr.permutation(k, n), generator)
