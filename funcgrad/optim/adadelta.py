"""``funcgrad.optim.Adadelta`` (PyTorch's algorithm and defaults)."""
from __future__ import annotations

from . import functional as F
from .optimizer import Optimizer
from .sgd import _check_differentiable

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (``torch.optim.Adadelta``).

    Algorithm (as PyTorch's)::

        v = u = 0
        for t = 1, 2, ...:
            g = -grad if maximize else grad
            if weight_decay != 0: g = g + weight_decay * p
            v = rho * v + (1 - rho) * g * g
            d = sqrt(u + eps) / sqrt(v + eps) * g
            u = rho * u + (1 - rho) * d * d
            p = p - lr * d

    Args:
      params: parameters or parameter groups to optimize.
      lr: coefficient of the update (default 1.0).
      rho: decay of the running averages (default 0.9).
      eps: added inside the square roots (default 1e-6).
      weight_decay: L2 penalty (default 0).
      maximize: maximize the objective.
      capturable, foreach: accepted for compatibility, ignored.
      differentiable: must be False.
    """

    _math = F.ADADELTA_MATH

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        F.check_adadelta(lr, rho, eps, weight_decay)
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)
