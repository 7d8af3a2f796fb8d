"""Product primitives: ``matmul`` (bilinear) and ``einsum`` (multilinear, variadic).

``matmul`` follows NumPy: 1-D operands are promoted (a vector on the left is a
row, on the right a column, and the promoted axis is dropped from the
result), and leading batch dimensions broadcast.  Its VJP computes only the
cotangents that are wanted (``defbilinear``'s ``needs``): in ``x @ W`` with
``x`` data, the backward pass does one product, not two.

``einsum`` takes its subscripts as a parameter in explicit form
(``"ij,jk->ik"``: no ellipsis, no implicit output, sizes checked); the
wrapper :func:`einsum` normalises any NumPy-style string into that form.
The implementation runs ``opt_einsum`` with a contraction expression cached
per (subscripts, shapes), so the contraction order is planned once.  The
cotangent of each operand is another einsum of the cotangent with the other
operands; see :func:`_einsum_transpose` for repeated and summed-out indices.
"""
from __future__ import annotations

import functools
import math
import string

import numpy as np

from ..core import Primitive
from ._rules import defbilinear
from .shape_ops import broadcast_to, moveaxis, reshape, transpose


def _swap(x):
    """``x`` with its last two axes exchanged (a matrix transpose per batch entry)."""
    nd = x.ndim
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _squeeze_axis(x, axis):
    shape = tuple(x.shape)
    axis %= len(shape)
    return reshape(x, shape[:axis] + shape[axis + 1:])


def _insert_axis(x, axis):
    shape = tuple(x.shape)
    axis = axis % (len(shape) + 1)
    return reshape(x, shape[:axis] + (1,) + shape[axis:])


# --------------------------------------------------------------------------- #
# matmul
# --------------------------------------------------------------------------- #
def _matmul_shape(x, y):
    xs, ys = tuple(x.shape), tuple(y.shape)
    if len(xs) == 1 and len(ys) == 1:
        shape = ()
    elif len(xs) == 1:
        shape = ys[:-2] + ys[-1:]
    elif len(ys) == 1:
        shape = xs[:-1]
    else:
        shape = np.broadcast_shapes(xs[:-2], ys[:-2]) + (xs[-2], ys[-1])
    return shape, np.result_type(x.dtype, y.dtype)


matmul_p = Primitive("matmul")
matmul_p.impl = lambda xp, x, y: xp.matmul(x, y)
matmul_p.shape_rule = _matmul_shape
_mm = matmul_p.bind


# ct_x = ct @ y^T and ct_y = x^T @ ct, with 1-D operands promoted.  A
# cotangent may carry broadcast batch dims: the backward pass sums them.
def _matmul_t_lhs(ct, xa, y):
    if y.ndim == 1:
        return ct * y if xa.ndim == 1 else _insert_axis(ct, -1) * y  # outer product
    if xa.ndim == 1:
        if ct.ndim == 1:
            return _mm(y, ct)
        return _squeeze_axis(_mm(y, _insert_axis(ct, -1)), -1)
    return _mm(ct, _swap(y))


def _matmul_t_rhs(ct, x, ya):
    if x.ndim == 1:
        return ct * x if ya.ndim == 1 else _insert_axis(x, -1) * _insert_axis(ct, -2)
    if ya.ndim == 1:
        # ct has x's batch and row axes exactly: one matrix-vector product.
        rows = _prod(x.shape[:-1])
        return _mm(reshape(ct, (rows,)), reshape(x, (rows, x.shape[-1])))
    if ya.ndim == 2 and x.ndim > 2:
        # One GEMM over the flattened batch rather than a batched product that
        # the backward pass would then sum (x @ W with x of shape (B, T, k)).
        rows = _prod(x.shape[:-1])
        return _mm(_swap(reshape(x, (rows, x.shape[-1]))),
                   reshape(ct, (rows, ct.shape[-1])))
    return _mm(_swap(x), ct)


def _prod(shape):
    return math.prod(shape)


defbilinear(matmul_p, _matmul_t_lhs, _matmul_t_rhs)
_bilinear_matmul_vjp = matmul_p.vjp


def _fortran_matrix(y):
    """Whether ``y``'s data is a column-major 2-D view (e.g. ``w.T`` of a weight)."""
    from ..core import ConcretizationError, concrete
    try:
        a = concrete(y)
        while not isinstance(a, np.ndarray) and hasattr(a, "_data"):
            a = a._data  # a Tensor's array
    except ConcretizationError:  # staged (jit): the layout is not known
        return False
    return isinstance(a, np.ndarray) and a.ndim == 2 and a.flags.f_contiguous and \
        not a.flags.c_contiguous


