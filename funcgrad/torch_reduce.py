"""Reductions, sorting and products of the PyTorch-style front.

PyTorch conventions: ``dim``/``keepdim`` (NumPy's ``axis``/``keepdims`` are
accepted too), ``max(x, dim)`` returns ``(values, indices)``, ``std``/``var``
are unbiased by default, ``matmul`` needs operands of one dtype.  Derivatives
follow PyTorch where it makes a choice: ``max(x, dim)`` sends the gradient to
the selected index, while ``max(x)`` and ``amax`` share it evenly among ties.
"""
from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

import funcgrad.numpy as fnp

from . import torch_dtypes as D
from .prims import reductions as R
from .prims.elementwise import convert
from .prims.indexing import take_along_axis
from .tensor import Tensor
from .torch_math import as_tensor_arg, float_input, wrap
from .torch_shape import dims_arg, gather, wrap_dim

# Named results, as torch.return_types.*: unpack them or use .values/.indices.
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])
sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])
median_result = namedtuple("median", ["values", "indices"])
kthvalue_result = namedtuple("kthvalue", ["values", "indices"])


def _kw(dim, keepdim, kwargs, op):
    """Accept NumPy's ``axis``/``keepdims`` spellings as PyTorch does."""
    if "axis" in kwargs:
        dim = kwargs.pop("axis")
    if "keepdims" in kwargs:
        keepdim = kwargs.pop("keepdims")
    if kwargs:
        raise TypeError(f"{op}() got an unexpected keyword argument "
                        f"'{next(iter(kwargs))}'")
    return dim, builtins.bool(keepdim)


# --------------------------------------------------------------------------- #
# Sums and moments
# --------------------------------------------------------------------------- #
def sum(input, dim=None, keepdim=False, *, dtype=None, **kwargs):  # noqa: A001,A002
    """Sum over ``dim`` (all elements by default); bools and ints sum in int64."""
    x = as_tensor_arg(input)
    dim, keepdim = _kw(dim, keepdim, kwargs, "sum")
    if dtype is not None:
        x = convert(x, D.as_dtype(dtype))
    elif x._data.dtype.kind in "biu":
        x = convert(x, D.int64)
    return wrap(fnp.sum(x, dims_arg(dim, x.ndim, "sum"), keepdims=keepdim))


