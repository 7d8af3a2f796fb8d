"""Loss functions of ``nn.functional`` with PyTorch's signatures and reductions.

Class-index targets are matched against the class axis with a comparison
(``target[..., None] == arange(C)``) rather than a gather, so the same code
runs eagerly, under ``grad`` and under ``vmap``.  Range checks of targets
need their values: they run when the targets are concrete and are skipped
under transforms.
"""
from __future__ import annotations

import math

import numpy as np

from ... import numpy as fnp
from ._util import (arr, check_reduction, clamp_keep_grad, concrete_or_none, legacy_reduction,
                    log1pexp, reduce, relu0, shape_str)
from ...prims.softmax import cross_entropy as _fused_cross_entropy
from .activation import log_softmax


def _same_shape(input, target, op):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: Using a target size ({shape_str(target.shape)}) that is "
                         f"different to the input size ({shape_str(input.shape)}). Please "
                         "ensure they have the same size.")


def _broadcast_pair(input, target, op):
    x, t = arr(input), arr(target)
    try:
        np.broadcast_shapes(tuple(x.shape), tuple(t.shape))
    except ValueError:
        raise ValueError(f"{op}: the input of shape {tuple(x.shape)} and the target of shape "
                         f"{tuple(t.shape)} cannot be broadcast together; they should have "
                         "the same shape") from None
    return x, t


# --------------------------------------------------------------------------- #
# Regression losses
# --------------------------------------------------------------------------- #
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target)^2``, reduced.

    Examples:
        >>> import numpy as np
        >>> float(mse_loss(np.array([1.0, 2.0]), np.array([1.0, 4.0])))
        2.0
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "mse_loss")
    x, t = _broadcast_pair(input, target, "mse_loss")
    d = x - t
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "mse_loss")


def _reduce(loss, reduction, op):
    return reduce(loss, reduction, op)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error ``|input - target|`` (derivative 0 where they are equal)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "l1_loss")
    x, t = _broadcast_pair(input, target, "l1_loss")
    loss = fnp.abs(x - t)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "l1_loss")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``0.5 d^2 / beta`` for ``|d| < beta``, else ``|d| - 0.5 beta``."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x, t = _broadcast_pair(input, target, "smooth_l1_loss")
    d = fnp.abs(x - t)
    if beta == 0:
        return _reduce(d, reduction, "smooth_l1_loss")
    small = d < beta
    ds = fnp.where(small, d, 0.0)
    loss = fnp.where(small, 0.5 * ds * ds / beta, d - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``0.5 d^2`` for ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, t = _broadcast_pair(input, target, "huber_loss")
    d = fnp.abs(x - t)
    small = d < delta
    ds = fnp.where(small, d, 0.0)
    loss = fnp.where(small, 0.5 * ds * ds, delta * (d - 0.5 * delta))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "huber_loss")


# --------------------------------------------------------------------------- #
# Classification losses
# --------------------------------------------------------------------------- #
def _class_setup(x, t, weight, op):
    """Check shapes of (input, class-index target); return (class_dim, C)."""
    xs, ts = tuple(x.shape), tuple(t.shape)  # (each .shape of a Tensor builds a Size)
    if not xs:
        raise ValueError(f"{op}: input must have at least 1 dim (C) or (N, C, ...), got a "
                         "scalar")
    cdim = 0 if len(xs) == 1 else 1
    c = xs[cdim]
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: class-index targets must have an integer dtype, got "
                        f"{t.dtype} (shape {ts}); probability targets need the "
                        f"input's shape {xs}")
    want = xs[:cdim] + xs[cdim + 1:]
    if ts != want:
        if x.ndim >= 2 and (t.ndim == 0 or t.shape[0] != x.shape[0]):
            raise ValueError(f"{op}: Expected input batch_size ({x.shape[0]}) to match target "
                             f"batch_size ({t.shape[0] if t.ndim else 'a scalar'}).")
        raise ValueError(f"{op}: expected target of shape {shape_str(want)} for input of "
                         f"shape {shape_str(x.shape)}, got {shape_str(t.shape)}")
    if weight is not None and tuple(weight.shape) != (c,):
        raise ValueError(f"{op}: weight tensor should be defined either for all {c} classes "
                         f"or no classes but got weight tensor of shape: "
                         f"{shape_str(weight.shape)}")
    return cdim, c


