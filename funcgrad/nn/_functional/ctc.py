"""Connectionist Temporal Classification loss (Graves et al., 2006).

The forward (alpha) recursion runs in log space over the extended label
sequence ``blank, l1, blank, l2, ..., blank`` (length ``2S + 1``),
vectorised over the batch and the label positions; only time is a Python
loop.  The gradient is the engine's reverse pass through that recursion --
no hand-written beta recursion.  Impossible alignments carry ``-inf`` through
a log-sum-exp that is safe there (zero gradient, no NaN).
"""
from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from ...prims.shape_ops import pad_constant
from ._util import arr, check_reduction, concrete_or_none


def _lengths(x, n, name, op):
    vals = concrete_or_none(x) if hasattr(x, "shape") else np.asarray(x)
    if vals is None:
        raise ValueError(f"{op}: {name} must be concrete (they fix the loop and the "
                         "gathers), but they are traced here; pass them as constants")
    vals = np.asarray(vals).reshape(-1)
    if vals.dtype.kind not in "iu":
        if vals.size and not np.all(vals == np.round(vals)):
            raise TypeError(f"{op}: {name} must be integers, got {vals.dtype}")
        vals = vals.astype(np.int64)
    if vals.shape != (n,):
        raise ValueError(f"{op}: {name} must have one entry per batch element ({n}), got "
                         f"shape {vals.shape}")
    if (vals < 0).any():
        raise ValueError(f"{op}: {name} must be non-negative, got {vals.tolist()}")
    return vals.astype(np.int64)


def _logsumexp(*xs):
    """log(sum(exp(x))) of same-shape arrays, exact -inf (and zero gradient) when all are -inf."""
    m = xs[0]
    for x in xs[1:]:
        m = fnp.maximum(m, x)
    m = fnp.stop_gradient(m)
    dead = m == -np.inf
    m = fnp.where(dead, 0.0, m)
    s = fnp.exp(xs[0] - m)
    for x in xs[1:]:
        s = s + fnp.exp(x - m)
    return fnp.where(dead, -np.inf, fnp.log(fnp.where(dead, 1.0, s)) + m)


