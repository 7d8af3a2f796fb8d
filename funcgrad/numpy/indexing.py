"""Indexing helpers of ``funcgrad.numpy``: take, take_along_axis, pad, nonzero, ...

Gathers and scatters go through the ``gather``/``scatter`` primitives.
"""
from __future__ import annotations

import numpy as np

from ..core import Tracer, concrete
from ..prims.creation import asarray
from ..prims.indexing import at, getitem  # noqa: F401 - re-exported


def nonzero(a):
    """Indices of non-zero elements (needs concrete values: not under vmap/jit)."""
    a = concrete(a) if isinstance(a, Tracer) else asarray(a)
    return np.nonzero(a)
