"""``embedding_bag``: sums, means or maxima of bags of embeddings, without the intermediate.

The bags are laid out as a padded ``(B, longest bag)`` index table (built
from the concrete ``offsets``), looked up with :func:`embedding` and reduced
with a validity mask: one gather and one reduction, all differentiable by the
engine.
"""
from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from .basic import embedding
from ._util import arr, concrete_or_none

_MODES = ("sum", "mean", "max")


def _bag_layout(n_items, offsets, include_last_offset, op):
    """(positions (B, Lmax), valid (B, Lmax)) of the bags given by ``offsets``."""
    off = concrete_or_none(offsets)
    if off is None:
        raise ValueError(f"{op}: offsets must be concrete (they fix the bags' shapes); they "
                         "are traced here -- pass them as a constant, or use the 2-D input "
                         "form (B, bag_size)")
    off = np.asarray(off).reshape(-1).astype(np.int64)
    if off.size and off[0] != 0:
        raise ValueError(f"{op}: offsets[0] has to be 0, i.e., the first sequence in the "
                         f"mini-batch has to start from position 0. However, got {off[0]}")
    if include_last_offset:
        if off.size == 0:
            raise ValueError(f"{op}: include_last_offset=True needs at least one offset")
        # The last offset should be len(input); PyTorch's kernel runs the last bag to
        # the end of the input whatever it says, and so do we.
        starts, ends = off[:-1], np.append(off[1:-1], n_items)
    else:
        starts, ends = off, np.append(off[1:], n_items)
    lengths = ends - starts
    if (lengths < 0).any() or (off > n_items).any():
        raise ValueError(f"{op}: offsets must be non-decreasing and at most the number of "
                         f"indices ({n_items}); got {off.tolist()}")
    longest = int(lengths.max()) if lengths.size else 0
    steps = np.arange(longest)
    valid = steps[None, :] < lengths[:, None]
    pos = np.where(valid, starts[:, None] + steps[None, :], 0)
    return pos, valid


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Reduce bags of rows of ``weight`` by ``mode`` ('sum' | 'mean' | 'max').

    Two input forms (as PyTorch):

    * 2-D ``input (B, N)``: B bags of N indices each; ``offsets`` must be None.
    * 1-D ``input (M,)`` with ``offsets (B,)``: bag ``b`` is
      ``input[offsets[b]:offsets[b+1]]``, the last running to the end.  With
      ``include_last_offset`` ``offsets`` ends with ``len(input)`` and there
      are ``len(offsets) - 1`` bags.

    Args:
      weight: ``(num_embeddings, D)``.
      per_sample_weights: like ``input``; each row is scaled by its weight
        (mode 'sum' only).
      padding_idx: entries equal to it are left out of their bag (not
        counted by 'mean'); an empty bag gives zeros in every mode.
      max_norm, norm_type, scale_grad_by_freq: as :func:`embedding`.

    Returns:
      ``(B, D)``.

    Raises:
      TypeError: non-integer indices.
      ValueError: a bad mode, offsets with a 2-D input, offsets not starting
        at 0 or decreasing, per_sample_weights outside mode 'sum' or of
        another shape.

    Example:
        >>> import numpy as np
        >>> w = np.arange(8.0).reshape(4, 2)
        >>> embedding_bag(np.array([0, 1, 3]), w, np.array([0, 2]), mode="sum")
        array([[2., 4.],
               [6., 7.]])
    """
    op = "embedding_bag"
    idx, w = arr(input), arr(weight)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected indices of an integer dtype, got {idx.dtype}")
    if w.ndim != 2:
        raise ValueError(f"{op}: weight has to be a 2D Tensor, but got shape {tuple(w.shape)}")
    if mode not in _MODES:
        raise ValueError(f"{op}: mode has to be one of sum, mean or max, got {mode!r}")
    psw = None if per_sample_weights is None else arr(per_sample_weights)
    if psw is not None:
        if mode != "sum":
            raise ValueError(f"{op}: per_sample_weights was not None. per_sample_weights is "
                             f"only supported for mode='sum' (got mode='{mode}')")
        if tuple(psw.shape) != tuple(idx.shape):
            raise ValueError(f"{op}: per_sample_weights of shape {tuple(psw.shape)} must have "
                             f"the same shape as the input {tuple(idx.shape)}")
    n, dim = w.shape
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"{op}: padding_idx must be within num_embeddings ({n}), got "
                             f"{padding_idx}")
        padding_idx = padding_idx % n
    rows = embedding(idx, weight, None, max_norm, norm_type, scale_grad_by_freq)
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: if input is 2D, then offsets has to be None, as input is "
                             "treated as a mini-batch of fixed length sequences")
        bags, valid = idx, np.ones(tuple(idx.shape), dtype=bool)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError(f"{op}: offsets has to be a 1D Tensor for a 1D input, but got "
                             "None")
        pos, valid = _bag_layout(idx.shape[0], offsets, include_last_offset, op)
        if idx.shape[0] == 0:
            pos = np.zeros((pos.shape[0], 0), dtype=np.int64)
            valid = valid[:, :0]
        bags, rows = idx[pos], rows[pos]
        if psw is not None:
            psw = psw[pos]
    else:
        raise ValueError(f"{op}: input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{idx.ndim}")
    n_bags, longest = valid.shape
    if longest == 0:
        return fnp.zeros((n_bags, dim), dtype=w.dtype)
    if padding_idx is not None:
        valid = fnp.logical_and(valid, bags != padding_idx)
    keep = fnp.expand_dims(valid, -1)
    if mode == "max":
        out = fnp.max(fnp.where(keep, rows, -np.inf), axis=1)
        return fnp.where(fnp.any(keep, axis=1), out, 0.0)
    if psw is not None:
        rows = rows * fnp.expand_dims(psw, -1)
    total = fnp.sum(fnp.where(keep, rows, 0.0), axis=1)
    if mode == "sum":
        return total
    count = fnp.sum(fnp.astype(keep, w.dtype), axis=1)
    return total / fnp.maximum(count, 1.0)


__all__ = ["embedding_bag"]