def _matmul_vjp(out, x, y, needs):
    # F.linear computes x @ w.T: w.T is a column-major view, and the usual
    # cotangent x.T @ ct is row-major, so the transpose's backward would hand
    # the optimizer a column-major gradient for a row-major weight -- and every
    # later elementwise op mixing the two runs a strided loop (~20x slower).
    # Give y's cotangent y's own layout instead: (ct.T @ x).T, same GEMM cost.
    if needs[1] and x.ndim >= 2 and _fortran_matrix(y):
        vjp_x = _bilinear_matmul_vjp(out, x, y, needs=(needs[0], False))
        rows = _prod(x.shape[:-1])

        def vjp(ct):
            ct_y = _swap(_mm(_swap(reshape(ct, (rows, ct.shape[-1]))),
                             reshape(x, (rows, x.shape[-1]))))
            return vjp_x(ct)[0], ct_y
        return vjp
    return _bilinear_matmul_vjp(out, x, y, needs=needs)


matmul_p.vjp = _matmul_vjp


def _pad_batched(v, r, nb):
    """Batch-first ``v`` (per-example rank ``r`` >= 2) with ``nb`` per-example batch dims."""
    pad = nb - (r - 2)
    if pad:
        v = reshape(v, (v.shape[0],) + (1,) * pad + tuple(v.shape[1:]))
    return v


def _matmul_batch(vals, dims):
    x, y = vals
    dx, dy = dims
    rx = x.ndim - (dx is not None)
    ry = y.ndim - (dy is not None)
    # Fast paths: one operand batched against an unbatched vector or matrix is
    # one product (vmap(lambda v: v @ W) is a single GEMM, not B small ones).
    if dy is None and ry <= 2:
        return _mm(moveaxis(x, dx, 0), y), 0
    if dx is None and rx <= 2:
        if ry == 1:  # the batch becomes the columns of y
            out = _mm(x, moveaxis(y, dy, -1))
            return out, out.ndim - 1
        return _mm(x, moveaxis(y, dy, 0)), 0
    # General case: promote 1-D operands to matrices, put the batch axis in
    # front and align per-example batch dims, then drop promoted axes.
    size = x.shape[dx] if dx is not None else y.shape[dy]
    if dx is not None:
        x = moveaxis(x, dx, 0)
    if dy is not None:
        y = moveaxis(y, dy, 0)
    if rx == 1:
        x = _insert_axis(x, -2)
    if ry == 1:
        y = _insert_axis(y, -1)
    rx2, ry2 = max(rx, 2), max(ry, 2)
    nb = max(rx2, ry2) - 2
    if dx is not None:
        x = _pad_batched(x, rx2, nb)
    if dy is not None:
        y = _pad_batched(y, ry2, nb)
    out = _mm(x, y)
    if rx == 1 and ry == 1:
        out = reshape(out, (size,))
    elif rx == 1:
        out = _squeeze_axis(out, -2)
    elif ry == 1:
        out = _squeeze_axis(out, -1)
    return out, 0


matmul_p.batch = _matmul_batch


def check_matmul_shapes(xs, ys, op="matmul"):
    """Raise a clear ValueError unless arrays of shapes ``xs`` and ``ys`` can be multiplied."""
    if len(xs) == 0 or len(ys) == 0:
        which = "first" if len(xs) == 0 else "second"
        raise ValueError(
            f"{op}: the {which} operand is 0-dimensional (shapes {xs} and {ys}); matrix "
            "multiplication needs at least one axis on each side. Use x * y to scale "
            "by a scalar.")
    kx = xs[-1]
    ky = ys[0] if len(ys) == 1 else ys[-2]
    if kx != ky:
        where_y = "its only axis" if len(ys) == 1 else "its second-to-last axis"
        hint = ""
        if len(ys) >= 2 and xs[-1] == ys[-1]:
            hint = " Did you mean x @ y.T (or fnp.swapaxes(y, -1, -2))?"
        elif len(xs) >= 2 and xs[-2] == ky:
            hint = " Did you mean x.T @ y?"
        raise ValueError(
            f"{op}: the contracted dimensions do not match: x has shape {xs} (its last "
            f"axis, size {kx}, is contracted) and y has shape {ys} ({where_y}, size {ky}, "
            f"is contracted). x.shape[-1] must equal y.shape[-2].{hint}")
    if len(xs) > 2 and len(ys) > 2:
        try:
            np.broadcast_shapes(xs[:-2], ys[:-2])
        except ValueError:
            raise ValueError(
                f"{op}: the batch dimensions {xs[:-2]} of x (shape {xs}) and {ys[:-2]} of "
                f"y (shape {ys}) do not broadcast together") from None


