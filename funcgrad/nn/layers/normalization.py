"""Normalisation layers: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm, RMSNorm."""
from __future__ import annotations

import numbers

import numpy as np

from ...tensor import Tensor, no_grad
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from ._common import filled


def _register_affine(module, shape, affine, bias, dtype):
    """Give ``module`` a ``weight`` of ones and (with ``bias``) a ``bias`` of zeros of ``shape``.

    Without ``affine`` (or ``bias``) the missing parameters are registered as None.
    """
    if affine:
        module.weight = Parameter(filled(shape, 1.0, dtype))
        if bias:
            module.bias = Parameter(filled(shape, 0.0, dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module, affine):
    """Refill ``module.weight`` with ones and ``module.bias`` (if any) with zeros."""
    if affine:
        init.ones_(module.weight)
        if module.bias is not None:
            init.zeros_(module.bias)


class _NormBase(Module):
    """Shared state of batch and instance norm: affine parameters and running statistics."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _register_affine(self, (num_features,), affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(filled((num_features,), 0.0, dtype)))
            self.register_buffer("running_var", Tensor(filled((num_features,), 1.0, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        if device is not None:
            self.to(device)

    def reset_running_stats(self):
        if self.track_running_stats:
            with no_grad():
                dt = self.running_mean.dtype
                self.running_mean._assign(np.zeros(self.num_features, dtype=dt))
                self.running_var._assign(np.ones(self.num_features, dtype=dt))
                self.num_batches_tracked._assign(np.array(0, dtype=np.int64))

    def reset_parameters(self):
        self.reset_running_stats()
        _reset_affine(self, self.affine)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def _check_input_dim(self, input):
        # An abstract hook, as in PyTorch's _NormBase: each subclass checks its rank.
        raise NotImplementedError(f"{type(self).__name__} must define _check_input_dim")


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        count = self.training and self.track_running_stats and \
            self.num_batches_tracked is not None
        if count and self.momentum is None:  # cumulative moving average
            factor = 1.0 / (float(np.asarray(self.num_batches_tracked._data)) + 1)
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        use_running = not self.training or self.track_running_stats
        out = F.batch_norm(input, self.running_mean if use_running else None,
                           self.running_var if use_running else None, self.weight, self.bias,
                           bn_training, factor, self.eps)
        if count:  # after the update: a call that raises leaves the counter alone
            nbt = self.num_batches_tracked
            with no_grad():
                nbt._assign(nbt._data + 1)
        return out


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs.

    Buffers ``running_mean``, ``running_var``, ``num_batches_tracked``;
    ``momentum=None`` gives a cumulative average.  Batch statistics in
    training mode, running statistics in eval mode.
    """

    def _check_input_dim(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` inputs.

    Examples:
        >>> import funcgrad as torch
        >>> bn = torch.nn.BatchNorm2d(3)
        >>> bn(torch.randn(4, 3, 2, 2)).shape
        torch.Size([4, 3, 2, 2])
    """

    def _check_input_dim(self, input):
        if input.ndim != 4:
            raise ValueError(f"expected 4D input (got {input.ndim}D input)")


class BatchNorm3d(_BatchNorm):
    def _check_input_dim(self, input):
        if input.ndim != 5:
            raise ValueError(f"expected 5D input (got {input.ndim}D input)")


class _InstanceNorm(_NormBase):
    _nd = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def forward(self, input):
        nd = self._nd
        if input.ndim not in (nd + 1, nd + 2):
            raise ValueError(f"{self._get_name()}: expected {nd + 1}D or {nd + 2}D input (got "
                             f"{input.ndim}D input)")
        unbatched = input.ndim == nd + 1
        if unbatched:
            from ... import numpy as fnp
            input = fnp.expand_dims(input, 0)
        c = input.shape[1]
        if c != self.num_features and self.affine:
            raise ValueError(f"{self._get_name()}: expected input's size at dim=1 to match "
                             f"num_features ({self.num_features}), but got: {c}.")
        use_input_stats = self.training or not self.track_running_stats
        out = F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                              self.bias, use_input_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out[0] if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of ``(N, C, L)`` / ``(C, L)`` inputs."""
    _nd = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of ``(N, C, H, W)`` / ``(C, H, W)`` inputs (affine=False)."""
    _nd = 2


class InstanceNorm3d(_InstanceNorm):
    _nd = 3


def _normalized_shape(shape):
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    return tuple(int(s) for s in shape)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift.

    Examples:
        >>> import funcgrad as torch
        >>> ln = torch.nn.LayerNorm(4)
        >>> [n for n, _ in ln.named_parameters()]
        ['weight', 'bias']
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _register_affine(self, self.normalized_shape, elementwise_affine, bias, dtype)
        if device is not None:
            self.to(device)

    def reset_parameters(self):
        _reset_affine(self, self.elementwise_affine)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing dims (``eps=None``: machine eps)."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(filled(self.normalized_shape, 1.0, dtype))
        else:
            self.register_parameter("weight", None)
        if device is not None:
            self.to(device)

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Normalise groups of ``num_channels // num_groups`` channels (with the spatial dims)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _register_affine(self, (num_channels,), affine, bias, dtype)
        if device is not None:
            self.to(device)

    def reset_parameters(self):
        _reset_affine(self, self.affine)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LayerNorm", "RMSNorm", "GroupNorm", "LocalResponseNorm"]
