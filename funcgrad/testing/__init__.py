"""Property-based gradient testing, for your functions and rules as for ours.

``check_grads(f, args)`` compares funcgrad's derivatives of ``f`` with central
finite differences along random directions, in float64, in forward mode and
reverse mode, and -- with ``order=2`` -- does the same for the derivative
functions themselves.  ``funcgrad.testing.strategies`` has hypothesis
strategies for arrays within a domain, broadcast-compatible shapes, pytrees of
arrays and well-conditioned or SPD matrices.

Example:
    >>> import funcgrad.numpy as fnp
    >>> from funcgrad.testing import check_grads
    >>> check_grads(lambda x: fnp.sin(x) * x, (fnp.linspace(0.1, 1.0, 4),))
"""
from __future__ import annotations

from .check import GradCheckError, check_grads, check_jvp_vjp_transpose, numerical_jvp

__all__ = ["check_grads", "check_jvp_vjp_transpose", "numerical_jvp", "GradCheckError"]
