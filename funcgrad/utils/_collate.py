"""``default_collate`` / ``default_convert`` of ``funcgrad.utils.data`` (import from there)."""
from __future__ import annotations

import collections.abc

import numpy as np

from .. import numpy as fnp
from ..tensor import Tensor

__all__ = ["default_collate", "default_convert"]


# --------------------------------------------------------------------------- #
# Collation
# --------------------------------------------------------------------------- #
_COLLATE_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                "or lists; found {}")


def _is_numpy(x):
    return isinstance(x, (np.ndarray, np.generic))


def _stack(items):
    shapes = [tuple(t.shape) for t in items]
    for i, s in enumerate(shapes):
        if s != shapes[0]:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shapes[0])} at entry 0 and {list(s)} at entry {i}")
    if any(isinstance(t, Tensor) and t.requires_grad for t in items):
        return fnp.stack(items)  # recorded on the tape
    return Tensor(fnp.stack([t._data if isinstance(t, Tensor) else t for t in items]))


def default_collate(batch):
    """Merge a list of samples into a batch, as ``torch.utils.data.default_collate``.

    Tensors and NumPy arrays are stacked into one Tensor (dtype kept); Python
    floats become a float64 Tensor, ints an int64 Tensor (bools a bool
    Tensor); strings stay a list; dicts, namedtuples, tuples and lists are
    collated field by field (a tuple of fields comes back as a list, like
    PyTorch's).

    Raises:
      TypeError: an element type it cannot batch (names the type).
      RuntimeError: samples of different shapes or sequence lengths.

    Examples:
        >>> import numpy as np
        >>> xb, yb = default_collate([(np.zeros(2), 1), (np.ones(2), 0)])
        >>> tuple(xb.shape), yb._data
        ((2, 2), array([1, 0]))
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if _is_numpy(elem):
        if elem.dtype.kind in "OSUV":
            raise TypeError(_COLLATE_ERR.format(elem.dtype))
        return _stack([np.asarray(b) for b in batch])
    if isinstance(elem, bool) and all(isinstance(b, bool) for b in batch):
        return Tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, float):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, int):
        return Tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {k: default_collate([d[k] for d in batch]) for k in elem}
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed
        try:
            return type(elem)(transposed)
        except TypeError:
            return transposed
    raise TypeError(_COLLATE_ERR.format(type(elem)))


def default_convert(data):
    """Convert NumPy arrays (recursively inside containers) to Tensors; no batching."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "OSUV" else Tensor(data)
    if isinstance(data, np.generic):
        return Tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        fields = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(fields)
        except TypeError:
            return fields
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(d) for d in data)
    return data
