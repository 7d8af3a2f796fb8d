"""Tensor factories with PyTorch's signatures: ``tensor``, ``zeros``, ``randn``, ...

Sizes are given as ints or one tuple (``zeros(2, 3)`` or ``zeros((2, 3))``);
every factory takes ``dtype=``, ``device=`` and ``requires_grad=``.  Python
floats become the default dtype (float32 unless ``set_default_dtype``), ints
int64, bools bool; NumPy arrays keep their dtype.

Random factories draw from :data:`funcgrad.random.default_generator` (seeded by
``manual_seed``) or the ``generator=`` given: each call splits the
generator's key, so runs are reproducible.
"""
from __future__ import annotations

import builtins

import numpy as np

from . import random as fr
from . import torch_dtypes as D
from .core import Tracer, concrete
from .prims.creation import asarray as _asarray
from .tensor import Tensor
from .torch_shape import size_args

_float, _int, _bool, _complex = builtins.float, builtins.int, builtins.bool, builtins.complex


def _finish(data, dtype=None, device=None, requires_grad=False, op="tensor"):
    if dtype is not None:
        dtype = D.as_dtype(dtype)
        if data.dtype != dtype:
            data = data.astype(dtype) if not isinstance(data, Tracer) else \
                Tensor._wrap(data).to(dtype)._data
    if not isinstance(data, Tracer):
        data = D.place(data, device, op)
    elif device is not None:
        D.check_device(device, op)
    t = Tensor._wrap(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _scalars(x):
    for e in x:
        if isinstance(e, (list, tuple)):
            yield from _scalars(e)
        else:
            yield e


def _infer_dtype(data, arr):
    """PyTorch's dtype for Python data: floats -> default dtype, ints -> int64, ..."""
    kind = arr.dtype.kind
    if kind == "b":
        return D.bool_
    if kind in "iu":
        return D.int64
    if kind == "f":
        items = list(_scalars(data)) if isinstance(data, (list, tuple)) else [data]
        if any(isinstance(e, np.floating) for e in items):
            return arr.dtype  # NumPy float scalars keep their precision, as in PyTorch
        return D.get_default_dtype()
    if kind == "c":
        return D.default_complex_dtype()
    raise TypeError(f"tensor(): could not infer the dtype of {type(data).__name__} data "
                    f"(got a NumPy array of dtype {arr.dtype}); pass numbers, nested lists "
                    "of numbers, or a NumPy array")


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new leaf tensor holding a copy of ``data``.

    Args:
      data: a number, a (nested) list or tuple of numbers or one-element tensors,
        a NumPy array (its dtype is kept) or a Tensor (copied, detached).
      dtype: the dtype; inferred when None (Python floats -> the default dtype,
        ints -> int64, bools -> bool).
      device: ``'cpu'`` (CUDA needs CuPy).
      requires_grad: record operations on the result for ``backward()``.

    Examples:
        >>> import funcgrad as torch
        >>> torch.tensor([[1., 2.], [3., 4.]]).dtype == torch.float32
        True
        >>> torch.tensor([1, 2]).dtype == torch.int64
        True
    """
    if isinstance(data, Tensor):
        arr = data._data
        arr = arr.copy() if hasattr(arr, "copy") and not isinstance(arr, Tracer) else arr
        return _finish(arr, dtype, device, requires_grad)
    if isinstance(data, Tracer) or (hasattr(data, "dtype") and hasattr(data, "shape")
                                    and not isinstance(data, np.generic)):
        arr = data if isinstance(data, Tracer) else data.copy()
        return _finish(arr, dtype, device, requires_grad)
    if isinstance(data, (list, tuple)) and any(isinstance(e, Tracer)
                                               for e in _scalars(data)):
        data = _detached(data)
        if any(isinstance(e, Tracer) for e in _scalars(data)):  # traced entries: stack
            arr = _asarray(data)
            return _finish(arr, dtype if dtype is not None else None, device, requires_grad)
    try:
        arr = np.array(data, dtype=None if dtype is None else D.as_dtype(dtype))
    except (ValueError, TypeError) as e:
        raise ValueError(f"tensor(): could not build a tensor from the given data ({e}); "
                         "nested lists must be rectangular and hold numbers") from None
    if dtype is None:
        want = _infer_dtype(data, arr)
        if arr.dtype != want:
            arr = arr.astype(want)
    return _finish(arr, None, device, requires_grad)


def _detached(data):
    """Nested data with Tensors replaced by their values (concrete where possible)."""
    out = []
    for e in data:
        if isinstance(e, (list, tuple)):
            out.append(_detached(e))
        elif isinstance(e, Tensor):
            if e._data.size != 1 and e.ndim:
                out.append(e._data)
                continue
            try:
                out.append(concrete(e._data))
            except Exception:
                out.append(e._data)
        else:
            out.append(e)
    return out


def as_tensor(data, dtype=None, device=None):
    """``data`` as a Tensor, sharing memory where possible (Tensors and NumPy arrays)."""
    if isinstance(data, Tensor):
        if dtype is None or data._data.dtype == D.as_dtype(dtype):
            D.check_device(device, "as_tensor")
            return data
        return data.to(dtype)
    if isinstance(data, np.ndarray) or isinstance(data, Tracer):
        return _finish(data, dtype, device, False, "as_tensor")
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    """A Tensor sharing ``ndarray``'s memory and dtype.

    Raises:
        TypeError: ``ndarray`` is not a NumPy array.
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    return Tensor._wrap(ndarray)


def _no_out(out, op):
    if out is not None:
        raise NotImplementedError(f"{op}(..., out=...) is not supported: tensors are updated "
                                  f"by replacing their data; write `t = torch.{op}(...)` "
                                  f"or `t.copy_(torch.{op}(...))`")


def _dtype_or_default(dtype):
    return D.get_default_dtype() if dtype is None else D.as_dtype(dtype)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of zeros (default dtype) of ``size``."""
    _no_out(out, "zeros")
    return _finish(np.zeros(size_args(size, "zeros"), _dtype_or_default(dtype)), None, device,
                   requires_grad, "zeros")


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of ones (default dtype) of ``size``."""
    _no_out(out, "ones")
    return _finish(np.ones(size_args(size, "ones"), _dtype_or_default(dtype)), None, device,
                   requires_grad, "ones")


def empty(*size, dtype=None, device=None, requires_grad=False, out=None,
          memory_format=None):
    """An uninitialised tensor of ``size`` (zeros here: NumPy memory is cheap to clear)."""
    _no_out(out, "empty")
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value`` (whose type sets the dtype)."""
    if dtype is None:
        fv = fill_value.item() if hasattr(fill_value, "item") else fill_value
        dtype = D.scalar_dtype(fv)
    size = size_args((size,) if isinstance(size, (int, np.integer)) else (size,), "full")
    fv = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    return _finish(np.full(size, fv, D.as_dtype(dtype)), None, device, requires_grad, "full")


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The ``n x m`` identity matrix (default dtype)."""
    return _finish(np.eye(n, m, dtype=_dtype_or_default(dtype)), None, device, requires_grad,
                   "eye")


def _num(x):
    return x.item() if hasattr(x, "item") else x


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """``[start, end)`` in steps of ``step``: int64 for ints, the default float dtype
    if any argument is a float.

    Examples:
        >>> import funcgrad as torch
        >>> torch.arange(3)
        tensor([0, 1, 2])
    """
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        is_float = any(isinstance(v, (_float, np.floating)) for v in (start, end, step))
        dtype = D.get_default_dtype() if is_float else D.int64
    dtype = D.as_dtype(dtype)
    # Computed in float64/int64 (as PyTorch), then cast.
    n = builtins.max(0, int(np.ceil((end - start) / step)))
    data = (start + step * np.arange(n, dtype=np.float64 if dtype.kind in "fc" or
                                     isinstance(step, _float) else np.int64)).astype(dtype)
    return _finish(data, None, device, requires_grad, "arange")


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    data = np.linspace(_num(start), _num(end), int(steps)).astype(_dtype_or_default(dtype))
    return _finish(data, None, device, requires_grad, "linspace")


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """``steps`` values from ``base**start`` to ``base**end``, evenly spaced in log scale."""
    data = np.logspace(_num(start), _num(end), int(steps), base=base)
    return _finish(data.astype(_dtype_or_default(dtype)), None, device, requires_grad,
                   "logspace")


def _like(input, dtype):
    return input._data.dtype if dtype is None else D.as_dtype(dtype)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False,  # noqa: A002
               memory_format=None):
    """Zeros with ``input``'s shape and dtype."""
    return _finish(np.zeros(tuple(input.shape), _like(input, dtype)), None, device,
                   requires_grad, "zeros_like")


