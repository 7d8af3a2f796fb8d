"""EmbeddingBag: the sum, mean or max of bags of embeddings."""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor, no_grad
from .. import init
from .._functional.embedding_bag import embedding_bag
from ..module import Module
from ..parameter import Parameter
from ._common import empty_parameter


class EmbeddingBag(Module):
    """Sums, means or maxima of bags of embeddings, without the per-index intermediate.

    Args:
      num_embeddings, embedding_dim: the table's size; ``weight`` is
        ``(num_embeddings, embedding_dim)``, initialised from N(0, 1).
      mode: ``'mean'`` (default), ``'sum'`` or ``'max'``.
      padding_idx: entries equal to it are left out of their bag; its row is
        initialised to zeros.
      include_last_offset: ``offsets`` has one more entry, the end of the
        last bag.
      max_norm, norm_type, scale_grad_by_freq, sparse: as :class:`Embedding`.

    ``forward(input, offsets=None, per_sample_weights=None)``: a 2-D input
    ``(B, N)`` is B bags of N indices; a 1-D input needs ``offsets`` (the
    start of each bag).  Returns ``(B, embedding_dim)``.

    Example:
        >>> import funcgrad as torch
        >>> bag = torch.nn.EmbeddingBag(10, 3, mode="sum")
        >>> bag(torch.tensor([1, 2, 4, 5, 4]), torch.tensor([0, 2])).shape
        torch.Size([2, 3])
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError("padding_idx must be within num_embeddings")
            padding_idx = padding_idx % num_embeddings
        self.padding_idx = padding_idx
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")
        if _weight is None:
            self.weight = empty_parameter((num_embeddings, embedding_dim), dtype)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError("Shape of weight does not match num_embeddings and "
                                 "embedding_dim")
            data = _weight._data if isinstance(_weight, Tensor) else np.asarray(_weight)
            self.weight = Parameter(data)
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset
        if device is not None:
            self.to(device)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            w = np.array(self.weight._data)
            w[self.padding_idx] = 0
            with no_grad():
                self.weight._assign(w)

    def forward(self, input, offsets=None, per_sample_weights=None):
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                             self.scale_grad_by_freq, self.mode, self.sparse,
                             per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        s += f", mode='{self.mode}'"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        """An EmbeddingBag holding ``embeddings`` (2-D); frozen unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                  _weight=embeddings, include_last_offset=include_last_offset,
                  padding_idx=padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag


__all__ = ["EmbeddingBag"]
