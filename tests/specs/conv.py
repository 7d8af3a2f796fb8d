"""Specs of the convolution and pooling primitives (small sizes: N<=2, C<=4, spatial<=6).

Parameters are drawn over the whole domain the wrappers produce: 1-, 2- and
3-D, strides, dilations, asymmetric and negative (cropping) padding, grouped
and depthwise channels, ceil_mode pooling.  Max pooling draws inputs with
distinct values (at least 0.2 apart), so finite differences never straddle
a change of argmax.
"""
from __future__ import annotations

import numpy as np
from hypothesis import assume, strategies as st

from funcgrad.numpy import conv as fconv
from funcgrad.prims import _windows as W
from funcgrad.prims import conv as P
from funcgrad.prims import pool as Q
from funcgrad.testing import strategies as fst
from tests.specs import PrimSpec

MAX_SIDE = {1: 6, 2: 5, 3: 3}


@st.composite
def conv_geometry(draw, nd=None, depthwise=False):
    """Shapes and parameters of a valid convolution: (x_shape, w_shape, params)."""
    nd = draw(st.sampled_from([1, 2, 3])) if nd is None else nd
    n = draw(st.integers(1, 2))
    if depthwise:
        g = c = draw(st.integers(2, 3))
        cg, cog = 1, draw(st.integers(1, 2))
    else:
        g = draw(st.sampled_from([1, 1, 2]))
        cg, cog = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        c = g * cg
    kmax = 2 if nd == 3 else 3
    kernel = tuple(draw(st.integers(1, kmax)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    pads, spatial = [], []
    for k, d in zip(kernel, dilation):
        lo, hi = draw(st.integers(0, 2)), draw(st.integers(-1, 2))  # hi < 0 crops
        extent = d * (k - 1) + 1
        s = draw(st.integers(max(1, extent - lo - hi, -hi + 1), max(MAX_SIDE[nd], extent + 1)))
        pads.append((lo, hi))
        spatial.append(s)
    params = dict(stride=stride, padding=tuple(pads), dilation=dilation, groups=g)
    return (n, c) + tuple(spatial), (g * cog, cg) + kernel, params


def _arrays(*shapes):
    return st.tuples(*[fst.arrays(shape=s, low=-2, high=2) for s in shapes])


def conv_cases(nd=None, depthwise=False):
    return conv_geometry(nd, depthwise).flatmap(
        lambda g: st.tuples(_arrays(g[0], g[1]), st.just(g[2])))


def _conv_out(x_shape, w_shape, params):
    return (x_shape[0], w_shape[0]) + W.out_shape(
        x_shape[2:], w_shape[2:], params["stride"], params["padding"], params["dilation"])


def conv_transpose_cases(nd=None):
    def build(g):
        xs, ws, p = g
        return st.tuples(_arrays(_conv_out(xs, ws, p), ws),
                         st.just(dict(p, in_shape=tuple(xs[2:]))))
    return conv_geometry(nd).flatmap(build)


def conv_weight_grad_cases(nd=None):
    def build(g):
        xs, ws, p = g
        return st.tuples(_arrays(xs, _conv_out(xs, ws, p)),
                         st.just(dict(p, kernel=tuple(ws[2:]))))
    return conv_geometry(nd).flatmap(build)


@st.composite
def pool_geometry(draw, max_pool=False):
    """(x_shape, params) for pooling, normalised by the public wrapper itself."""
    nd = draw(st.sampled_from([1, 2, 3]))
    lead = tuple(draw(st.lists(st.integers(1, 2), min_size=1, max_size=2)))
    kmax = 2 if nd == 3 else 3
    kernel = tuple(draw(st.integers(1, kmax)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if max_pool else (1,) * nd
    pad = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    spatial = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), MAX_SIDE[nd] + 1))
                    for k, d, p in zip(kernel, dilation, pad))
    shape = lead + spatial
    _, kernel, stride, pads, dilation, out = fconv._pool_args(
        np.empty(shape), kernel, stride, pad, dilation, draw(st.booleans()), nd, "pool")
    # With dilation, a window can fall wholly in the padding: its maximum is -inf
    # (as in PyTorch), where finite differences are undefined.
    assume(all(any(0 <= o * st_ - lo + j * d < s for j in range(k))
               for s, k, st_, (lo, _), d, n in zip(spatial, kernel, stride, pads, dilation, out)
               for o in range(n)))
    return shape, dict(kernel=kernel, stride=stride, padding=pads, dilation=dilation)


