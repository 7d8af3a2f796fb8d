"""``log_softmax`` and softmax cross-entropy along one axis, one primitive each.

As a composite (``x - logsumexp(x)``) it is seven primitives -- max, a
stop-gradient, the non-finite guard, subtract, exp, sum, log -- each recorded
and each walked backwards.  Every classifier's loss goes through it, so it is
one primitive with one node whose rules reuse the output (the
log-probabilities) as their only residual:

    VJP:  ct - exp(out) * sum(ct, axis)        JVP:  t - sum(exp(out) * t, axis)

``cross_entropy`` takes class indices (an integer array, shaped like the
logits without the class axis) and gives each sample's ``-log p[label]``
(PyTorch's and optax's fused loss): its VJP is ``ct * (softmax - onehot)``,
one node instead of the log-softmax, gather, reshape and negation it
replaces, and no scatter in the backward pass.

Rules are written with primitives, so they differentiate again.  The forward
pass is the stable form ``(x - m) - log(sum(exp(x - m)))`` with ``m`` the
maximum along the axis (0 where it is not finite, so rows of ``-inf`` give
``-inf``/NaN as NumPy's arithmetic says instead of failing).
"""
from __future__ import annotations

import math

import numpy as np

from ..core import EMPTY_PARAMS, Primitive, Tracer
from ..core import bind as _bind
from .creation import _xp_of
from .elementwise import convert, equal_p, exp_p, multiply_p, subtract_p
from .reductions import reduce_sum
from .shape_ops import broadcast_to, expand_dims, moveaxis, reshape


def _shifted_and_lse(xp, x, axis):
    """``x - m`` (a fresh array) and ``log(sum(exp(x - m)))``, ``m`` the finite maximum."""
    m = x.max(axis=axis, keepdims=True)
    if not xp.isfinite(m).all():
        m = xp.where(xp.isfinite(m), m, 0)
    shifted = x - m
    return shifted, xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def _log_softmax_impl(xp, x, axis):
    if x.shape[axis] == 0:
        return xp.empty_like(x)
    shifted, lse = _shifted_and_lse(xp, x, axis)
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


# --------------------------------------------------------------------------- #
# cross_entropy(logits, labels): -log softmax(logits)[label], per sample or reduced
# --------------------------------------------------------------------------- #
_REDUCTIONS = ("none", "sum", "mean")


def _cross_entropy_impl(xp, x, labels, axis, reduction):
    shifted, lse = _shifted_and_lse(xp, x, axis)
    return _cross_entropy_of(xp, shifted, lse, labels, axis, reduction)


def _cross_entropy_of(xp, shifted, lse, labels, axis, reduction):
    """The loss from ``x - m`` and ``log(sum(exp(x - m)))`` (``_shifted_and_lse``)."""
    lse = lse.squeeze(axis)
    if shifted.ndim == 2 and axis == 1:  # (N, C) logits: one fancy index
        rows = lse - shifted[xp.arange(shifted.shape[0]), labels]
    else:
        idx = labels.reshape(labels.shape[:axis] + (1,) + labels.shape[axis:])
        rows = lse - xp.take_along_axis(shifted, idx, axis).squeeze(axis)
    if reduction == "none":
        return rows
    total = rows.sum()
    return total if reduction == "sum" else total / rows.size


def _cross_entropy_shape(x, labels, axis, reduction):
    if reduction != "none":
        return (), x.dtype
    return tuple(s for i, s in enumerate(x.shape) if i != axis), x.dtype


cross_entropy_p = Primitive("cross_entropy")
cross_entropy_p.impl = _cross_entropy_impl
cross_entropy_p.shape_rule = _cross_entropy_shape


def _onehot(labels, like, axis):
    """``like``-shaped ``labels == class`` along ``axis``, in ``like``'s dtype (a constant)."""
    n = like.shape[axis]
    xp = _xp_of(like)
    iota = xp.arange(n).reshape(tuple(n if i == axis else 1 for i in range(like.ndim)))
    hit = _bind(equal_p, (expand_dims(labels, axis), iota), EMPTY_PARAMS)
    return convert(hit, like.dtype)


def _count(shape, axis):
    """How many samples a cross-entropy over ``axis`` of ``shape`` has."""
    return math.prod(shape) // shape[axis]


def _ce_direction(x, labels, axis, reduction):
    """d(loss)/d(logits) for a unit cotangent: ``softmax - onehot`` (over n for 'mean').

    With concrete logits and labels nothing differentiates through it, so it
    is computed directly on the backend (five array operations, no graph);
    traced values take the same formula in primitives, differentiable again.
    """
    scale = 1.0 / _count(tuple(x.shape), axis) if reduction == "mean" else None
    if not isinstance(x, Tracer) and not isinstance(labels, Tracer):
        xp = _xp_of(x)
        shifted, lse = _shifted_and_lse(xp, x, axis)
        shifted -= lse
        return _direction_of(xp, xp.exp(shifted, out=shifted), labels, axis, scale)
    d = _bind(subtract_p, (_softmax_of(log_softmax_p.bind(x, axis=axis)),
                           _onehot(labels, x, axis)), EMPTY_PARAMS)
    return d if scale is None else _bind(multiply_p, (d, scale), EMPTY_PARAMS)