def matmul(x, y):
    """``x @ y`` with NumPy semantics (1-D promotion, broadcast batch dims)."""
    check_matmul_shapes(tuple(x.shape), tuple(y.shape))
    return _mm(x, y)


# --------------------------------------------------------------------------- #
# einsum
# --------------------------------------------------------------------------- #
_LETTERS = string.ascii_letters


def _fresh_letter(used, op="einsum"):
    for c in _LETTERS:
        if c not in used:
            return c
    raise ValueError(f"{op}: all 52 index letters are in use; einsum (and each vmap "
                     "around it, which adds one index) needs a free letter")


def _parse(subscripts):
    ins, out = subscripts.split("->")
    return ins.split(","), out


@functools.lru_cache(maxsize=1024)
def _contraction(subscripts, shapes):
    import opt_einsum  # lazily: ``import funcgrad`` stays fast
    return opt_einsum.contract_expression(subscripts, *shapes)


def _einsum_impl(xp, *operands, subscripts):
    if len(operands) == 1:  # nothing to plan: one call of the backend's einsum
        return xp.einsum(subscripts, operands[0])
    expr = _contraction(subscripts, tuple(tuple(o.shape) for o in operands))
    return expr(*operands, backend=xp.__name__)


def _einsum_shape(*operands, subscripts):
    ins, out = _parse(subscripts)
    sizes = {}
    for sub, op in zip(ins, operands):
        sizes.update(zip(sub, op.shape))
    return tuple(sizes[c] for c in out), np.result_type(*[o.dtype for o in operands])


einsum_p = Primitive("einsum")
einsum_p.impl = _einsum_impl
einsum_p.shape_rule = _einsum_shape


def _eye(like, n):
    from .creation import _xp_of
    return _xp_of(like).eye(n, dtype=like.dtype)


def _einsum_transpose(ct, i, operands, avals, ins, out):
    """Cotangent of operand ``i``: an einsum of ``ct`` with the other operands.

    * An index repeated within operand ``i`` (``"ii->i"``): the cotangent lives
      on the diagonal, which einsum cannot write; each repeat gets a fresh
      letter tied to the first by an identity matrix operand.
    * An index only operand ``i`` has (summed out, ``"ij->i"``): the
      cotangent is constant along it, so it is broadcast afterwards.
    """
    target = ins[i]
    aval = avals[i]
    sizes = {}
    for sub, a in zip(ins, avals):
        sizes.update(zip(sub, a.shape))
    used = set("".join(ins)) | set(out)
    new_target = []
    ops = [ct]
    subs = [out]
    for j, (sub, op) in enumerate(zip(ins, operands)):
        if j != i:
            ops.append(op)
            subs.append(sub)
    seen = set()
    for c in target:
        if c in seen:
            f = _fresh_letter(used)
            used.add(f)
            new_target.append(f)
            ops.append(_eye(ct, sizes[c]))
            subs.append(c + f)
        else:
            seen.add(c)
            new_target.append(c)
    available = set("".join(subs))
    kept = "".join(c for c in new_target if c in available)
    if len(ops) == 1 and subs[0] == kept:
        r = ct
    else:
        r = einsum_p.bind(*ops, subscripts=",".join(subs) + "->" + kept)
    if len(kept) != len(new_target):
        shape = tuple(s if c in available else 1 for c, s in zip(new_target, aval.shape))
        r = broadcast_to(reshape(r, shape), tuple(aval.shape))
    return r


class _Aval:
    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = tuple(shape)


def _einsum_vjp(out, *operands, subscripts, needs):
    ins, outs = _parse(subscripts)
    avals = [_Aval(o.shape) for o in operands]
    # Operand j is a residual only if some *other* operand wants a cotangent.
    kept = [op if any(n for k, n in enumerate(needs) if k != j) else None
            for j, op in enumerate(operands)]

    def vjp(ct):
        return tuple(_einsum_transpose(ct, i, kept, avals, ins, outs) if n else None
                     for i, n in enumerate(needs))
    return vjp


def _einsum_jvp(tangents, out, *operands, subscripts):
    acc = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        ops = list(operands)
        ops[i] = t
        r = einsum_p.bind(*ops, subscripts=subscripts)
        acc = r if acc is None else acc + r
    return acc


def _einsum_batch(vals, dims, subscripts):
    # A fresh index for the batch axis, inserted where each operand has it.
    ins, out = _parse(subscripts)
    b = _fresh_letter(set(subscripts))
    new_ins = [s if d is None else s[:d] + b + s[d:] for s, d in zip(ins, dims)]
    return einsum_p.bind(*vals, subscripts=",".join(new_ins) + "->" + b + out), 0


