"""``nn.Parameter``: a Tensor that a Module registers as one of its parameters."""
from __future__ import annotations

import copy

import numpy as np

from ..core import Tracer
from ..tensor import Tensor, register_tensor_pytree


class Parameter(Tensor):
    """A Tensor that is a module parameter (``requires_grad=True`` by default).

    Assigning a Parameter as a Module attribute registers it: it then appears
    in ``parameters()``, ``named_parameters()`` and ``state_dict()``.

    Args:
      data: a Tensor or array (shared, not copied); ``None`` gives an empty
        float32 tensor.
      requires_grad: whether the parameter takes part in autograd.

    Examples:
        >>> import funcgrad as torch
        >>> p = torch.nn.Parameter(torch.zeros(2))
        >>> p.requires_grad
        True
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        super().__init__(data, requires_grad=False)
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_leaf(cls, leaf, requires_grad):
        """A Parameter holding ``leaf`` as its data exactly (used by pytree unflatten)."""
        p = cls.__new__(cls)
        p._data = leaf
        p.node = None
        p.grad = None
        p._version = 0
        p._retains_grad = False
        dt = getattr(leaf, "dtype", None)
        p.requires_grad = bool(requires_grad and dt is not None and dt.kind in "fc"
                               and not isinstance(leaf, Tracer))
        return p

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        # A fresh leaf: the graph node (which points back at this tensor) is not copied.
        new = Parameter(copy.deepcopy(self._data, memo), self.requires_grad)
        if self.grad is not None:
            new.grad = copy.deepcopy(self.grad, memo)
        memo[id(self)] = new
        return new

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self._data, self.requires_grad))


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


register_tensor_pytree(Parameter)


def is_tensor_like(x):
    return isinstance(x, Tensor)


__all__ = ["Parameter"]