def _check_targets(t, c, ignore_index, op):
    """Range-check concrete targets; return True when none of them is ``ignore_index``.

    (Traced targets are not checked, and may hold ``ignore_index``: False.)
    """
    vals = concrete_or_none(t)
    if vals is None:
        return False
    if vals.size == 0:
        return True
    if vals.dtype.kind == "i":
        # One reduction for both bounds: read as unsigned, a negative is huge.
        in_range = vals.view(f"u{vals.dtype.itemsize}").max() < c
    else:
        in_range = vals.max() < c
    if in_range:  # the common case: one reduction, no masks
        return not (0 <= ignore_index < c) or not (vals == ignore_index).any()
    bad = (vals != ignore_index) & ((vals < 0) | (vals >= c))
    if bad.any():
        v = vals[bad].flat[0]
        raise IndexError(f"{op}: Target {v} is out of bounds. The input has {c} classes, so "
                         f"targets must be in [0, {c - 1}] (or ignore_index={ignore_index}).")
    return False  # every out-of-range value is ignore_index


def _class_mask(t, c, cdim):
    """Boolean ``(..., C, ...)``: True at each target's class (never for ignored ones)."""
    shape = [1] * (t.ndim + 1)
    shape[cdim] = c
    return fnp.expand_dims(t, cdim) == np.arange(c).reshape(shape)


def _bcast_weight(weight, ndim, cdim):
    shape = [1] * ndim
    shape[cdim] = -1
    return fnp.reshape(weight, tuple(shape))


