"""Shape layers: Flatten, Unflatten, padding layers, Upsample, distances."""
from __future__ import annotations

from ... import numpy as fnp
from .. import functional as F
from ..module import Module


def _dim(d, ndim, name):
    if not -ndim <= d < ndim:
        raise IndexError(f"{name}: Dimension out of range (expected to be in range of "
                         f"[{-ndim}, {ndim - 1}], but got {d})")
    return d % ndim


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` into one.

    Examples:
        >>> import funcgrad as torch
        >>> torch.nn.Flatten()(torch.zeros(2, 3, 4)).shape
        torch.Size([2, 12])
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        shape = tuple(input.shape)
        if not shape:
            return fnp.reshape(input, (1,))
        s = _dim(self.start_dim, len(shape), "Flatten")
        e = _dim(self.end_dim, len(shape), "Flatten")
        if s > e:
            raise ValueError("Flatten: start_dim cannot come after end_dim")
        return fnp.reshape(input, shape[:s] + (-1,) + shape[e + 1:])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dim ``dim`` into ``unflattened_size``."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError("Unflatten: invalid argument type for dim parameter (int expected; "
                            "named dims are not supported)")
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input):
        shape = tuple(input.shape)
        d = _dim(self.dim, len(shape), "Unflatten")
        return fnp.reshape(input, shape[:d] + self.unflattened_size + shape[d + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class _PadNd(Module):
    _mode = "constant"
    _nd = 1

    def __init__(self, padding, value=0.0):
        super().__init__()
        self.padding = tuple(padding) if isinstance(padding, (tuple, list)) \
            else (padding,) * (2 * self._nd)
        self.value = value

    def forward(self, input):
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        if self._mode == "constant":
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


def _pad_class(name, mode, nd, doc):
    cls = type(name, (_PadNd,), {"_mode": mode, "_nd": nd, "__doc__": doc, "__module__": __name__})
    if mode != "constant":
        def __init__(self, padding):
            _PadNd.__init__(self, padding)
        cls.__init__ = __init__
    return cls


ConstantPad1d = _pad_class("ConstantPad1d", "constant", 1, "Pad the last dim with a value.")
ConstantPad2d = _pad_class("ConstantPad2d", "constant", 2, "Pad the last 2 dims with a value.")
ConstantPad3d = _pad_class("ConstantPad3d", "constant", 3, "Pad the last 3 dims with a value.")
ReflectionPad1d = _pad_class("ReflectionPad1d", "reflect", 1, "Reflect-pad the last dim.")
ReflectionPad2d = _pad_class("ReflectionPad2d", "reflect", 2, "Reflect-pad the last 2 dims.")
ReplicationPad1d = _pad_class("ReplicationPad1d", "replicate", 1, "Edge-pad the last dim.")
ReplicationPad2d = _pad_class("ReplicationPad2d", "replicate", 2, "Edge-pad the last 2 dims.")
CircularPad1d = _pad_class("CircularPad1d", "circular", 1, "Wrap-pad the last dim.")
CircularPad2d = _pad_class("CircularPad2d", "circular", 2, "Wrap-pad the last 2 dims.")
ReflectionPad3d = _pad_class("ReflectionPad3d", "reflect", 3, "Reflect-pad the last 3 dims.")
ReplicationPad3d = _pad_class("ReplicationPad3d", "replicate", 3, "Edge-pad the last 3 dims.")
CircularPad3d = _pad_class("CircularPad3d", "circular", 3, "Wrap-pad the last 3 dims.")


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last 2 dims with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class Upsample(Module):
    """Resize spatial dims (``nearest``, ``linear``, ``bilinear``, ``trilinear``)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) \
            else scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode,
                             self.align_corners, self.recompute_scale_factor)

    def extra_repr(self):
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class CosineSimilarity(Module):
    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


__all__ = ["Flatten", "Unflatten", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d",
           "CircularPad1d", "CircularPad2d", "ZeroPad1d", "ZeroPad2d", "Upsample",
           "ReflectionPad3d", "ReplicationPad3d", "CircularPad3d", "ZeroPad3d",
           "CosineSimilarity", "PairwiseDistance"]
