"""``funcgrad.optim.Adam`` and ``AdamW`` (PyTorch's algorithms and defaults)."""
from __future__ import annotations

from . import functional as F
from .optimizer import Optimizer
from .sgd import _check_differentiable

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``), with optional AMSGrad.

    Algorithm (as PyTorch's)::

        m = v = vmax = 0
        for t = 1, 2, ...:
            g = -grad if maximize else grad
            if weight_decay != 0:
                p = p * (1 - lr * weight_decay)     (decoupled_weight_decay: AdamW)
                g = g + weight_decay * p            (otherwise)
            m = lerp(m, g, 1 - beta1)
            v = beta2 * v + (1 - beta2) * g * g
            if amsgrad: vmax = max(vmax, v); v_used = vmax  else: v_used = v
            p = p - lr / (1 - beta1**t) * m / (sqrt(v_used) / sqrt(1 - beta2**t) + eps)

    Args:
      params: parameters or parameter groups to optimize.
      lr: learning rate (default 1e-3).
      betas: coefficients of the running averages of the gradient and of its
        square (default (0.9, 0.999)).
      eps: added to the denominator (default 1e-8).
      weight_decay: L2 penalty (default 0).
      amsgrad: use the AMSGrad variant.
      maximize: maximize the objective.
      decoupled_weight_decay: AdamW's decay (``AdamW`` sets it).
      foreach, capturable, fused: accepted for compatibility, ignored.
      differentiable: must be False.

    Raises:
      ValueError: "Invalid learning rate: -0.1", "Invalid epsilon value: ...",
        "Invalid beta parameter at index 0: 1.5", "Invalid weight_decay value".

    Examples:
        >>> import numpy as np, funcgrad
        >>> w = funcgrad.tensor.Tensor(np.array([1.0, -1.0]), requires_grad=True)
        >>> opt = Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w._data.round(6)
        array([ 0.9, -0.9])
    """

    _math = F.ADAM_MATH

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        F.check_adam(lr, betas, eps, weight_decay)
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)


class AdamW(Adam):
    """AdamW (``torch.optim.AdamW``): Adam with decoupled weight decay (default 1e-2).

    The decay multiplies the parameter, ``p = p * (1 - lr * weight_decay)``,
    before the Adam update, instead of entering the running averages.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
