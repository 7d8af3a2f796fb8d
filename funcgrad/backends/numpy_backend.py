"""The NumPy backend record: the CPU, always available."""
from __future__ import annotations

import contextlib

import numpy as np

from . import Backend

_UFUNCS = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}


def _asarray(x, index=None):
    if type(x) is np.ndarray:
        return x
    from . import _FOREIGN_ARRAY_TYPES
    b = _FOREIGN_ARRAY_TYPES.get(type(x))
    if b is not None:
        return b.to_numpy(x)
    return np.asarray(x)


def _scatter(out, idx, updates, mode):
    """In place: ``out[idx] (mode)= updates``, repeated indices accumulating (NumPy semantics)."""
    if mode == "set":
        out[idx] = updates  # repeated indices: the last write wins
    else:
        _UFUNCS[mode].at(out, idx, updates)
    return out


def _rng(seed=None, index=None):
    return np.random.default_rng(seed)


BACKEND = Backend(
    "numpy", np, "cpu", (np.ndarray, np.generic), "numpy",
    asarray=_asarray,
    to_numpy=_asarray,
    device_index=lambda x: None,
    current_index=lambda: None,
    device_count=lambda: 1,
    on_device=lambda index: contextlib.nullcontext(),
    needs_switch=lambda index: False,
    rng=_rng,
    scatter=_scatter,
    supports_dtype=lambda dtype, index=None: True,
    synchronize=lambda index=None: None,
)
