"""Specs of the product primitives: matmul (1-D promotion, broadcast batch dims) and einsum."""
from __future__ import annotations

from hypothesis import strategies as st

from funcgrad.prims import linear as L, products as P
from funcgrad.testing import strategies as fst
from tests.specs import PrimSpec


@st.composite
def matmul_cases(draw):
    """Operands of every rank combination 1..3, batch dims broadcasting (size b or 1)."""
    rx, ry = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    m, k, n, b = (draw(st.integers(1, 3)) for _ in range(4))
    bx = draw(st.sampled_from([(b,), (1,)])) if rx == 3 else ()
    by = draw(st.sampled_from([(b,), (1,)])) if ry == 3 else ()
    xs = (k,) if rx == 1 else bx + (m, k)
    ys = (k,) if ry == 1 else by + (k, n)
    return (draw(fst.arrays(shape=xs)), draw(fst.arrays(shape=ys))), {}


@st.composite
def einsum_cases(draw, exprs):
    """Operands for an expression drawn from ``exprs``, each index of size 1..3."""
    expr = draw(st.sampled_from(exprs))
    sizes = {c: draw(st.integers(1, 3)) for c in sorted(set(expr) - set(",->"))}
    ins = expr.split("->")[0].split(",")
    ops = tuple(draw(fst.arrays(shape=tuple(sizes[c] for c in sub))) for sub in ins)
    return ops, {"subscripts": expr}


@st.composite
def linear_cases(draw):
    """x of rank 1..3 against a (n, k) weight, with or without a bias."""
    rank = draw(st.integers(1, 3))
    k, n = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    lead = tuple(draw(st.integers(1, 3)) for _ in range(rank - 1))
    args = (draw(fst.arrays(shape=lead + (k,))), draw(fst.arrays(shape=(n, k))))
    if draw(st.booleans()):
        args += (draw(fst.arrays(shape=(n,))),)
    return args, {}


CONTRACTIONS = ["ij,jk->ik", "bij,bjk->bik", "ij,jk,kl->il", "ij,j->i", "ij,ij->", "i,i,i->"]
DIAGONALS = ["ii->i", "ii->", "iij->j", "ii,i->i", "ij,jj->ij"]
REARRANGE = ["ij->i", "ij->ji", "ijk->kji", "i,j->ij", ",i->i", "ijk,k->ki"]

SPECS = [
    PrimSpec(P.matmul_p, matmul_cases()),
    PrimSpec(L.linear_p, linear_cases()),
    PrimSpec(P.einsum_p, einsum_cases(CONTRACTIONS), name="einsum_contract"),
    PrimSpec(P.einsum_p, einsum_cases(DIAGONALS), name="einsum_diagonal"),
    PrimSpec(P.einsum_p, einsum_cases(REARRANGE), name="einsum_rearrange"),
]
