"""``funcgrad.autograd``: PyTorch's autograd names on the one engine."""
from __future__ import annotations

from .tensor import Tensor, backward, grad, no_grad, enable_grad, set_grad_enabled  # noqa: F401

Variable = Tensor  # the legacy name: Variable(x) is a Tensor

__all__ = ["Variable", "Tensor", "grad", "backward", "no_grad", "enable_grad",
           "set_grad_enabled"]
