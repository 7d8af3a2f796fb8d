"""Products of ``funcgrad.numpy``: matmul, dot, vdot, inner, outer, tensordot, einsum, kron.

Two primitives carry them all: ``matmul`` and ``einsum``.  ``tensordot`` and
N-D ``dot`` move the contracted axes together and reshape, so that each is a
single matrix product (one BLAS call forwards, one per wanted cotangent
backwards).
"""
from __future__ import annotations

import math

import numpy as np

from ..prims import products as P
from ..prims.creation import asarray
from ..prims.shape_ops import reshape, transpose

__all__ = ["matmul", "dot", "vdot", "inner", "outer", "tensordot", "einsum", "einsum_path",
           "kron"]


def _arr(a):
    return a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a)


def _prod(shape):
    return math.prod(shape)


def matmul(x1, x2):
    """Matrix product ``x1 @ x2`` with NumPy's rules.

    1-D operands are promoted (a row vector on the left, a column on the
    right) and the promoted axis removed; leading batch dimensions broadcast.

    Raises:
      ValueError: an operand is 0-d, the contracted sizes differ (the message
        names both shapes and both contracted axes), or batch dims clash.

    Examples:
        >>> fnp.matmul(fnp.ones((2, 3)), fnp.ones(3))
        array([3., 3.])
    """
    return P.matmul(_arr(x1), _arr(x2))


def dot(a, b):
    """``numpy.dot``: scalar product, matrix product, or a sum over the last axis of
    ``a`` and the second-to-last of ``b`` for N-D arrays.

    Examples:
        >>> fnp.dot(fnp.ones((2, 3, 4)), fnp.ones((5, 4, 6))).shape
        (2, 3, 5, 6)
    """
    a, b = _arr(a), _arr(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim == 1 or (a.ndim <= 2 and b.ndim <= 2):
        _check_aligned(a, b, a.ndim - 1, 0 if b.ndim == 1 else b.ndim - 2, "dot")
        return P.matmul(a, b)
    _check_aligned(a, b, a.ndim - 1, b.ndim - 2, "dot")
    return _tensordot(a, b, (a.ndim - 1,), (b.ndim - 2,))


def _check_aligned(a, b, ia, ib, op):
    if a.shape[ia] != b.shape[ib]:
        raise ValueError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} not aligned: "
                         f"{a.shape[ia]} (dim {ia}) != {b.shape[ib]} (dim {ib})")


def vdot(a, b):
    """Dot product of the flattened arrays (real arrays: no conjugation needed)."""
    a, b = _arr(a), _arr(b)
    if a.dtype.kind == "c" or b.dtype.kind == "c":
        raise NotImplementedError("vdot: complex arrays are not supported yet")
    if a.size != b.size:
        raise ValueError(f"vdot: the arrays have {a.size} and {b.size} elements (shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}); they must have as many")
    return P.matmul(reshape(a, (-1,)), reshape(b, (-1,)))


def inner(a, b):
    """Sum product over the last axes of ``a`` and ``b`` (a scalar for 1-D inputs)."""
    a, b = _arr(a), _arr(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    _check_aligned(a, b, a.ndim - 1, b.ndim - 1, "inner")
    if b.ndim == 1:
        return P.matmul(a, b)
    return _tensordot(a, b, (a.ndim - 1,), (b.ndim - 1,))


def outer(a, b):
    """Outer product of the flattened ``a`` and ``b``: ``out[i, j] = a[i] * b[j]``."""
    a, b = _arr(a), _arr(b)
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def _normalize_tensordot_axes(a, b, axes):
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise ValueError(f"tensordot: axes={n} is out of range for shapes "
                             f"{tuple(a.shape)} and {tuple(b.shape)}")
        return tuple(range(a.ndim - n, a.ndim)), tuple(range(n))
    try:
        ax_a, ax_b = axes
    except (TypeError, ValueError):
        raise ValueError(f"tensordot: axes must be an int or a pair of axis sequences, got "
                         f"{axes!r}") from None
    ax_a = (ax_a,) if isinstance(ax_a, (int, np.integer)) else tuple(ax_a)
    ax_b = (ax_b,) if isinstance(ax_b, (int, np.integer)) else tuple(ax_b)
    if len(ax_a) != len(ax_b):
        raise ValueError(f"tensordot: axes {axes!r} list {len(ax_a)} axes of a but "
                         f"{len(ax_b)} of b; they must pair up")
    out = []
    for ax, x, name in ((ax_a, a, "a"), (ax_b, b, "b")):
        norm = []
        for i in ax:
            i = int(i)
            if not -x.ndim <= i < x.ndim:
                raise np.exceptions.AxisError(
                    f"tensordot: axis {i} is out of bounds for {name} of shape "
                    f"{tuple(x.shape)}")
            norm.append(i % x.ndim)
        if len(set(norm)) != len(norm):
            raise ValueError(f"tensordot: repeated axis in {ax!r} for {name}")
        out.append(tuple(norm))
    return out[0], out[1]


def _tensordot(a, b, ax_a, ax_b):
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"tensordot: shape mismatch for sum: a has shape "
                             f"{tuple(a.shape)} and b has shape {tuple(b.shape)}; axis {i} "
                             f"of a (size {a.shape[i]}) and axis {j} of b (size "
                             f"{b.shape[j]}) are contracted")
    free_a = tuple(i for i in range(a.ndim) if i not in ax_a)
    free_b = tuple(j for j in range(b.ndim) if j not in ax_b)
    fa = tuple(a.shape[i] for i in free_a)
    fb = tuple(b.shape[j] for j in free_b)
    k = _prod([a.shape[i] for i in ax_a])
    a2 = reshape(transpose(a, free_a + tuple(ax_a)), (_prod(fa), k))
    b2 = reshape(transpose(b, tuple(ax_b) + free_b), (k, _prod(fb)))
    return reshape(P.matmul(a2, b2), fa + fb)