def _nll(logp, t, weight, ignore_index, reduction, cdim, c, all_valid=False):
    """nll_loss on log-probabilities with a class-index target.

    ``all_valid``: the targets are known to hold no ``ignore_index``.
    """
    # Gather the target's log-probability (one gather, whose backward is one
    # scatter) rather than masking all C classes with a one-hot `where`.
    n = math.prod(t.shape)
    if all_valid and weight is None and n:  # the common case: no masks, no weights
        picked = fnp.squeeze(fnp.take_along_axis(logp, fnp.expand_dims(t, cdim), axis=cdim),
                             cdim)
        if reduction == "none":
            return -picked
        total = fnp.sum(picked)
        return -total if reduction == "sum" else total * (-1.0 / n)
    valid = t != ignore_index
    safe = fnp.where(valid, t, 0)  # ignored targets pick class 0, then get weight 0
    picked = fnp.squeeze(fnp.take_along_axis(logp, fnp.expand_dims(safe, cdim), axis=cdim),
                         cdim)
    if weight is not None:
        wt = fnp.where(valid, fnp.take(weight, safe), 0.0)
    else:
        wt = fnp.astype(valid, logp.dtype)
    loss = -picked * wt
    if reduction == "none":
        return loss
    if reduction == "sum":
        return fnp.sum(loss)
    return fnp.sum(loss) / fnp.sum(wt)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of class-index targets, given log-probabilities.

    ``input``: ``(C)``, ``(N, C)`` or ``(N, C, d1, ...)``; ``target``: the same
    without the class dim, integers in ``[0, C)`` or ``ignore_index``.  With
    ``reduction='mean'`` the sum is divided by the total weight of the
    non-ignored targets.

    Raises:
      IndexError: a target out of ``[0, C)`` (eagerly; skipped under transforms).
      TypeError / ValueError: wrong target dtype or shape.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "nll_loss")
    x, t = arr(input), arr(target)
    cdim, c = _class_setup(x, t, weight, "nll_loss")
    all_valid = _check_targets(t, c, ignore_index, "nll_loss")
    return _nll(x, t, weight, ignore_index, reduction, cdim, c, all_valid)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Cross entropy between logits ``input`` and class indices or class probabilities.

    Args:
      input: unnormalised logits ``(C)``, ``(N, C)`` or ``(N, C, d1, ...)``.
      target: class indices (any integer dtype) of shape ``(N, d1, ...)``, or
        probabilities with the input's shape.
      weight: per-class weights ``(C,)``.
      ignore_index: class-index targets equal to this are skipped.
      reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
      label_smoothing: mix the target with the uniform distribution.

    Raises:
      IndexError: "Target 10 is out of bounds." with the number of classes.
      TypeError / ValueError: float targets whose shape differs from the
        input's, targets of a wrong dtype or shape.

    Examples:
        >>> import numpy as np
        >>> round(float(cross_entropy(np.zeros((1, 4)), np.array([2]))), 4)
        1.3863
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: "
                         f"{label_smoothing}")
    x, t = arr(input), arr(target)
    if x.dtype.kind not in "fc":
        raise TypeError(f"cross_entropy: input must be floating point logits, got {x.dtype}")
    cdim = 0 if x.ndim == 1 else 1
    if t.dtype.kind in "fc":
        if tuple(t.shape) != tuple(x.shape):
            raise ValueError(
                f"cross_entropy: the target has a floating dtype ({t.dtype}) and shape "
                f"{tuple(t.shape)}, but the input has shape {tuple(x.shape)}: probability "
                f"targets must have the input's shape; class-index targets must be integers "
                f"of shape {tuple(x.shape[:cdim]) + tuple(x.shape[cdim + 1:])}")
        if ignore_index >= 0:
            raise ValueError("cross_entropy: ignore_index is not supported for floating point "
                             "target")
        return _soft_cross_entropy(x, t, weight, reduction, label_smoothing, cdim)
    cdim, c = _class_setup(x, t, weight, "cross_entropy")
    all_valid = _check_targets(t, c, ignore_index, "cross_entropy")
    n = math.prod(t.shape)
    if all_valid and weight is None and label_smoothing == 0.0 and n and \
            x.dtype.kind == "f":
        # the common case as one fused primitive (see funcgrad/prims/softmax.py)
        return _fused_cross_entropy(x, t, cdim, reduction)
    logp = log_softmax(x, cdim)
    nll = _nll(logp, t, weight, ignore_index, reduction, cdim, c, all_valid)
    if label_smoothing == 0.0:
        return nll
    valid = t != ignore_index
    if weight is not None:
        smooth = -fnp.sum(logp * _bcast_weight(weight, x.ndim, cdim), axis=cdim)
    else:
        smooth = -fnp.sum(logp, axis=cdim)
    smooth = fnp.where(valid, smooth, 0.0)
    if reduction == "mean":
        if weight is not None:
            onehot = _class_mask(t, c, cdim)
            wt = fnp.sum(fnp.where(onehot, _bcast_weight(weight, x.ndim, cdim), 0.0),
                         axis=cdim)
            smooth = fnp.sum(smooth) / fnp.sum(fnp.where(valid, wt, 0.0))
        else:
            smooth = fnp.sum(smooth) / fnp.sum(fnp.astype(valid, x.dtype))
    elif reduction == "sum":
        smooth = fnp.sum(smooth)
    return (1.0 - label_smoothing) * nll + smooth * (label_smoothing / c)


