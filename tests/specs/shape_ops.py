"""Specs of the shape primitives (all linear: big finite-difference steps are exact)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from funcgrad.prims import shape_ops as S
from funcgrad.testing import strategies as fst
from tests.specs import PrimSpec


def _factors(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def reshape_cases(draw):
    x = draw(fst.arrays())
    factors = draw(st.permutations(_factors(x.size)))
    ndim = draw(st.integers(0 if x.size == 1 else 1, 4))
    ndim = max(ndim, 1) if factors else ndim
    shape = [1] * ndim
    for f in factors:
        shape[draw(st.integers(0, ndim - 1))] *= f
    return (x,), {"shape": tuple(shape)}


@st.composite
def broadcast_cases(draw):
    r = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    x = draw(fst.arrays(shape=r.input_shapes[0]))
    return (x,), {"shape": tuple(r.result_shape)}


@st.composite
def transpose_cases(draw):
    x = draw(fst.arrays())
    return (x,), {"axes": tuple(draw(st.permutations(range(x.ndim))))}


@st.composite
def concatenate_cases(draw):
    shape = draw(fst.shapes(min_dims=1, max_dims=3))
    axis = draw(st.integers(0, len(shape) - 1))
    n = draw(st.integers(2, 3))
    xs = []
    for _ in range(n):
        s = list(shape)
        s[axis] = draw(st.integers(1, 3))
        xs.append(draw(fst.arrays(shape=tuple(s))))
    return tuple(xs), {"axis": axis}


@st.composite
def pad_cases(draw, traced_fill=True):
    x = draw(fst.arrays(shape=fst.shapes(max_dims=3, max_side=3)))
    widths = tuple(draw(st.tuples(st.integers(0, 2), st.integers(0, 2))) for _ in x.shape)
    fill = draw(st.floats(-2, 2))
    return (x, np.asarray(fill) if traced_fill else fill), {"widths": widths}


SPECS = [
    PrimSpec(S.reshape_p, reshape_cases(), eps=1e-2),
    PrimSpec(S.broadcast_to_p, broadcast_cases(), eps=1e-2),
    PrimSpec(S.transpose_p, transpose_cases(), eps=1e-2),
    PrimSpec(S.concatenate_p, concatenate_cases(), eps=1e-2),
    PrimSpec(S.pad_p, pad_cases(), eps=1e-2),
    PrimSpec(S.pad_p, pad_cases(traced_fill=False), eps=1e-2, name="pad_const_fill"),
]