@st.composite
def distinct_arrays(draw, shape):
    """Values at least 0.2 apart in a random order: no ties, no argmax kinks."""
    size = int(np.prod(shape))
    perm = draw(st.permutations(range(size)))
    return (np.asarray(perm, dtype=np.float64) * 0.25 - size / 8).reshape(shape)


def _pool_out_shape(shape, p):
    nd = len(p["kernel"])
    return tuple(shape[:len(shape) - nd]) + Q.pool_out_shape(shape, p["kernel"], p["stride"],
                                                        p["padding"], p["dilation"])


def max_pool_cases():
    return pool_geometry(True).flatmap(
        lambda g: st.tuples(st.tuples(distinct_arrays(g[0])), st.just(g[1])))


def argmax_cases():
    """(x, max_pool(x)): the second argument is the maxima the offsets are searched for."""
    def build(g):
        shape, p = g
        return st.tuples(distinct_arrays(shape).map(lambda x: (x, Q.max_pool(x, **p))),
                         st.sampled_from([dict(p, flat=True), dict(p, flat=False)]))
    return pool_geometry(True).flatmap(build)


def _offsets(shape, p):
    k = int(np.prod(p["kernel"]))
    return fst.index_arrays(k, shape).map(lambda a: np.mod(a, k))


def max_pool_scatter_cases():
    def build(g):
        shape, p = g
        out = _pool_out_shape(shape, p)
        nd = len(p["kernel"])
        return st.tuples(st.tuples(fst.arrays(shape=out, low=-2, high=2), _offsets(out, p)),
                         st.just(dict(p, in_shape=tuple(shape[len(shape) - nd:]))))
    return pool_geometry(True).flatmap(build)


def max_pool_gather_cases():
    def build(g):
        shape, p = g
        return st.tuples(st.tuples(fst.arrays(shape=shape, low=-2, high=2),
                                   _offsets(_pool_out_shape(shape, p), p)), st.just(p))
    return pool_geometry(True).flatmap(build)


def sum_pool_cases():
    return pool_geometry().flatmap(
        lambda g: st.tuples(_arrays(g[0]), st.just(g[1])))


def sum_pool_transpose_cases():
    def build(g):
        shape, p = g
        nd = len(p["kernel"])
        return st.tuples(_arrays(_pool_out_shape(shape, p)),
                         st.just(dict(p, in_shape=tuple(shape[len(shape) - nd:]))))
    return pool_geometry().flatmap(build)


SPECS = [
    PrimSpec(P.conv_p, conv_cases()),
    PrimSpec(P.conv_p, conv_cases(nd=2), name="conv2d"),
    PrimSpec(P.conv_p, conv_cases(nd=2, depthwise=True), name="conv_depthwise"),
    PrimSpec(P.conv_transpose_p, conv_transpose_cases()),
    PrimSpec(P.conv_transpose_p, conv_transpose_cases(nd=2), name="conv_transpose2d"),
    PrimSpec(P.conv_weight_grad_p, conv_weight_grad_cases()),
    PrimSpec(P.conv_weight_grad_p, conv_weight_grad_cases(nd=2), name="conv_weight_grad2d"),
    PrimSpec(Q.max_pool_p, max_pool_cases()),
    PrimSpec(Q.max_pool_argmax_p, argmax_cases()),
    PrimSpec(Q.max_pool_scatter_p, max_pool_scatter_cases(), diff=(0,)),
    PrimSpec(Q.max_pool_gather_p, max_pool_gather_cases(), diff=(0,)),
    PrimSpec(Q.sum_pool_p, sum_pool_cases()),
    PrimSpec(Q.sum_pool_transpose_p, sum_pool_transpose_cases()),
]
