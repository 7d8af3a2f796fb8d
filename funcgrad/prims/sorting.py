"""Sorting primitives: sort (values, differentiable), argsort and searchsorted.

``sort`` moves each value to its rank, so its derivative is that permutation:
the tangent is gathered by ``argsort(x)``, the cotangent scattered back through
it.  The permutation is recomputed from ``x`` only when a derivative is asked
for, so a plain ``sort`` costs one ``xp.sort``.  At ties the derivative follows
the stable order (the first of equal values keeps the first slot).

``axis`` is a non-negative int (the wrappers normalise it).
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive
from .indexing import along_axis_index, scatter, take_along_axis
from .reductions import _along_axis_batch


# --------------------------------------------------------------------------- #
# argsort: the stable sorting permutation (integer-valued, zero derivative).
# --------------------------------------------------------------------------- #
argsort_p = Primitive("argsort", nondiff=True)
argsort_p.impl = lambda xp, x, axis: xp.argsort(x, axis=axis, kind="stable")
argsort_p.impls["cupy"] = lambda xp, x, axis: xp.argsort(x, axis=axis)  # always stable
argsort_p.shape_rule = lambda x, axis: (x.shape, np.dtype(np.int64))
argsort_p.batch = _along_axis_batch(argsort_p)


def argsort(x, axis):
    return argsort_p.bind(x, axis=axis)


# --------------------------------------------------------------------------- #
# sort: out = take_along_axis(x, argsort(x)); d out = take_along_axis(dx, perm).
# --------------------------------------------------------------------------- #
sort_p = Primitive("sort")
sort_p.impl = lambda xp, x, axis: xp.sort(x, axis=axis, kind="stable")
sort_p.impls["cupy"] = lambda xp, x, axis: xp.sort(x, axis=axis)
sort_p.shape_rule = lambda x, axis: (x.shape, x.dtype)


def _sort_vjp(out, x, axis):
    def vjp(ct):
        # perm is a bijection: scattering with "set" places each cotangent once.
        template, arrays = along_axis_index(tuple(x.shape), argsort(x, axis), axis)
        return (scatter(None, ct, arrays, template, "set", shape=tuple(x.shape),
                        dtype=ct.dtype),)
    return vjp


sort_p.vjp = _sort_vjp
sort_p.jvp = lambda tangents, out, x, axis: take_along_axis(tangents[0], argsort(x, axis),
                                                            axis)
sort_p.batch = _along_axis_batch(sort_p)


def sort(x, axis):
    return sort_p.bind(x, axis=axis)


# --------------------------------------------------------------------------- #
# searchsorted: insertion points of v into the sorted 1-D a (zero derivative).
# --------------------------------------------------------------------------- #
searchsorted_p = Primitive("searchsorted", nondiff=True)
searchsorted_p.impl = lambda xp, a, v, side: xp.searchsorted(a, v, side=side)
searchsorted_p.shape_rule = lambda a, v, side: (getattr(v, "shape", ()), np.dtype(np.int64))


def _searchsorted_batch(vals, dims, side):
    from ..batching import bdim_at_front
    from .elementwise import convert
    from .reductions import reduce_sum
    from .shape_ops import reshape
    (a, v), (ad, vd) = vals, dims
    if ad is None:
        return searchsorted_p.bind(a, v, side=side), vd
    # A different sorted array per example: count the elements before v.
    size = a.shape[ad]
    a = bdim_at_front(a, ad, size)
    v = bdim_at_front(v, vd, size)
    vs = tuple(v.shape[1:])
    a = reshape(a, (size, a.shape[1]) + (1,) * len(vs))
    v = reshape(v, (size, 1) + vs)
    before = (a < v) if side == "left" else (a <= v)
    return reduce_sum(convert(before, np.int64), (1,)), 0


searchsorted_p.batch = _searchsorted_batch


def searchsorted(a, v, side="left"):
    return searchsorted_p.bind(a, v, side=side)
