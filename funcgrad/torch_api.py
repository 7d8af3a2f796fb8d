"""PyTorch-named helpers for the Tensor front: Size, printing, dtypes, factories.

(The factories and Tensor methods are filled in by funcgrad/tensor_ops.py.)
"""
from __future__ import annotations

import numpy as np


class Size(tuple):
    """``torch.Size``: a tuple of ints with ``numel()``."""

    def numel(self):
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self):
        return f"torch.Size({list(self)})"


def format_tensor(t):
    """``tensor([...], requires_grad=True)``-style text, like PyTorch's."""
    from .core import Tracer
    data = t.data
    if isinstance(data, Tracer):
        return f"tensor(<traced {data.dtype}{list(data.shape)}>)"
    arr = np.asarray(data.get() if hasattr(data, "get") else data)
    body = np.array2string(arr, separator=", ", prefix="tensor(", precision=4,
                           floatmode="maxprec_equal")
    extras = []
    if arr.dtype not in (np.float32, np.int64, np.bool_):
        extras.append(f"dtype=torch.{arr.dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.prim.name.capitalize()}Backward>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"


__all__ = ["Size"]