def ones_like(input, *, dtype=None, device=None, requires_grad=False,  # noqa: A002
              memory_format=None):
    """Ones with ``input``'s shape and dtype."""
    return _finish(np.ones(tuple(input.shape), _like(input, dtype)), None, device,
                   requires_grad, "ones_like")


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False,  # noqa
              memory_format=None):
    """``fill_value`` with ``input``'s shape and dtype."""
    return _finish(np.full(tuple(input.shape), _num(fill_value), _like(input, dtype)), None,
                   device, requires_grad, "full_like")


def empty_like(input, *, dtype=None, device=None, requires_grad=False,  # noqa: A002
               memory_format=None):
    """An uninitialised tensor like ``input`` (zeros here)."""
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


# --------------------------------------------------------------------------- #
# Random factories (global generator built on funcgrad.random keys)
# --------------------------------------------------------------------------- #
def manual_seed(seed):
    """Seed the global generator, so the random factories repeat (``torch.manual_seed``).

    Returns:
      The global :class:`funcgrad.random.Generator`.
    """
    return fr.manual_seed(seed)


def seed():
    """Seed the global generator from OS entropy; returns the seed."""
    return fr.seed()


def initial_seed():
    """The seed of the global generator."""
    return fr.initial_seed()


def get_rng_state():
    """The global generator's state (its current key, as a uint32 tensor)."""
    return Tensor._wrap(fr.default_generator.get_state())


