"""``log_softmax`` along one axis, as one primitive.

As a composite (``x - logsumexp(x)``) it is seven primitives -- max, a
stop-gradient, the non-finite guard, subtract, exp, sum, log -- each recorded
and each walked backwards.  Every classifier's loss goes through it, so it is
one primitive with one node whose rules reuse the output (the
log-probabilities) as their only residual:

    VJP:  ct - exp(out) * sum(ct, axis)        JVP:  t - sum(exp(out) * t, axis)

Both are written with primitives, so they differentiate again.  The forward
pass is the stable form ``(x - m) - log(sum(exp(x - m)))`` with ``m`` the
maximum along the axis (0 where it is not finite, so rows of ``-inf`` give
``-inf``/NaN as NumPy's arithmetic says instead of failing).
"""
from __future__ import annotations

from ..core import EMPTY_PARAMS, Primitive
from ..core import bind as _bind
from .elementwise import exp_p, multiply_p, subtract_p
from .reductions import reduce_sum
from .shape_ops import moveaxis


def _log_softmax_impl(xp, x, axis):
    if x.shape[axis] == 0:
        return xp.empty_like(x)
    m = x.max(axis=axis, keepdims=True)
    if not xp.isfinite(m).all():
        m = xp.where(xp.isfinite(m), m, 0)
    shifted = x - m
    lse = xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    shifted -= lse  # a fresh array: subtract in place
    return shifted


log_softmax_p = Primitive("log_softmax")
log_softmax_p.impl = _log_softmax_impl
log_softmax_p.shape_rule = lambda x, axis: (tuple(x.shape), x.dtype)


def _softmax_of(out):
    return _bind(exp_p, (out,), EMPTY_PARAMS)


def _log_softmax_vjp(out, x, axis):
    def vjp(ct):
        total = reduce_sum(ct, (axis,), keepdims=True)
        return (_bind(subtract_p, (ct, _bind(multiply_p, (_softmax_of(out), total),
                                             EMPTY_PARAMS)), EMPTY_PARAMS),)
    return vjp


def _log_softmax_jvp(tangents, out, x, axis):
    t = tangents[0]
    mean = reduce_sum(_bind(multiply_p, (_softmax_of(out), t), EMPTY_PARAMS), (axis,),
                      keepdims=True)
    return _bind(subtract_p, (t, mean), EMPTY_PARAMS)


def _log_softmax_batch(vals, dims, axis):
    x, d = vals[0], dims[0]
    x = moveaxis(x, d, 0) if d != 0 else x
    return log_softmax_p.bind(x, axis=axis + 1), 0


log_softmax_p.vjp = _log_softmax_vjp
log_softmax_p.jvp = _log_softmax_jvp
log_softmax_p.batch = _log_softmax_batch


def log_softmax(x, axis):
    """Log-probabilities along ``axis`` (a non-negative int; floating ``x``)."""
    return log_softmax_p.bind(x, axis=axis)
