"""Specs of gather/scatter (indexing) and of the sorting primitives.

An index case is a real NumPy index (slices with negative steps, ints, None,
integer arrays -- adjacent, separated by a slice, repeated) canonicalised the
way ``x[idx]`` does it, so the specs see exactly what users' code binds.
The sorting family has no spec module of its own in ``tests.specs.FAMILIES``:
its specs live here, next to the gathers that its rules are made of.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from funcgrad.prims import indexing as I
from funcgrad.prims import sorting as So
from funcgrad.testing import strategies as fst
from tests.specs import PrimSpec
from tests.specs.reductions import distinct, with_zeros


@st.composite
def _slice(draw, n):
    return slice(draw(st.none() | st.integers(-n - 1, n)), draw(st.none() | st.integers(-n - 1, n + 1)),
                 draw(st.none() | st.sampled_from([1, 2, -1, -2])))


@st.composite
def index_exprs(draw, shape, kinds=("slice", "int", "array"), min_arrays=0, unique=False):
    """A NumPy index for ``shape``.  ``unique``: one 1-D array with no repeated position."""
    kinds_per_dim = [draw(st.sampled_from(kinds)) for _ in shape]
    if min_arrays and "array" not in kinds_per_dim:
        kinds_per_dim[draw(st.integers(0, len(shape) - 1))] = "array"
    if unique:  # exactly one index array
        first = kinds_per_dim.index("array") if "array" in kinds_per_dim else None
        kinds_per_dim = [k if k != "array" or i == first else "slice"
                         for i, k in enumerate(kinds_per_dim)]
    bshape = draw(fst.shapes(max_dims=2, max_side=3))
    idx = []
    for n, kind in zip(shape, kinds_per_dim):
        if draw(st.integers(0, 6)) == 0:
            idx.append(None)
        if kind == "slice":
            idx.append(draw(_slice(n)))
        elif kind == "int":
            idx.append(draw(st.integers(-n, n - 1)))
        elif unique:
            pos = draw(st.lists(st.integers(0, n - 1), unique=True, min_size=1))
            idx.append(np.array([p - n if draw(st.booleans()) else p for p in pos]))
        else:
            nd = draw(st.integers(0, len(bshape)))
            s = tuple(1 if draw(st.booleans()) else d for d in bshape[len(bshape) - nd:])
            idx.append(draw(fst.index_arrays(n, shape=s)))
    # Fewer entries than dimensions: the rest are implicit full slices.
    return tuple(idx[:len(idx) - draw(st.integers(0, min(1, len(idx))))])


def _separated(shape):
    """Advanced indices split by a slice: NumPy moves their dimensions first."""
    return st.tuples(fst.index_arrays(shape[0], shape=st.just((2,))), _slice(shape[1]),
                     st.one_of(fst.index_arrays(shape[2], shape=st.just((1,))),
                               st.integers(-shape[2], shape[2] - 1)))


def _repeated(shape):
    """More indices than positions along axis 0: every case repeats some."""
    return fst.index_arrays(shape[0], shape=st.just((shape[0] + 2,))).map(lambda a: (a,))


@st.composite
def gather_cases(draw, exprs, x=None):
    x = draw(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=3)) if x is None else x)
    template, arrays = I.canonical_index(draw(exprs(x.shape)), x.shape)
    return (x, *arrays), {"template": template}


@st.composite
def scatter_cases(draw, exprs, mode, shapes=None, zeros=False):
    shape = draw(fst.shapes(min_dims=1, max_dims=3) if shapes is None else shapes)
    template, arrays = I.canonical_index(draw(exprs(shape)), shape)
    target = I._index_shape(shape, template, arrays)
    # Updates shaped like the target, or a suffix of it that broadcasts.
    ushape = target[draw(st.integers(0, len(target))):]
    n, m = int(np.prod(shape)), int(np.prod(ushape))
    if mode in ("min", "max"):  # operand and updates without ties
        both = draw(distinct(st.just((n + m,))))
        x, u = both[:n].reshape(shape), both[n:].reshape(ushape)
    else:
        x = draw(fst.arrays(shape=shape))
        u = draw(with_zeros(st.just(ushape)) if zeros else
                 fst.arrays(shape=ushape, low=-1.5, high=1.5,
                            away=0.0 if mode == "multiply" else None))
    return (x, u, *arrays), {"template": template, "mode": mode}


def _basic(s):
    return index_exprs(s, kinds=("slice", "int"))


def _advanced(s):
    return index_exprs(s, min_arrays=1)


def _unique(s):
    return index_exprs(s, min_arrays=1, unique=True)


three_d = fst.shapes(min_dims=3, max_dims=3, min_side=2, max_side=3)
small = fst.shapes(min_dims=1, max_dims=2, max_side=3)


@st.composite
def _sort_case(draw, arrays):
    x = draw(arrays)
    return (x,), {"axis": draw(st.integers(0, x.ndim - 1))}


@st.composite
def _searchsorted_case(draw):
    a = np.sort(draw(distinct(fst.shapes(min_dims=1, max_dims=1, max_side=5))))
    v = draw(fst.arrays(shape=fst.shapes(max_dims=2), low=-1, high=1))
    return (a, v), {"side": draw(st.sampled_from(["left", "right"]))}


nonscalar = fst.shapes(min_dims=1, max_dims=3)

SPECS = [
    PrimSpec(I.gather_p, gather_cases(_basic), eps=1e-2, name="gather_basic"),
    PrimSpec(I.gather_p, gather_cases(_advanced), eps=1e-2, name="gather_advanced"),
    PrimSpec(I.gather_p, gather_cases(_separated, fst.arrays(shape=three_d)), eps=1e-2,
             name="gather_separated"),
    PrimSpec(I.gather_p, gather_cases(_repeated), eps=1e-2, name="gather_repeated"),
] + [
    PrimSpec(I.scatter_p, scatter_cases(exprs, mode, shapes), name=f"scatter_{mode}_{kind}",
             eps=1e-2 if mode in ("add", "set") else 1e-6)
    for mode in ("add", "set", "multiply", "min", "max")
    for kind, exprs, shapes in (("basic", _basic, None), ("unique", _unique, None),
                                ("advanced", _advanced, small), ("separated", _separated,
                                                                 three_d),
                                ("repeated", _repeated, small))
    if not (mode == "set" and kind in ("advanced", "repeated"))
] + [
    # set with repeated indices: the last write wins, and only it gets a derivative.
    PrimSpec(I.scatter_p, scatter_cases(_repeated, "set", small), eps=1e-2,
             name="scatter_set_repeated"),
    # Zero updates sharing a position: first derivatives are exact (no division
    # by an update); second ones are not claimed there (see at[].multiply).
    PrimSpec(I.scatter_p, scatter_cases(_repeated, "multiply", small, zeros=True), order=1,
             name="scatter_multiply_zeros"),
    PrimSpec(So.sort_p, _sort_case(distinct(nonscalar))),
    PrimSpec(So.argsort_p, _sort_case(fst.arrays(shape=nonscalar))),
    PrimSpec(So.searchsorted_p, _searchsorted_case()),
]