def set_rng_state(new_state):
    """Restore a state from :func:`get_rng_state`."""
    fr.default_generator.set_state(new_state)


def _float_dtype(dtype, op):
    dt = _dtype_or_default(dtype)
    if dt.kind != "f":
        raise RuntimeError(f"{op}: expected a floating-point dtype, got {D.dtype_name(dt)}")
    return dt


def _drawing_on(device):
    """A scope making ``device`` the default, so random draws happen on it."""
    if device is None:
        import contextlib
        return contextlib.nullcontext()
    from .device import device_scope
    return device_scope(device)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Uniform draws in ``[0, 1)`` of ``size`` (default dtype)."""
    _no_out(out, "rand")
    dt = _float_dtype(dtype, "rand")
    with _drawing_on(device):
        data = fr.uniform(fr.next_key(generator), size_args(size, "rand"), dtype=dt)
    return _finish(data, None, device, requires_grad, "rand")


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Standard normal draws of ``size`` (default dtype)."""
    _no_out(out, "randn")
    dt = _float_dtype(dtype, "randn")
    with _drawing_on(device):
        data = fr.normal(fr.next_key(generator), size_args(size, "randn"), dtype=dt)
    return _finish(data, None, device, requires_grad, "randn")


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers drawn from ``[low, high)``: ``randint(high, size)`` or
    ``randint(low, high, size)``; int64 by default."""
    if size is None:  # randint(high, size)
        if high is None:
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    data = fr.randint(fr.next_key(generator), size_args((size,), "randint"), _int(low),
                      _int(high)).astype(D.int64 if dtype is None else D.as_dtype(dtype))
    return _finish(data, None, device, requires_grad, "randint")


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of ``0..n-1`` (int64)."""
    data = fr.permutation(fr.next_key(generator), _int(n))
    return _finish(data.astype(D.int64 if dtype is None else D.as_dtype(dtype)), None,
                   device, requires_grad, "randperm")


def rand_like(input, *, dtype=None, device=None, requires_grad=False,  # noqa: A002
              memory_format=None):
    """Uniform draws in ``[0, 1)`` with ``input``'s shape and dtype."""
    return rand(tuple(input.shape), dtype=_like(input, dtype), device=device,
                requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False,  # noqa: A002
               memory_format=None):
    """Standard normal draws with ``input``'s shape and dtype."""
    return randn(tuple(input.shape), dtype=_like(input, dtype), device=device,
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None,  # noqa: A002
                 requires_grad=False):
    """Integers from ``[low, high)`` with ``input``'s shape and dtype
    (``randint_like(x, high)`` draws from ``[0, high)``)."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=_like(input, dtype), device=device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Normal draws: ``normal(mean, std, size)`` with floats, or elementwise with
    tensor ``mean``/``std`` (the result broadcasts their shapes)."""
    if size is not None:
        shape = size_args((size,), "normal")
        dt = _float_dtype(dtype, "normal")
    else:
        shapes = [tuple(x.shape) for x in (mean, std) if hasattr(x, "shape")]
        shape = np.broadcast_shapes(*shapes) if shapes else ()
        dts = [x.dtype for x in (mean, std) if hasattr(x, "dtype")]
        dt = _float_dtype(dtype if dtype is not None or not dts else dts[0], "normal")
    z = fr.normal(fr.next_key(generator), shape, dtype=dt)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        from .torch_math import add, mul
        return add(mul(Tensor._wrap(z), std), mean)
    return _finish((mean + std * z).astype(dt), None, device, requires_grad, "normal")


def bernoulli(input, p=None, *, generator=None):  # noqa: A002
    """0/1 draws with probabilities ``input`` (or ``p``), in ``input``'s dtype."""
    probs = np.asarray(concrete(input._data if isinstance(input, Tensor) else input))
    if p is not None:
        probs = np.full(probs.shape, p)
    draw = fr.uniform(fr.next_key(generator), probs.shape) < probs
    return Tensor._wrap(draw.astype(probs.dtype if probs.dtype.kind == "f" else
                                    D.get_default_dtype()))


def multinomial(input, num_samples, replacement=False, *, generator=None):  # noqa: A002
    """Sample category indices with weights ``input`` (1-D or 2-D, rows independent)."""
    w = np.asarray(concrete(input._data if isinstance(input, Tensor) else input),
                   dtype=np.float64)
    rows = w.reshape(-1, w.shape[-1])
    out = np.empty((rows.shape[0], num_samples), np.int64)
    for i, r in enumerate(rows):
        out[i] = fr.choice(fr.next_key(generator), r.shape[0], (num_samples,),
                           replace=replacement, p=r / r.sum())
    return Tensor._wrap(out.reshape(w.shape[:-1] + (num_samples,)))
