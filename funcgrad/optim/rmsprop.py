"""``funcgrad.optim.RMSprop`` (PyTorch's algorithm and defaults)."""
from __future__ import annotations

from . import functional as F
from .optimizer import Optimizer
from .sgd import _check_differentiable

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``), optionally centered and with momentum.

    Algorithm (as PyTorch's)::

        v = b = ga = 0
        for t = 1, 2, ...:
            g = -grad if maximize else grad
            if weight_decay != 0: g = g + weight_decay * p
            v = alpha * v + (1 - alpha) * g * g
            if centered: ga = lerp(ga, g, 1 - alpha); avg = sqrt(v - ga * ga) + eps
            else:        avg = sqrt(v) + eps
            if momentum > 0: b = momentum * b + g / avg; p = p - lr * b
            else:            p = p - lr * g / avg

    Args:
      params: parameters or parameter groups to optimize.
      lr: learning rate (default 1e-2).
      alpha: smoothing constant (default 0.99).
      eps: added to the denominator (default 1e-8).
      weight_decay: L2 penalty (default 0).
      momentum: momentum factor (default 0).
      centered: normalize by an estimate of the gradient's variance.
      maximize: maximize the objective.
      capturable, foreach: accepted for compatibility, ignored.
      differentiable: must be False.
    """

    _math = F.RMSPROP_MATH

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        F.check_rmsprop(lr, alpha, eps, weight_decay, momentum)
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)
