"""Array backends: NumPy (always there) and CuPy (imported only when used).

A backend is chosen by the arrays an operation receives.  While no CuPy array
has ever been created, :func:`namespace_of` answers NumPy at the cost of one
global lookup, so the CPU hot path pays nothing for GPU support.
"""
from __future__ import annotations

import numpy as np

# Array types of non-NumPy backends seen so far, mapped to their namespace.
# Filled by the CuPy backend when it is first imported.
_FOREIGN_ARRAY_TYPES: dict[type, object] = {}


def namespace_of(args):
    """The array namespace (``numpy`` or ``cupy``) for an operation on ``args``."""
    if not _FOREIGN_ARRAY_TYPES:
        return np
    for a in args:
        xp = _FOREIGN_ARRAY_TYPES.get(type(a))
        if xp is not None:
            return xp
    return np


def register_array_type(array_type, xp):
    """Route operations on ``array_type`` to namespace ``xp`` (used by backends)."""
    _FOREIGN_ARRAY_TYPES[array_type] = xp


def default_namespace():
    """The namespace for arrays created with no array input (the default device)."""
    return np