def tensordot(a, b, axes=2):
    """Sum products over the given axes (``axes`` an int N: the last N of ``a`` with the
    first N of ``b``; or a pair of axis sequences).

    Computed as one matrix product of reshaped operands.

    Examples:
        >>> fnp.tensordot(fnp.ones((3, 4, 5)), fnp.ones((4, 5, 2)), axes=2).shape
        (3, 2)
    """
    a, b = _arr(a), _arr(b)
    ax_a, ax_b = _normalize_tensordot_axes(a, b, axes)
    return _tensordot(a, b, ax_a, ax_b)


def _interleaved(args):
    """``einsum(op0, sublist0, op1, sublist1, ..., [sublist_out])`` as a string form."""
    args = list(args)
    out = args.pop() if len(args) % 2 else None

    def letters(sub):
        s = ""
        for v in sub:
            if v is Ellipsis:
                s += "..."
            else:
                v = int(v)
                if not 0 <= v < 52:
                    raise ValueError(f"einsum: sublist index {v} is out of range [0, 52)")
                s += P._LETTERS[v]
        return s
    ops = args[0::2]
    subs = ",".join(letters(s) for s in args[1::2])
    if out is not None:
        subs += "->" + letters(out)
    return subs, ops


def einsum(*operands, optimize=True, **kwargs):
    """Einstein summation, NumPy's string (or interleaved sublist) form.

    Implicit output, ``...`` broadcasting, traces (``"ii"``), diagonals
    (``"ii->i"``) and repeated operands all work and are differentiable.  The
    contraction order is planned by opt_einsum once per (subscripts, shapes)
    and cached; ``optimize`` is accepted for compatibility and ignored.

    Raises:
      ValueError: malformed subscripts, a wrong operand count, or sizes that
        disagree for one index (the message names them).

    Examples:
        >>> fnp.einsum("bij,bjk->bik", fnp.ones((2, 3, 4)), fnp.ones((2, 4, 5))).shape
        (2, 3, 5)
    """
    if kwargs:
        raise TypeError(f"einsum: unsupported keyword argument(s) {sorted(kwargs)} (out= "
                        "cannot be written under a transform)")
    if not operands:
        raise ValueError("einsum: no subscripts given")
    if isinstance(operands[0], str):
        subscripts, ops = operands[0], operands[1:]
    else:
        subscripts, ops = _interleaved(operands)
    return P.einsum(subscripts, *[_arr(o) for o in ops])


def einsum_path(*operands, optimize="greedy", einsum_call=False):
    """``numpy.einsum_path`` on the operands' shapes (values are never read)."""
    if isinstance(operands[0], str):
        subs, ops = operands[0], operands[1:]
    else:
        subs, ops = _interleaved(operands)
    stand_ins = [np.broadcast_to(np.zeros((), dtype=_arr(o).dtype), tuple(_arr(o).shape))
                 for o in ops]
    return np.einsum_path(subs, *stand_ins, optimize=optimize, einsum_call=einsum_call)


def kron(a, b):
    """Kronecker product: blocks ``a[i, j] * b``.

    Examples:
        >>> fnp.kron(fnp.eye(2), fnp.ones((2, 2))).shape
        (4, 4)
    """
    a, b = _arr(a), _arr(b)
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + tuple(a.shape)
    sb = (1,) * (nd - b.ndim) + tuple(b.shape)
    a2 = reshape(a, tuple(x for s in sa for x in (s, 1)))
    b2 = reshape(b, tuple(x for s in sb for x in (1, s)))
    return reshape(a2 * b2, tuple(x * y for x, y in zip(sa, sb)))
