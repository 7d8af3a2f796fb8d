"""Specs of the elementwise primitives: domains keep finite differences off kinks."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from funcgrad.prims import elementwise as P
from funcgrad.testing import strategies as fst
from tests.specs import PrimSpec, case


def unary(lo, hi, away=None):
    return case(st.tuples(fst.arrays(low=lo, high=hi, away=away)))


def binary(lo=-3.0, hi=3.0, lo2=None, hi2=None, away=None, away2=None):
    lo2 = lo if lo2 is None else lo2
    hi2 = hi if hi2 is None else hi2
    return fst.broadcastable_shapes(2).flatmap(lambda shapes: case(st.tuples(
        fst.arrays(shape=shapes[0], low=lo, high=hi, away=away),
        fst.arrays(shape=shapes[1], low=lo2, high=hi2, away=away2))))


def with_scalar(lo=-3.0, hi=3.0):
    """One array and one Python float (weakly typed), in either order."""
    return st.tuples(fst.arrays(low=lo, high=hi), st.floats(lo, hi).filter(lambda v: abs(v) > .1)
                     ).flatmap(lambda xs: st.sampled_from([case(st.just(xs)),
                                                           case(st.just(xs[::-1]))])
                               ).flatmap(lambda s: s)


def _distinct_pair(shapes):
    # max/min: keep the two arguments apart so no element sits on a tie (a kink).
    return st.tuples(fst.arrays(shape=shapes[0], low=-3, high=3),
                     fst.arrays(shape=shapes[1], low=-3, high=3)).filter(
        lambda xy: np.all(np.abs(np.subtract(*np.broadcast_arrays(*xy))) > 1e-3))


def bools(shapes):
    return st.tuples(*[fst.arrays(shape=s, dtype=np.bool_) if False else
                       fst.arrays(shape=s).map(lambda a: a > 0) for s in shapes])


SPECS = [
    PrimSpec(P.exp_p, unary(-3, 3)),
    PrimSpec(P.log_p, unary(0.1, 5)),
    PrimSpec(P.log1p_p, unary(-0.9, 5)),
    PrimSpec(P.expm1_p, unary(-3, 3)),
    PrimSpec(P.sqrt_p, unary(0.1, 5)),
    PrimSpec(P.sin_p, unary(-4, 4)),
    PrimSpec(P.cos_p, unary(-4, 4)),
    PrimSpec(P.tan_p, unary(-1.3, 1.3)),
    PrimSpec(P.arcsin_p, unary(-0.9, 0.9)),
    PrimSpec(P.arccos_p, unary(-0.9, 0.9)),
    PrimSpec(P.arctan_p, unary(-4, 4)),
    PrimSpec(P.sinh_p, unary(-3, 3)),
    PrimSpec(P.cosh_p, unary(-3, 3)),
    PrimSpec(P.tanh_p, unary(-3, 3)),
    PrimSpec(P.arcsinh_p, unary(-4, 4)),
    PrimSpec(P.arccosh_p, unary(1.1, 5)),
    PrimSpec(P.arctanh_p, unary(-0.9, 0.9)),
    PrimSpec(P.logistic_p, unary(-6, 6)),
    PrimSpec(P.abs_p, unary(-3, 3, away=0.0)),
    PrimSpec(P.relu_p, unary(-3, 3, away=0.0)),
    PrimSpec(P.negative_p, unary(-3, 3)),
    PrimSpec(P.add_p, binary()),
    PrimSpec(P.add_p, with_scalar(), name="add_scalar"),
    PrimSpec(P.subtract_p, binary()),
    PrimSpec(P.multiply_p, binary()),
    PrimSpec(P.multiply_p, with_scalar(), name="multiply_scalar"),
    PrimSpec(P.divide_p, binary(away2=0.0, lo2=-3, hi2=3)),
    PrimSpec(P.power_p, binary(0.2, 3, -2, 2)),
    PrimSpec(P.power_p, case(st.tuples(fst.arrays(low=-2, high=2), st.sampled_from([2, 3.0]))),
             name="power_int_exponent"),
    PrimSpec(P.maximum_p, fst.broadcastable_shapes(2).flatmap(lambda s: case(_distinct_pair(s)))),
    PrimSpec(P.minimum_p, fst.broadcastable_shapes(2).flatmap(lambda s: case(_distinct_pair(s)))),
    PrimSpec(P.arctan2_p, binary(0.5, 3, 0.5, 3)),
    PrimSpec(P.remainder_p, binary(0.5, 3, 0.7, 3).filter(
        lambda c: np.all(np.abs(np.remainder(*c[0])) > 1e-3) and
        np.all(np.abs(np.remainder(*c[0]) - np.broadcast_to(c[0][1], np.broadcast_shapes(
            np.shape(c[0][0]), np.shape(c[0][1])))) > 1e-3))),
    PrimSpec(P.select_p, fst.broadcastable_shapes(3).flatmap(lambda s: case(st.tuples(
        fst.arrays(shape=s[0]).map(lambda a: a > 0), fst.arrays(shape=s[1]),
        fst.arrays(shape=s[2]))))),
    PrimSpec(P.convert_p, case(st.tuples(fst.arrays()), {"dtype": np.dtype(np.float32)}),
             eps=1e-2, transpose_tol=1e-6, name="convert_f32"),  # linear: big steps are exact
    # An integer result carries no derivative: nothing to check but shape and vmap.
    PrimSpec(P.convert_p, case(st.tuples(fst.arrays()), {"dtype": np.dtype(np.int64)}),
             diff=(), name="convert_int"),
    PrimSpec(P.stop_gradient_p, unary(-3, 3)),
    PrimSpec(P.round_p, case(st.tuples(fst.arrays()), {"decimals": 1})),
] + [PrimSpec(p, unary(-3, 3)) for p in (
    P.sign_p, P.floor_p, P.ceil_p, P.trunc_p, P.isnan_p, P.isfinite_p, P.isinf_p)
] + [PrimSpec(p, fst.broadcastable_shapes(2).flatmap(lambda s: case(st.tuples(
        fst.arrays(shape=s[0]), fst.arrays(shape=s[1]))))) for p in (
    P.equal_p, P.not_equal_p, P.less_p, P.less_equal_p, P.greater_p, P.greater_equal_p)
] + [PrimSpec(P.floor_divide_p, binary(0.5, 3, 0.5, 3))
] + [PrimSpec(p, fst.broadcastable_shapes(2).flatmap(lambda s: case(bools(s)))) for p in (
    P.logical_and_p, P.logical_or_p, P.logical_xor_p)
] + [PrimSpec(P.logical_not_p, case(bools([(3,)]).map(lambda t: t)))
] + [PrimSpec(p, fst.broadcastable_shapes(2).flatmap(lambda s: case(st.tuples(
        *[fst.arrays(shape=x).map(lambda a: (a * 10).astype(np.int64)) for x in s]))))
     for p in (P.bitwise_and_p, P.bitwise_or_p, P.bitwise_xor_p)
] + [PrimSpec(P.invert_p, case(st.tuples(fst.arrays().map(lambda a: (a * 10).astype(np.int64)))))]
