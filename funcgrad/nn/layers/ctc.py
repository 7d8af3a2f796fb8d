"""CTCLoss: the Connectionist Temporal Classification loss as a Module."""
from __future__ import annotations

from .._functional.ctc import ctc_loss
from .loss import _Loss


class CTCLoss(_Loss):
    """CTC loss between ``(T, N, C)`` log-probabilities and unaligned targets.

    Args:
      blank: the blank label (default 0).
      reduction: ``'mean'`` (each loss divided by its target length, then
        averaged), ``'sum'`` or ``'none'``.
      zero_infinity: zero infinite losses (impossible alignments) and their
        gradients.

    ``forward(log_probs, targets, input_lengths, target_lengths)``; see
    :func:`funcgrad.nn.functional.ctc_loss`.

    Example:
        >>> import funcgrad as torch
        >>> ctc = torch.nn.CTCLoss()
        >>> logits = torch.randn(12, 2, 5, requires_grad=True)
        >>> log_probs = logits.log_softmax(2)
        >>> targets = torch.tensor([[1, 2, 2], [3, 4, 0]])
        >>> loss = ctc(log_probs, targets, [12, 10], [3, 2])
        >>> loss.backward()
    """

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                        self.reduction, self.zero_infinity)


__all__ = ["CTCLoss"]