def _padded_targets(tg, tl, blank, op):
    """Targets as an ``(N, S_max)`` table (the concatenated 1-D form is split by ``tl``)."""
    n = tl.shape[0]
    if tg.ndim == 2:
        if tg.shape[0] != n:
            raise ValueError(f"{op}: targets of shape {tuple(tg.shape)} must have one row per "
                             f"batch element ({n})")
        if tl.size and tl.max() > tg.shape[1]:
            raise ValueError(f"{op}: Expected tensor to have size at least {tl.max()} at "
                             f"dimension 1, but got size {tg.shape[1]} for targets")
        return tg
    if tg.ndim != 1:
        raise ValueError(f"{op}: targets must be (N, S) or 1-D (sum(target_lengths),), got "
                         f"shape {tuple(tg.shape)}")
    if tl.sum() > tg.shape[0]:
        raise ValueError(f"{op}: the concatenated targets hold {tg.shape[0]} labels but "
                         f"target_lengths add up to {tl.sum()}")
    longest = int(tl.max()) if tl.size else 0
    starts = np.concatenate([[0], np.cumsum(tl)[:-1]]).astype(np.int64)
    steps = np.arange(longest)
    valid = steps[None, :] < tl[:, None]
    pos = np.where(valid, starts[:, None] + steps[None, :], 0)
    if tg.shape[0] == 0:
        return np.full((n, longest), blank, dtype=np.int64)
    return fnp.where(valid, tg[pos], blank)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """The CTC loss: ``-log p(target | input)`` summed over all alignments.

    Args:
      log_probs: ``(T, N, C)`` (or unbatched ``(T, C)``) log-probabilities,
        e.g. ``log_softmax(logits, dim=2)``.
      targets: ``(N, S)`` label indices padded to S, or the 1-D
        concatenation of all targets; labels must not be ``blank``.
      input_lengths: ``(N,)`` lengths of the inputs (each at most T).
      target_lengths: ``(N,)`` lengths of the targets.
      blank: the blank label.
      reduction: ``'mean'`` (each loss divided by its target length, then
        averaged over the batch, as PyTorch), ``'sum'`` or ``'none'``.
      zero_infinity: replace infinite losses (impossible alignments) and
        their gradients by zero.

    Returns:
      A scalar, or ``(N,)`` with ``reduction='none'``.

    The gradient is the exact derivative with respect to ``log_probs``.
    (PyTorch's kernel returns ``exp(log_probs) - occupancy`` instead, which
    agrees with it once propagated through a ``log_softmax``, the usual case.)

    Raises:
      ValueError: shapes or lengths that do not fit, a bad ``blank`` or
        reduction, traced lengths.

    Example:
        >>> import numpy as np
        >>> lp = np.log(np.full((3, 1, 2), 0.5))  # 6 of the 8 paths spell "1"
        >>> round(float(ctc_loss(lp, np.array([[1]]), [3], [1], reduction="sum")), 4)
        0.2877
    """
    op = "ctc_loss"
    check_reduction(reduction, op)
    lp = arr(log_probs)
    tg = arr(targets)
    unbatched = lp.ndim == 2
    if unbatched:
        lp = fnp.expand_dims(lp, 1)
        tg = fnp.expand_dims(tg, 0) if tg.ndim == 1 else tg
        input_lengths = np.reshape(concrete_or_none(input_lengths)
                                   if hasattr(input_lengths, "shape")
                                   else np.asarray(input_lengths), (1,))
        target_lengths = np.reshape(concrete_or_none(target_lengths)
                                    if hasattr(target_lengths, "shape")
                                    else np.asarray(target_lengths), (1,))
    if lp.ndim != 3:
        raise ValueError(f"{op}: log_probs must be (T, N, C) or (T, C), got shape "
                         f"{tuple(lp.shape)}")
    if tg.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integers, got {tg.dtype}")
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise ValueError(f"{op}: blank must be in label range [0, {C}), got {blank}")
    il = _lengths(input_lengths, N, "input_lengths", op)
    tl = _lengths(target_lengths, N, "target_lengths", op)
    if il.size and il.max() > T:
        raise ValueError(f"{op}: Expected input_lengths to have value at most {T}, but got "
                         f"value {il.max()}")
    tg = _padded_targets(tg, tl, blank, op)
    S = tg.shape[1]
    L = 2 * S + 1
    # Extended labels (N, L): blank, l1, blank, l2, ..., blank.
    blanks = fnp.full((N, S), blank, dtype=tg.dtype)
    ext = fnp.concatenate([fnp.reshape(fnp.stack([blanks, tg], axis=2), (N, 2 * S)),
                           fnp.full((N, 1), blank, dtype=tg.dtype)], axis=1)
    # A label may be reached from two positions back unless it is blank or repeats.
    if S > 0:
        skip = fnp.logical_and(ext[:, 2:] != blank, ext[:, 2:] != ext[:, :-2])
        skip = fnp.concatenate([np.zeros((N, 2), dtype=bool), skip], axis=1)
    else:
        skip = np.zeros((N, L), dtype=bool)
    lp_ext = fnp.take_along_axis(lp, fnp.broadcast_to(fnp.expand_dims(ext, 0), (T, N, L)),
                                 axis=2)
    neg_inf = -np.inf
    alpha = fnp.where(np.arange(L) < 2, lp_ext[0], neg_inf)
    steps = int(il.max()) if il.size else 0
    for t in range(1, steps):
        a1 = pad_constant(alpha[:, :-1], ((0, 0), (1, 0)), neg_inf)
        a2 = fnp.where(skip, pad_constant(alpha[:, :-2], ((0, 0), (2, 0)), neg_inf), neg_inf)
        new = _logsumexp(alpha, a1, a2) + lp_ext[t]
        active = t < il
        alpha = new if active.all() else fnp.where(active[:, None], new, alpha)
    # End in the last blank or the last label.
    last = np.stack([2 * tl, np.maximum(2 * tl - 1, 0)], axis=1)
    ends = fnp.take_along_axis(alpha, last, axis=1)
    ends = fnp.where(np.stack([np.ones(N, bool), tl > 0], axis=1), ends, neg_inf)
    loglik = _logsumexp(ends[:, 0], ends[:, 1])
    if (il == 0).any():  # no frames: only the empty target has probability 1
        loglik = fnp.where(il == 0, np.where(tl == 0, 0.0, neg_inf), loglik)
    loss = -loglik
    if zero_infinity:
        loss = fnp.where(fnp.isinf(loss), 0.0, loss)
    if reduction == "none":
        return loss[0] if unbatched else loss
    if reduction == "sum":
        return fnp.sum(loss)
    return fnp.mean(loss / np.maximum(tl, 1).astype(lp.dtype))


__all__ = ["ctc_loss"]
