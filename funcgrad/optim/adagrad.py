"""``funcgrad.optim.Adagrad`` (PyTorch's algorithm and defaults)."""
from __future__ import annotations

from . import functional as F
from .optimizer import Optimizer, _wrap
from .sgd import _check_differentiable

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``).

    Algorithm (as PyTorch's)::

        s = initial_accumulator_value
        for t = 1, 2, ...:
            g = -grad if maximize else grad
            if weight_decay != 0: g = g + weight_decay * p
            clr = lr / (1 + (t - 1) * lr_decay)
            s = s + g * g
            p = p - clr * g / (sqrt(s) + eps)

    Like PyTorch's, the state (``step``, ``sum``) is created for every
    parameter when the optimizer is built.

    Args:
      params: parameters or parameter groups to optimize.
      lr: learning rate (default 1e-2).
      lr_decay: learning-rate decay (default 0).
      weight_decay: L2 penalty (default 0).
      initial_accumulator_value: starting value of the sums of squares (default 0).
      eps: added to the denominator (default 1e-10).
      maximize: maximize the objective.
      foreach, fused: accepted for compatibility, ignored.
      differentiable: must be False.
    """

    _math = F.ADAGRAD_MATH

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        F.check_adagrad(lr, lr_decay, weight_decay, initial_accumulator_value, eps)
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            hyper = self._hyper(group)
            for p in group["params"]:
                self.state[p] = {k: _wrap(v) for k, v in self._init_state(p, hyper).items()}