def _direction_of(xp, probs, labels, axis, scale):
    """``(probs - onehot) * scale`` computed in ``probs`` (a fresh array)."""
    if probs.ndim == 2 and axis == 1:
        probs[xp.arange(probs.shape[0]), labels] -= 1
    else:
        probs -= _onehot_array(xp, labels, probs, axis)
    if scale is not None:
        probs *= scale
    return probs


def _onehot_array(xp, labels, like, axis):
    n = like.shape[axis]
    iota = xp.arange(n).reshape(tuple(n if i == axis else 1 for i in range(like.ndim)))
    idx = labels.reshape(labels.shape[:axis] + (1,) + labels.shape[axis:])
    return (idx == iota).astype(like.dtype)


def _cross_entropy_vjp(out, x, labels, axis, reduction):
    return lambda ct: _pull(ct, _ce_direction(x, labels, axis, reduction), axis, reduction)


def _pull(ct, d, axis, reduction):
    """The logits' cotangent ``ct * d`` (``d``: a fresh direction, scaled in place)."""
    if reduction == "none":
        ct = expand_dims(ct, axis)
    if ct.__class__ is d.__class__ is np.ndarray and ct.dtype == d.dtype:
        return np.multiply(ct, d, out=d), None
    return _bind(multiply_p, (ct, d), EMPTY_PARAMS), None


def _cross_entropy_fwd_vjp(x, labels, axis, reduction):
    """The loss and its staged VJP from one softmax (concrete NumPy arrays).

    The forward pass's log-probabilities are the VJP's residual (the same size
    as the logits it replaces), so the backward pass needs one ``exp`` instead
    of recomputing the maximum, the shift and the normaliser.
    """
    shifted, lse = _shifted_and_lse(np, x, axis)
    out = _cross_entropy_of(np, shifted, lse, labels, axis, reduction)
    shifted -= lse  # the log-probabilities, as the rule's own path computes them
    logp = shifted
    scale = 1.0 / _count(tuple(x.shape), axis) if reduction == "mean" else None

    def vjp(ct):
        # (logp is kept intact: the pullback may run again.)  The direction is a
        # constant even for a traced cotangent: the logits themselves are concrete.
        return _pull(ct, _direction_of(np, np.exp(logp), labels, axis, scale), axis,
                     reduction)
    return out, vjp


def _cross_entropy_jvp(tangents, out, x, labels, axis, reduction):
    d = _ce_direction(x, labels, axis, reduction)
    dt = _bind(multiply_p, (d, tangents[0]), EMPTY_PARAMS)
    return reduce_sum(dt, (axis,) if reduction == "none" else tuple(range(x.ndim)))


def _cross_entropy_batch(vals, dims, axis, reduction):
    x, labels = vals
    dx, dl = dims
    size = x.shape[dx] if dx is not None else labels.shape[dl]
    if dx is None:  # shared logits, per-example labels
        x = broadcast_to(reshape(x, (1,) + tuple(x.shape)), (size,) + tuple(x.shape))
    else:
        x = moveaxis(x, dx, 0)
    if dl is None:  # per-example logits, shared labels
        labels = broadcast_to(reshape(labels, (1,) + tuple(labels.shape)),
                              (size,) + tuple(labels.shape))
    else:
        labels = moveaxis(labels, dl, 0)
    rows = cross_entropy_p.bind(x, labels, axis=axis + 1, reduction="none")
    if reduction == "none":
        return rows, 0
    total = reduce_sum(rows, tuple(range(1, rows.ndim)))  # per example
    if reduction == "mean":
        total = _bind(multiply_p, (total, 1.0 / _count(tuple(x.shape[1:]), axis)),
                      EMPTY_PARAMS)
    return total, 0


cross_entropy_p.vjp = _cross_entropy_vjp
cross_entropy_p.fwd_vjp = _cross_entropy_fwd_vjp
cross_entropy_p.jvp = _cross_entropy_jvp
cross_entropy_p.batch = _cross_entropy_batch


def cross_entropy(x, labels, axis, reduction="none"):
    """``-log softmax(x, axis)[label]`` per sample, or its ``'sum'``/``'mean'``.

    Labels must be in range (checked by the caller, ``F.cross_entropy``).
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {_REDUCTIONS}, got "
                         f"{reduction!r}")
    return cross_entropy_p.bind(x, labels, axis=axis, reduction=reduction)
