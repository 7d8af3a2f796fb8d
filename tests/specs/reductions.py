"""Specs of the reduction and scan primitives.

max/min/sort-like rules are checked on inputs without ties (distinct values a
gap apart): a tie is a kink, where finite differences mean nothing.  Products
are polynomials, smooth everywhere, so their specs include exact zeros -- the
case a naive ``out / x`` rule gets wrong.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from funcgrad.prims import reductions as R, softmax as S
from funcgrad.testing import strategies as fst
from tests.specs import PrimSpec


@st.composite
def distinct(draw, shape=None, gap=0.1):
    """Float arrays whose elements are pairwise at least ``gap`` apart (no ties)."""
    shape = draw(fst.shapes(max_dims=3) if shape is None else shape)
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    vals = (rng.permutation(n) - n / 2) * gap + rng.uniform(0, gap / 4)
    return vals.reshape(shape)


@st.composite
def with_zeros(draw, shape=None):
    """Arrays in [-1.5, 1.5] where a random subset of the elements is exactly 0."""
    x = draw(fst.arrays(shape=fst.shapes(max_dims=3) if shape is None else shape,
                        low=-1.5, high=1.5))
    mask = draw(st.lists(st.booleans(), min_size=x.size, max_size=x.size))
    mask = np.array(mask, dtype=bool).reshape(x.shape) if x.size else np.zeros(x.shape, bool)
    return np.where(mask, 0.0, x)


def _axes_case(arrays):
    """(x,), {axes, keepdims}: axes a sorted tuple (possibly empty) of x's axes."""
    @st.composite
    def build(draw):
        x = draw(arrays)
        axes = draw(st.lists(st.integers(0, max(x.ndim - 1, 0)), unique=True,
                             max_size=x.ndim).map(lambda a: tuple(sorted(a))))
        return (x,), {"axes": axes, "keepdims": draw(st.booleans())}
    return build()


def _axis_case(arrays, extra):
    """(x,), {axis, **extra}: one axis of a non-scalar x."""
    @st.composite
    def build(draw):
        x = draw(arrays)
        params = {k: draw(v) for k, v in extra.items()}
        params["axis"] = draw(st.integers(0, x.ndim - 1))
        return (x,), params
    return build()


nonscalar = fst.shapes(min_dims=1, max_dims=3)

@st.composite
def _cross_entropy_case(draw):
    """Logits (rank 1..3, values up to +-30) and in-range labels, along a drawn axis."""
    x = draw(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=3, min_side=1),
                        low=-30, high=30))
    axis = draw(st.integers(0, x.ndim - 1))
    shape = tuple(s for i, s in enumerate(x.shape) if i != axis)
    seed = draw(st.integers(0, 2 ** 16))
    labels = np.random.default_rng(seed).integers(0, x.shape[axis], shape)
    reduction = draw(st.sampled_from(["none", "sum", "mean"]))
    return (x, labels), {"axis": axis, "reduction": reduction}


SPECS = [
    PrimSpec(R.reduce_sum_p, _axes_case(fst.arrays())),
    PrimSpec(R.reduce_max_p, _axes_case(distinct())),
    PrimSpec(R.reduce_min_p, _axes_case(distinct())),
    PrimSpec(R.reduce_prod_p, _axes_case(fst.arrays(low=-1.5, high=1.5))),
    PrimSpec(R.reduce_prod_p, _axes_case(with_zeros()), name="reduce_prod_zeros"),
    PrimSpec(R.argmax_p, _axis_case(distinct(nonscalar), {"keepdims": st.booleans()})),
    PrimSpec(R.argmin_p, _axis_case(distinct(nonscalar), {"keepdims": st.booleans()})),
    PrimSpec(R.cumsum_p, _axis_case(fst.arrays(shape=nonscalar), {"reverse": st.booleans()})),
    PrimSpec(R.cumprod_p, _axis_case(fst.arrays(shape=nonscalar, low=-1.5, high=1.5),
                                     {"reverse": st.booleans()})),
    PrimSpec(R.cumprod_p, _axis_case(with_zeros(nonscalar), {"reverse": st.booleans()}),
             name="cumprod_zeros"),
    # smooth everywhere; values up to +-30 exercise the shift by the maximum
    PrimSpec(S.log_softmax_p, _axis_case(fst.arrays(shape=nonscalar, low=-30, high=30), {})),
    PrimSpec(S.cross_entropy_p, _cross_entropy_case(), diff=(0,)),
]