einsum_p.vjp = _einsum_vjp
einsum_p.vjp_needs = True
einsum_p.jvp = _einsum_jvp
einsum_p.batch = _einsum_batch


@functools.lru_cache(maxsize=1024)
def _normalize_cached(subscripts, shapes):
    return normalize_einsum(subscripts, shapes)


def normalize_einsum(subscripts, shapes):
    """Explicit einsum subscripts for operands of ``shapes``, and the operands' squeezes.

    Returns ``(subscripts, squeezes)``: ``subscripts`` has the form
    ``"ij,jk->ik"`` (ellipses expanded to letters, the implicit output made
    explicit in NumPy's order), and ``squeezes[i]`` lists the axes of operand
    ``i`` to drop: size-1 axes that broadcast against a larger size of the
    same index (dropping the axis and its letter is exactly that broadcast).

    Raises:
      ValueError: naming the subscripts and shapes, for malformed subscripts,
        a wrong number of operands, or sizes that disagree.
    """
    op = "einsum"
    s = subscripts.replace(" ", "")
    if s.count("->") > 1:
        raise ValueError(f"{op}: subscripts {subscripts!r} contain more than one '->'")
    explicit = "->" in s
    ins_s, out = s.split("->") if explicit else (s, None)
    ins = ins_s.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"{op}: subscripts {subscripts!r} name {len(ins)} operand(s) but "
                         f"{len(shapes)} were given (shapes {list(shapes)})")
    for part in ins + ([out] if explicit else []):
        bad = set(part.replace("...", "")) - set(_LETTERS)
        if bad or part.replace("...", "").count(".") or part.count("...") > 1:
            raise ValueError(f"{op}: invalid subscripts {subscripts!r}: use letters a-z, "
                             "A-Z, at most one '...' per operand, ',' and '->'")
    used = set(s) & set(_LETTERS)
    ell = ""
    if "..." in s:
        n_ell = 0
        for sub, shape in zip(ins, shapes):
            if "..." in sub:
                n_ell = max(n_ell, len(shape) - (len(sub) - 3))
        for _ in range(n_ell):
            c = _fresh_letter(used)
            used.add(c)
            ell += c
        new_ins = []
        for sub, shape in zip(ins, shapes):
            if "..." in sub:
                k = len(shape) - (len(sub) - 3)
                if k < 0:
                    raise ValueError(f"{op}: operand with subscripts {sub!r} has shape "
                                     f"{shape}: too few dimensions")
                sub = sub.replace("...", ell[len(ell) - k:] if k else "")
            new_ins.append(sub)
        ins = new_ins
        if explicit:
            out = out.replace("...", ell)
    if not explicit:
        counts = {}
        for c in "".join(ins):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    sizes = {}
    for sub, shape in zip(ins, shapes):
        if len(sub) != len(shape):
            raise ValueError(f"{op}: subscripts {sub!r} name {len(sub)} axes but the operand "
                             f"has shape {tuple(shape)} ({len(shape)} axes), in "
                             f"{subscripts!r}")
        for c, n in zip(sub, shape):
            if n != 1 or c not in sizes:
                if c in sizes and sizes[c] not in (1, n):
                    raise ValueError(
                        f"{op}: index {c!r} has size {sizes[c]} in one operand and {n} in "
                        f"another, in {subscripts!r} with shapes {[tuple(x) for x in shapes]}")
                sizes[c] = n
    for c in out:
        if c not in sizes:
            raise ValueError(f"{op}: output index {c!r} of {subscripts!r} appears in no "
                             "operand")
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: output subscripts {out!r} repeat an index")
    squeezes = []
    final = []
    for sub, shape in zip(ins, shapes):
        drop = [k for k, (c, n) in enumerate(zip(sub, shape))
                if n == 1 and sizes[c] != 1 and sub.count(c) == 1]
        if any(n != sizes[c] for k, (c, n) in enumerate(zip(sub, shape)) if k not in drop):
            raise ValueError(f"{op}: a repeated index of {sub!r} has unequal sizes in an "
                             f"operand of shape {tuple(shape)} ({subscripts!r})")
        squeezes.append(tuple(drop))
        final.append("".join(c for k, c in enumerate(sub) if k not in drop))
    return ",".join(final) + "->" + out, tuple(squeezes)


def einsum(subscripts, *operands):
    """Bind ``einsum`` after normalising ``subscripts`` (see :func:`normalize_einsum`)."""
    subs, squeezes = _normalize_cached(subscripts, tuple(tuple(o.shape) for o in operands))
    ops = []
    for o, drop in zip(operands, squeezes):
        if drop:
            o = reshape(o, tuple(n for k, n in enumerate(o.shape) if k not in drop))
        ops.append(o)
    return einsum_p.bind(*ops, subscripts=subs)
