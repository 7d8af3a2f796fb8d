"""Linear layers: Identity, Linear, Bilinear."""
from __future__ import annotations

import math

from ...prims.linear import linear as _linear
from .. import functional as F
from .. import init
from ..module import Module
from ._common import kaiming_uniform_weight_and_bias_, register_weight_and_bias


class Identity(Module):
    """Returns its input unchanged (accepts and ignores any constructor arguments)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """``y = x @ weight.T + bias``.

    Args:
      in_features, out_features: sizes of the last dim of input and output.
      bias: learn an additive bias.
      device, dtype: of the parameters (default float32).

    Parameters: ``weight (out_features, in_features)`` and ``bias
    (out_features,)``, initialised from U(-1/sqrt(in_features),
    1/sqrt(in_features)) as in PyTorch (kaiming_uniform_ with a=sqrt(5)).

    Examples:
        >>> import funcgrad as torch
        >>> torch.nn.Linear(784, 128)(torch.zeros(64, 784)).shape
        torch.Size([64, 128])
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        register_weight_and_bias(self, (out_features, in_features), out_features, bias, dtype)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self):
        kaiming_uniform_weight_and_bias_(self.weight, self.bias)

    def forward(self, input):
        shape = input.shape
        if not shape or shape[-1] != self.in_features:
            shape = tuple(shape)
            raise ValueError(f"{self._get_name()}(in_features={self.in_features}, "
                             f"out_features={self.out_features}): expected input with last "
                             f"dimension {self.in_features}, got shape {shape}")
        params = self._parameters  # (self.weight would miss the instance dict first)
        w = params["weight"] if "weight" in params else self.weight
        b = params["bias"] if "bias" in params else self.bias
        if w.shape == (self.out_features, self.in_features) and (
                b is None or b.shape == (self.out_features,)):
            return _linear(input, w, b)  # F.linear's common case, its checks done above
        return F.linear(input, w, b)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """``y = x1 @ weight[o] @ x2 + bias[o]`` with weight ``(out, in1, in2)``."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        register_weight_and_bias(self, (out_features, in1_features, in2_features), out_features,
                                 bias, dtype)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


__all__ = ["Identity", "Linear", "Bilinear"]