def nansum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Sum over ``dim`` treating NaN as zero."""
    x = as_tensor_arg(input)
    return sum(fnp.where(fnp.isnan(x), 0.0, x), dim, keepdim, dtype=dtype)


def _need_float(x, op, dtype=None):
    if dtype is not None:
        return convert(x, D.as_dtype(dtype))
    if x._data.dtype.kind not in "fc":
        raise RuntimeError(f"{op}(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: "
                           f"{D.dtype_name(x._data.dtype)[6:].capitalize()}")
    return x


def mean(input, dim=None, keepdim=False, *, dtype=None, **kwargs):  # noqa: A002
    """Arithmetic mean over ``dim``.

    Raises:
        RuntimeError: an integer input without ``dtype=`` (as PyTorch).
    """
    x = _need_float(as_tensor_arg(input), "mean", dtype)
    dim, keepdim = _kw(dim, keepdim, kwargs, "mean")
    return wrap(fnp.mean(x, dims_arg(dim, x.ndim, "mean"), keepdims=keepdim))


def _moment_args(dim, unbiased, correction):
    if isinstance(dim, builtins.bool):  # legacy std(x, unbiased)
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased in (None, True) else 0
    return dim, correction


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None,  # noqa: A002
        **kwargs):
    """Variance over ``dim`` with ``correction`` (1 = unbiased, PyTorch's default)."""
    dim, keepdim = _kw(dim, keepdim, kwargs, "var")
    dim, correction = _moment_args(dim, unbiased, correction)
    x = _need_float(as_tensor_arg(input), "var")
    return wrap(fnp.var(x, dims_arg(dim, x.ndim, "var"), ddof=correction, keepdims=keepdim))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None,  # noqa: A002
        **kwargs):
    """Standard deviation over ``dim`` (unbiased by default)."""
    dim, keepdim = _kw(dim, keepdim, kwargs, "std")
    dim, correction = _moment_args(dim, unbiased, correction)
    x = _need_float(as_tensor_arg(input), "std")
    return wrap(fnp.std(x, dims_arg(dim, x.ndim, "std"), ddof=correction, keepdims=keepdim))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa
    """``(var, mean)`` over ``dim``."""
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa
    """``(std, mean)`` over ``dim``."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def prod(input, dim=None, keepdim=False, *, dtype=None, **kwargs):  # noqa: A002
    """Product over ``dim`` (exact derivatives even with zeros in the input)."""
    x = as_tensor_arg(input)
    dim, keepdim = _kw(dim, keepdim, kwargs, "prod")
    if dtype is not None:
        x = convert(x, D.as_dtype(dtype))
    elif x._data.dtype.kind in "biu":
        x = convert(x, D.int64)
    return wrap(R.reduce(R.reduce_prod_p, x, dims_arg(dim, x.ndim, "prod"), keepdim, "prod"))


def logsumexp(input, dim, keepdim=False):  # noqa: A002
    """``log(sum(exp(input), dim))`` without overflow."""
    from .torch_math import logsumexp as _lse
    return _lse(input, dim, keepdim)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):  # noqa: A002
    """The ``p``-norm over ``dim`` (2 / 'fro' by default; also 1, inf, -inf, 0, any p).

    The 2-norm's derivative at the zero vector is 0 (as in PyTorch), not NaN.
    """
    x = float_input(input) if dtype is None else convert(as_tensor_arg(input),
                                                         D.as_dtype(dtype))
    dims = dims_arg(dim, x.ndim, "norm")
    if p in ("fro", 2, 2.0, None):
        s = fnp.sum(x * x, dims, keepdims=keepdim)
        zero = s == 0
        return wrap(fnp.where(zero, 0.0, fnp.sqrt(fnp.where(zero, 1.0, s))))
    a = fnp.abs(x)
    if p in (np.inf, float("inf")):
        return wrap(fnp.max(a, dims, keepdims=keepdim))
    if p in (-np.inf, float("-inf")):
        return wrap(fnp.min(a, dims, keepdims=keepdim))
    if p == 0:
        return wrap(fnp.sum(convert(x != 0, x._data.dtype), dims, keepdims=keepdim))
    if p == 1:
        return wrap(fnp.sum(a, dims, keepdims=keepdim))
    if p == "nuc":
        raise NotImplementedError("norm(p='nuc') is not supported yet")
    return wrap(fnp.sum(a ** p, dims, keepdims=keepdim) ** (1.0 / p))


def dist(input, other, p=2):  # noqa: A002
    """The ``p``-norm of ``input - other``."""
    return norm(as_tensor_arg(input) - other, p)


def count_nonzero(input, dim=None):  # noqa: A002
    """The number of non-zero elements over ``dim`` (int64)."""
    x = as_tensor_arg(input)
    return wrap(fnp.sum(convert(x != 0, D.int64), dims_arg(dim, x.ndim, "count_nonzero")))


def all(input, dim=None, keepdim=False, **kwargs):  # noqa: A001,A002
    """True where every element along ``dim`` is non-zero (a bool tensor)."""
    x = as_tensor_arg(input)
    dim, keepdim = _kw(dim, keepdim, kwargs, "all")
    return wrap(fnp.all(x, dims_arg(dim, x.ndim, "all"), keepdims=keepdim))


def any(input, dim=None, keepdim=False, **kwargs):  # noqa: A001,A002
    """True where some element along ``dim`` is non-zero (a bool tensor)."""
    x = as_tensor_arg(input)
    dim, keepdim = _kw(dim, keepdim, kwargs, "any")
    return wrap(fnp.any(x, dims_arg(dim, x.ndim, "any"), keepdims=keepdim))


# --------------------------------------------------------------------------- #
# Extremes
# --------------------------------------------------------------------------- #
def _arg_extreme(fn, x, dim, keepdim, op):
    x = as_tensor_arg(x)
    if dim is None:
        out = fn(x, None)
        return wrap(fnp.reshape(out, (1,) * x.ndim) if keepdim else out)
    return wrap(fn(x, wrap_dim(dim, x.ndim, op), keepdims=keepdim))


def argmax(input, dim=None, keepdim=False, **kwargs):  # noqa: A002
    """Index of the first maximum (of the flattened tensor when ``dim`` is None)."""
    dim, keepdim = _kw(dim, keepdim, kwargs, "argmax")
    return _arg_extreme(fnp.argmax, input, dim, keepdim, "argmax")


def argmin(input, dim=None, keepdim=False, **kwargs):  # noqa: A002
    """Index of the first minimum (of the flattened tensor when ``dim`` is None)."""
    dim, keepdim = _kw(dim, keepdim, kwargs, "argmin")
    return _arg_extreme(fnp.argmin, input, dim, keepdim, "argmin")


def _extreme(input, dim, keepdim, kwargs, op):
    from .torch_math import maximum, minimum
    x = as_tensor_arg(input)
    if isinstance(dim, Tensor):  # max(x, y): elementwise
        return (maximum if op == "max" else minimum)(x, dim)
    dim, keepdim = _kw(dim, keepdim, kwargs, op)
    if x._data.size == 0 and (dim is None or x.shape[wrap_dim(dim, x.ndim, op)] == 0):
        raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() "
                           f"== 0. Specify the reduction dim with the 'dim' argument.")
    if dim is None:
        return wrap((fnp.max if op == "max" else fnp.min)(x))
    d = wrap_dim(dim, x.ndim, op)
    if x.ndim == 0:
        idx = Tensor._wrap(np.zeros((), np.int64))
        return (max_result if op == "max" else min_result)(x, idx)
    idx = (fnp.argmax if op == "max" else fnp.argmin)(x, d, keepdims=True)
    values = gather(x, d, idx)  # the gradient goes to the selected index only
    if not keepdim:
        values, idx = fnp.squeeze(values, d), fnp.squeeze(idx, d)
    return (max_result if op == "max" else min_result)(wrap(values), wrap(idx))


def max(input, dim=None, keepdim=False, **kwargs):  # noqa: A001,A002
    """``max(x)``: the largest value; ``max(x, dim)``: ``(values, indices)``;
    ``max(x, y)``: elementwise maximum.

    Examples:
        >>> import funcgrad as torch
        >>> torch.max(torch.tensor([[1, 5], [7, 2]]), dim=1).indices
        tensor([1, 0])
    """
    return _extreme(input, dim, keepdim, kwargs, "max")


def min(input, dim=None, keepdim=False, **kwargs):  # noqa: A001,A002
    """``min(x)``, ``min(x, dim) -> (values, indices)``, ``min(x, y)`` (as :func:`max`)."""
    return _extreme(input, dim, keepdim, kwargs, "min")


def amax(input, dim=(), keepdim=False):  # noqa: A002
    """Largest value over ``dim`` (all by default); ties share the derivative evenly."""
    x = as_tensor_arg(input)
    return wrap(fnp.max(x, dims_arg(dim, x.ndim, "amax"), keepdims=keepdim))


def amin(input, dim=(), keepdim=False):  # noqa: A002
    """Smallest value over ``dim`` (all by default); ties share the derivative evenly."""
    x = as_tensor_arg(input)
    return wrap(fnp.min(x, dims_arg(dim, x.ndim, "amin"), keepdims=keepdim))


def aminmax(input, *, dim=None, keepdim=False):  # noqa: A002
    """``(amin, amax)`` over ``dim`` (all elements by default)."""
    return amin(input, () if dim is None else dim, keepdim), \
        amax(input, () if dim is None else dim, keepdim)


# --------------------------------------------------------------------------- #
# Scans and sorting
# --------------------------------------------------------------------------- #
def cumsum(input, dim, *, dtype=None):  # noqa: A002
    """Cumulative sum along ``dim``."""
    x = as_tensor_arg(input)
    if dtype is not None:
        x = convert(x, D.as_dtype(dtype))
    if x.ndim == 0:
        return wrap(convert(x, R._accumulate_dtype(x._data.dtype)))
    return wrap(R.cumsum(x, wrap_dim(dim, x.ndim, "cumsum")))


def cumprod(input, dim, *, dtype=None):  # noqa: A002
    """Cumulative product along ``dim`` (exact derivatives with zeros in the input)."""
    x = as_tensor_arg(input)
    if dtype is not None:
        x = convert(x, D.as_dtype(dtype))
    if x.ndim == 0:
        return wrap(convert(x, R._accumulate_dtype(x._data.dtype)))
    return wrap(R.cumprod(x, wrap_dim(dim, x.ndim, "cumprod")))


def _sort_key(x, descending):
    if not descending:
        return x
    if x._data.dtype.kind in "bu":
        x = convert(x, D.int64)
    return -x


def argsort(input, dim=-1, descending=False, stable=False):  # noqa: A002
    """Indices that sort ``input`` along ``dim`` (always a stable sort here)."""
    from .prims.sorting import argsort as _argsort
    x = as_tensor_arg(input)
    if x.ndim == 0:
        return Tensor._wrap(np.zeros((), np.int64))
    d = wrap_dim(dim, x.ndim, "argsort")
    return wrap(_argsort(fnp.stop_gradient(_sort_key(x, descending)), d))


def sort(input, dim=-1, descending=False, stable=False):  # noqa: A002
    """``(values, indices)`` of ``input`` sorted along ``dim``; differentiable in values."""
    x = as_tensor_arg(input)
    idx = argsort(x, dim, descending)
    if x.ndim == 0:
        return sort_result(x, idx)
    d = wrap_dim(dim, x.ndim, "sort")
    return sort_result(wrap(take_along_axis(x, idx, d)), idx)


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """The ``k`` largest (or smallest) entries along ``dim`` and their indices.

    Raises:
        RuntimeError: ``k`` is larger than the size of ``dim``.
    """
    x = as_tensor_arg(input)
    d = wrap_dim(dim, x.ndim, "topk")
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k out of range (topk: k={k}, size of dim {d} "
                           f"is {n})")
    idx = argsort(x, d, descending=largest)
    if x.ndim == 0:
        return topk_result(x, idx)
    idx = wrap(fnp.getitem(idx, (slice(None),) * d + (slice(0, k),)))
    return topk_result(wrap(take_along_axis(x, idx, d)), idx)


def kthvalue(input, k, dim=-1, keepdim=False):  # noqa: A002
    """The ``k``-th smallest entry (1-based) along ``dim`` and its index."""
    x = as_tensor_arg(input)
    d = wrap_dim(dim, x.ndim, "kthvalue")
    idx = fnp.getitem(argsort(x, d), (slice(None),) * d + (slice(k - 1, k),))
    values = take_along_axis(x, idx, d)
    if not keepdim:
        values, idx = fnp.squeeze(values, d), fnp.squeeze(idx, d)
    return kthvalue_result(wrap(values), wrap(idx))


def median(input, dim=None, keepdim=False):  # noqa: A002
    """The lower median (PyTorch does not average the middle two); with ``dim``,
    ``(values, indices)``."""
    x = as_tensor_arg(input)
    if dim is None:
        flat = fnp.reshape(x, (-1,))
        return wrap(kthvalue(flat, (flat.shape[0] - 1) // 2 + 1, 0).values)
    d = wrap_dim(dim, x.ndim, "median")
    r = kthvalue(x, (x.shape[d] - 1) // 2 + 1, d, keepdim)
    return median_result(r.values, r.indices)


# --------------------------------------------------------------------------- #
# Products
# --------------------------------------------------------------------------- #
def _same_dtype(a, b, op):
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"{op}: expected both operands to have the same dtype, but got "
            f"{D.dtype_name(a._data.dtype)} != {D.dtype_name(b._data.dtype)} (shapes "
            f"{list(a.shape)} and {list(b.shape)}). Convert one: b.to(a.dtype).")


def matmul(input, other):  # noqa: A002
    """Matrix product with broadcasting batch dims (``input @ other``)."""
    a, b = as_tensor_arg(input), as_tensor_arg(other)
    _same_dtype(a, b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    return wrap(fnp.matmul(a, b))


def mm(input, mat2):  # noqa: A002
    """Product of two matrices (2-D only)."""
    a, b = as_tensor_arg(input), as_tensor_arg(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {a.ndim}D and {b.ndim}D (shapes "
                           f"{list(a.shape)} and {list(b.shape)})")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x"
                           f"{a.shape[1]} and {b.shape[0]}x{b.shape[1]})")
    return matmul(a, b)


def bmm(input, mat2):  # noqa: A002
    """Batched product of two 3-D tensors ``(b, n, m) @ (b, m, p)``."""
    a, b = as_tensor_arg(input), as_tensor_arg(mat2)
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor and batch2 must be a 3D tensor (got "
                           f"shapes {list(a.shape)} and {list(b.shape)})")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, "
                           f"{b.shape[1]}].")
    return matmul(a, b)


def mv(input, vec):  # noqa: A002
    """Matrix-vector product (2-D ``input``, 1-D ``vec``)."""
    a, v = as_tensor_arg(input), as_tensor_arg(vec)
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {a.ndim}, {v.ndim}")
    return matmul(a, v)


def dot(input, other):  # noqa: A002
    """Inner product of two 1-D tensors of one size."""
    a, b = as_tensor_arg(input), as_tensor_arg(other)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                           f"[{b.shape[0]}] to have the same number of elements, but got "
                           f"{a.shape[0]} and {b.shape[0]} elements respectively")
    return matmul(a, b)


inner = dot


def outer(input, vec2):  # noqa: A002
    """Outer product of two 1-D tensors."""
    a, b = as_tensor_arg(input), as_tensor_arg(vec2)
    _same_dtype(a, b, "outer")
    return wrap(fnp.reshape(a, (-1, 1)) * fnp.reshape(b, (1, -1)))


ger = outer


def einsum(equation, *operands):
    """Einstein summation (``einsum('ij,jk->ik', a, b)``; operands may be one list)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    return wrap(fnp.einsum(equation, *[as_tensor_arg(o) for o in operands]))


def tensordot(a, b, dims=2):
    """Sum of products over the ``dims`` of ``a`` and ``b`` (``np.tensordot``)."""
    return wrap(fnp.tensordot(as_tensor_arg(a), as_tensor_arg(b), dims))


def cross(input, other, dim=None):  # noqa: A002
    """Cross product of 3-vectors along ``dim`` (the last dim by default)."""
    a, b = as_tensor_arg(input), as_tensor_arg(other)
    d = wrap_dim(-1 if dim is None else dim, a.ndim, "cross")

    def c(t, i):
        return fnp.getitem(t, (slice(None),) * d + (i,))
    comps = [c(a, 1) * c(b, 2) - c(a, 2) * c(b, 1), c(a, 2) * c(b, 0) - c(a, 0) * c(b, 2),
             c(a, 0) * c(b, 1) - c(a, 1) * c(b, 0)]
    return wrap(fnp.stack(comps, d))
