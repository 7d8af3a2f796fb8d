"""``funcgrad.optim.SGD``: stochastic gradient descent (PyTorch's algorithm and defaults)."""
from __future__ import annotations

from . import functional as F
from .optimizer import Optimizer

__all__ = ["SGD"]


def _check_differentiable(differentiable):
    if differentiable:
        raise NotImplementedError(
            "differentiable=True is not supported by the stateful optimizers; to differentiate "
            "through optimizer steps use funcgrad.optim.functional (its updates are pure "
            "functions: funcgrad.grad works through opt.step(params, grads, state))")


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (``torch.optim.SGD``).

    Algorithm (as PyTorch's)::

        for t = 1, 2, ...:
            g = -grad if maximize else grad
            if weight_decay != 0: g = g + weight_decay * p
            if momentum != 0:
                b = g                                  (t == 1)
                b = momentum * b + (1 - dampening) * g (t > 1)
                g = g + momentum * b if nesterov else b
            p = p - lr * g

    Args:
      params: parameters or parameter groups to optimize.
      lr: learning rate (default 1e-3).
      momentum: momentum factor (default 0).
      dampening: dampening for momentum (default 0).
      weight_decay: L2 penalty (default 0).
      nesterov: Nesterov momentum (needs momentum > 0 and dampening == 0).
      maximize: maximize the objective instead of minimizing it.
      foreach, fused: accepted for compatibility; funcgrad has one implementation.
      differentiable: must be False (use funcgrad.optim.functional instead).

    Raises:
      ValueError: a negative lr/momentum/weight_decay ("Invalid learning rate:
        -0.1"); nesterov without momentum or with dampening.

    Examples:
        >>> import numpy as np, funcgrad
        >>> w = funcgrad.tensor.Tensor(np.array([1.0, 2.0]), requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w._data
        array([0.8, 1.6])
    """

    _math = F.SGD_MATH

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        F.check_sgd(lr, momentum, dampening, weight_decay, nesterov)
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