def _soft_cross_entropy(x, t, weight, reduction, label_smoothing, cdim):
    c = x.shape[cdim]
    if weight is not None and tuple(weight.shape) != (c,):
        raise ValueError(f"cross_entropy: weight tensor should be defined either for all {c} "
                         f"classes or no classes but got weight tensor of shape: "
                         f"{shape_str(weight.shape)}")
    logp = log_softmax(x, cdim)
    if label_smoothing > 0:
        t = t * (1.0 - label_smoothing) + label_smoothing / c
    terms = logp * t
    if weight is not None:
        terms = terms * _bcast_weight(weight, x.ndim, cdim)
    if reduction == "none":
        return -fnp.sum(terms, axis=cdim)
    total = -fnp.sum(terms)
    if reduction == "sum":
        return total
    n = int(np.prod(x.shape)) // c if x.ndim > 1 else 1
    return total / n


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """``-(t log p + (1 - t) log(1 - p))`` on probabilities; logs are clamped at -100.

    Raises:
      ValueError: target and input shapes differ; input values outside [0, 1]
        (checked when concrete).
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "binary_cross_entropy")
    x, t = arr(input), arr(target)
    _same_shape(x, t, "binary_cross_entropy")
    vals = concrete_or_none(x)
    if vals is not None and vals.size and (vals.min() < 0 or vals.max() > 1):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 "
                         "and 1 (apply a sigmoid, or use binary_cross_entropy_with_logits on "
                         "the logits)")
    loss = -(t * _clamped_log(x) + (1.0 - t) * _clamped_log(1.0 - x))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def _clamped_log(p):
    # log(p) clamped below at -100 (PyTorch's BCE); log is taken on a safe input so
    # p == 0 gives -100 with a zero derivative instead of -inf and a NaN.
    ok = p > 0
    logp = fnp.log(fnp.where(ok, p, 1.0))
    return fnp.where(ok & (logp > -100.0), logp, -100.0)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross entropy in one stable expression.

    ``loss = (1 - t) x + (1 + (pos_weight - 1) t) * log(1 + exp(-x))``, the last
    factor computed per sign so it never overflows.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "binary_cross_entropy_with_logits")
    x, t = arr(input), arr(target)
    _same_shape(x, t, "binary_cross_entropy_with_logits")
    sp = log1pexp(-x)  # softplus(-x) = -log sigmoid(x)
    if pos_weight is not None:
        loss = (1.0 - t) * x + (1.0 + (pos_weight - 1.0) * t) * sp
    else:
        loss = (1.0 - t) * x + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _xlogy(x, y):
    zero = x == 0
    return fnp.where(zero, 0.0, x * fnp.log(fnp.where(zero, 1.0, y)))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence ``sum t (log t - input)`` with ``input`` log-probabilities.

    ``reduction='batchmean'`` divides the sum by the batch size (the true KL
    divergence); ``'mean'`` divides by the number of elements, as PyTorch.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "kl_div", extra=("batchmean",))
    x, t = _broadcast_pair(input, target, "kl_div")
    if log_target:
        loss = fnp.exp(t) * (t - x)
    else:
        loss = _xlogy(t, t) - t * x
    if reduction == "batchmean":
        return fnp.sum(loss) / (x.shape[0] if x.ndim else 1)
    return _reduce(loss, reduction, "kl_div")


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """Poisson negative log-likelihood: ``exp(x) - t x`` (``log_input``) or ``x - t log(x + eps)``.

    ``full`` adds Stirling's term ``t log t - t + 0.5 log(2 pi t)`` where ``t > 1``.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "poisson_nll_loss")
    x, t = _broadcast_pair(input, target, "poisson_nll_loss")
    if log_input:
        loss = fnp.exp(x) - t * x
    else:
        loss = x - t * fnp.log(x + eps)
    if full:
        big = t > 1
        ts = fnp.where(big, t, 1.0)
        loss = loss + fnp.where(big, ts * fnp.log(ts) - ts + 0.5 * fnp.log(2 * math.pi * ts),
                                0.0)
    return _reduce(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Gaussian negative log-likelihood ``0.5 (log var + (input - target)^2 / var)``.

    ``var`` has the input's shape, or one dim less / a last dim of 1
    (homoscedastic); it is clamped at ``eps`` for stability (the derivative
    ignores the clamp, as PyTorch's).

    Raises:
      ValueError: ``var`` of a wrong size, or negative (checked when concrete).
    """
    check_reduction(reduction, "gaussian_nll_loss")
    x, t, v = arr(input), arr(target), arr(var)
    if tuple(v.shape) != tuple(x.shape):
        if tuple(x.shape[:-1]) == tuple(v.shape):
            v = fnp.expand_dims(v, -1)
        elif tuple(x.shape[:-1]) == tuple(v.shape[:-1]) and v.shape[-1] == 1:
            pass
        else:
            raise ValueError(f"gaussian_nll_loss: var is of incorrect size: "
                             f"{tuple(v.shape)} for input {tuple(x.shape)}")
    vals = concrete_or_none(v)
    if vals is not None and (vals < 0).any():
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    v = clamp_keep_grad(v, lo=eps)
    d = x - t
    loss = 0.5 * (fnp.log(v) + d * d / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


# --------------------------------------------------------------------------- #
# Embedding / ranking losses
# --------------------------------------------------------------------------- #
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """``1 - cos(x1, x2)`` where target is 1, ``max(0, cos - margin)`` where it is -1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "cosine_embedding_loss")
    x1, x2, y = arr(input1), arr(input2), arr(target)
    if y.ndim not in (0, 1):
        raise ValueError("cosine_embedding_loss: 0D or 1D target tensor expected, multi-target "
                         "not supported")
    if x1.ndim != y.ndim + 1 or x2.ndim != y.ndim + 1:
        raise ValueError(f"cosine_embedding_loss: expected {y.ndim + 1}D inputs for a "
                         f"{y.ndim}D target, got {tuple(x1.shape)} and {tuple(x2.shape)}")
    dim = y.ndim
    eps = 1e-12
    prod = fnp.sum(x1 * x2, axis=dim)
    m1 = fnp.sum(x1 * x1, axis=dim) + eps
    m2 = fnp.sum(x2 * x2, axis=dim) + eps
    cos = prod / fnp.sqrt(m1 * m2)
    pos = fnp.where(y == 1, 1.0 - cos, 0.0)
    neg = fnp.where(y == -1, relu0(cos - margin), 0.0)
    return _reduce(pos + neg, reduction, "cosine_embedding_loss")


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    """``max(0, -target * (input1 - input2) + margin)``."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "margin_ranking_loss")
    x1, x2, y = arr(input1), arr(input2), arr(target)
    if not (x1.ndim == x2.ndim == y.ndim):
        raise ValueError(f"margin_ranking_loss: All input tensors should have same dimension "
                         f"but got sizes: input1: {shape_str(x1.shape)}, input2: "
                         f"{shape_str(x2.shape)}, target: {shape_str(y.shape)} ")
    return _reduce(relu0(-y * (x1 - x2) + margin), reduction, "margin_ranking_loss")


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """``x`` where target is 1, ``max(0, margin - x)`` where it is -1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "hinge_embedding_loss")
    x, y = _broadcast_pair(input, target, "hinge_embedding_loss")
    loss = fnp.where(y == 1, x, 0.0) + fnp.where(y == -1, relu0(margin - x), 0.0)
    return _reduce(loss, reduction, "hinge_embedding_loss")


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """``log(1 + exp(-target * input))``."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "soft_margin_loss")
    x, y = _broadcast_pair(input, target, "soft_margin_loss")
    loss = log1pexp(-y * x)
    return _reduce(loss, reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """Mean over classes of the per-class binary logistic loss."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "multilabel_soft_margin_loss")
    x, y = _broadcast_pair(input, target, "multilabel_soft_margin_loss")
    from .activation import logsigmoid
    loss = -(y * logsigmoid(x) + (1.0 - y) * logsigmoid(-x))
    if weight is not None:
        loss = loss * weight
    loss = fnp.mean(loss, axis=-1)
    return _reduce(loss, reduction, "multilabel_soft_margin_loss")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the pairwise p-norm distance."""
    from .basic import pairwise_distance
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "triplet_margin_loss")
    a, pos, neg = arr(anchor), arr(positive), arr(negative)
    if not (a.ndim == pos.ndim == neg.ndim) or a.ndim not in (1, 2):
        raise ValueError(f"triplet_margin_loss: The anchor, positive, and negative tensors are "
                         f"expected to have the same number of dimensions (1 or 2), but got: "
                         f"anchor {a.ndim}D, positive {pos.ndim}D, and negative {neg.ndim}D "
                         "inputs")
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_swap = pairwise_distance(pos, neg, p, eps)
        d_neg = fnp.where(d_swap < d_neg, d_swap, d_neg)
    return _reduce(relu0(margin + d_pos - d_neg), reduction, "triplet_margin_loss")


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with any ``distance_function`` (default L2)."""
    from .basic import pairwise_distance
    check_reduction(reduction, "triplet_margin_with_distance_loss")
    dist = pairwise_distance if distance_function is None else distance_function
    a, pos, neg = arr(anchor), arr(positive), arr(negative)
    d_pos = dist(a, pos)
    d_neg = dist(a, neg)
    if swap:
        d_swap = dist(pos, neg)
        d_neg = fnp.where(d_swap < d_neg, d_swap, d_neg)
    return _reduce(relu0(margin + d_pos - d_neg), reduction,
                   "triplet_margin_with_distance_loss")


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge: targets list class indices, ended by the first -1.

    ``loss = sum_{j in targets, i not in targets} max(0, 1 - (x_j - x_i)) / C``.
    The targets must be concrete (they select classes).
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "multilabel_margin_loss")
    x, t = arr(input), arr(target)
    vals = concrete_or_none(t)
    if vals is None:
        raise ValueError("multilabel_margin_loss: the targets select classes and must be "
                         "concrete (not traced)")
    if tuple(vals.shape) != tuple(x.shape):
        raise ValueError(f"multilabel_margin_loss: inconsistent target size: "
                         f"{shape_str(vals.shape)} for input of size: {shape_str(x.shape)}")
    c = x.shape[-1]
    v2 = vals.reshape(-1, c)
    is_target = np.zeros(v2.shape, dtype=bool)
    for r, row in enumerate(v2):
        for j in row:
            if j < 0:
                break
            if j >= c:
                raise IndexError(f"multilabel_margin_loss: target {j} is out of bounds for "
                                 f"{c} classes")
            is_target[r, j] = True
    is_target = is_target.reshape(vals.shape)
    # pairs (j target, i non-target): hinge over x_j - x_i
    diff = 1.0 - (fnp.expand_dims(x, -1) - fnp.expand_dims(x, -2))  # [..., j, i]
    mask = (is_target[..., :, None] & ~is_target[..., None, :]).astype(x.dtype)
    loss = fnp.sum(fnp.sum(relu0(diff) * mask, axis=-1), axis=-1) / c
    return _reduce(loss, reduction, "multilabel_margin_loss")


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Multi-class hinge: ``sum_{i != y} max(0, margin - x_y + x_i)^p / C``."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError("multi_margin_loss: only p == 1 and p == 2 supported")
    x, t = arr(input), arr(target)
    cdim, c = _class_setup(x, t, weight, "multi_margin_loss")
    _check_targets(t, c, -100, "multi_margin_loss")
    onehot = _class_mask(t, c, cdim)
    x_y = fnp.sum(fnp.where(onehot, x, 0.0), axis=cdim, keepdims=True)
    z = relu0(margin - x_y + x)
    if p == 2:
        z = z * z
    if weight is not None:
        wy = fnp.sum(fnp.where(onehot, weight, 0.0), axis=cdim, keepdims=True)
        z = z * wy
    loss = fnp.sum(fnp.where(onehot, 0.0, z), axis=cdim) / c
    return _reduce(loss, reduction, "multi_margin_loss")


__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
           "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
           "multilabel_soft_margin_loss", "triplet_margin_loss", "multi_margin_loss",
           "triplet_margin_with_distance_loss", "multilabel_margin_loss"]
