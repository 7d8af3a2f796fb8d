"""``funcgrad.nn.utils``: gradient clipping and parameter/vector conversion.

Example:
    >>> import funcgrad as torch
    >>> model = torch.nn.Linear(3, 1)
    >>> model(torch.ones(2, 3)).sum().backward()
    >>> total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
"""
from __future__ import annotations

import numpy as np

from .. import numpy as fnp
from ..tensor import Tensor, no_grad


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    params = list(parameters)
    return [p for p in params if p.grad is not None]


def _total_norm(grads, norm_type):
    if norm_type == float("inf"):
        norms = [fnp.max(fnp.abs(g.grad._data)) for g in grads]
        return fnp.max(fnp.stack(norms)) if len(norms) > 1 else norms[0]
    norms = [fnp.sum(fnp.abs(g.grad._data) ** norm_type) for g in grads]
    total = norms[0]
    for n in norms[1:]:
        total = total + n
    return total ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Rescale gradients in place so that their joint ``norm_type``-norm is at most ``max_norm``.

    The norm is taken over all gradients together, as if concatenated into
    one vector; each is multiplied by ``min(1, max_norm / (total + 1e-6))``.

    Args:
      parameters: a Tensor or an iterable of Tensors (those without ``.grad``
        are skipped).
      max_norm: the largest allowed norm.
      norm_type: the p of the p-norm (``float('inf')`` for the max norm).
      error_if_nonfinite: raise if the total norm is nan or inf.

    Returns:
      The total norm of the original gradients, as a 0-d Tensor.

    Raises:
      RuntimeError: the total norm is not finite and ``error_if_nonfinite``.
    """
    norm_type = float(norm_type)
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.array(0.0, dtype=np.float32))
    total = _total_norm(grads, norm_type)
    if error_if_nonfinite and not bool(np.all(np.isfinite(np.asarray(total)))):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    coef = fnp.minimum(max_norm / (total + 1e-6), 1.0)
    with no_grad():
        for p in grads:
            g = p.grad
            g._assign(fnp.astype(g._data * coef, g.dtype))
    return Tensor(total)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient in place to ``[-clip_value, clip_value]``."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _grads(parameters):
            p.grad._assign(fnp.clip(p.grad._data, -clip_value, clip_value))


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The joint ``norm_type``-norm of ``tensors`` (a 0-d Tensor)."""
    ts = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if not ts:
        return Tensor(np.array(0.0, dtype=np.float32))

    class _G:
        def __init__(self, t):
            self.grad = t
    return Tensor(_total_norm([_G(t) for t in ts], float(norm_type)))


def parameters_to_vector(parameters):
    """Concatenate the flattened parameters into one 1-D Tensor (differentiable)."""
    return fnp.concatenate([fnp.reshape(p, (-1,)) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into the parameters (in place)."""
    data = vec._data if isinstance(vec, Tensor) else vec
    if getattr(data, "ndim", None) != 1:
        raise TypeError(f"expected a 1-D vector, got shape {tuple(np.shape(data))}")
    pointer = 0
    with no_grad():
        for p in parameters:
            n = int(np.prod(p.shape))
            p._assign(fnp.astype(fnp.reshape(data[pointer:pointer + n], tuple(p.shape)),
                                 p.dtype))
            pointer += n


__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector",
           "vector_to_parameters"]
