"""The PyTorch-named top level of funcgrad (``import funcgrad as torch``).

Everything in ``__all__`` is star-imported by ``funcgrad/__init__.py``: dtypes,
factories (``tensor``, ``zeros``, ``randn``...), the top-level math
(``torch.relu``, ``torch.max``, ``torch.cat``...), ``manual_seed`` and
``Size``.  The functions live in ``torch_dtypes``, ``torch_factories``,
``torch_math``, ``torch_shape`` and ``torch_reduce``; importing this module
also installs the Tensor methods (``tensor_methods.install``).

PyTorch's dtype names ``bool``, ``float`` and ``int`` are put into this
module's namespace at the very end (see the bottom of the file), after every
function here is defined, so no code in this module sees them instead of the
builtins.
"""
from __future__ import annotations

import builtins as _builtins

import numpy as np

from . import tensor_methods as _methods
from . import torch_dtypes as _D
from .random import Generator, default_generator  # noqa: F401
from .tensor import Tensor as _Tensor
from .device import device  # noqa: F401
from .torch_dtypes import (can_cast, complex64, complex128, finfo, float16,  # noqa
                           float32, float64, get_default_dtype, iinfo, int8, int16, int32,
                           int64, is_complex, is_floating_point, promote_types, result_type,
                           set_default_dtype, uint8)
from .torch_factories import (arange, as_tensor, asarray, bernoulli, empty, empty_like,  # noqa
                              eye, from_numpy, full, full_like, get_rng_state, initial_seed,
                              linspace, logspace, manual_seed, multinomial, normal, ones,
                              ones_like, rand, rand_like, randint, randint_like, randn,
                              randn_like, randperm, seed, set_rng_state, tensor, zeros,
                              zeros_like)
from .torch_math import (abs, absolute, acos, acosh, add, allclose, arccos, arccosh,  # noqa
                         arcsin, arcsinh, arctan, arctan2, arctanh, asin, asinh, atan,
                         atan2, atanh, ceil, clamp, clamp_max, clamp_min, clip, clone, cos,
                         cosh, div, divide, eq, equal, erf, exp, exp2, expm1, fix, floor,
                         floor_divide, fmax, fmin, fmod, frac, ge, greater, greater_equal, gt,
                         isclose, isfinite, isinf, isnan, le, lerp, less, less_equal, log,
                         log10, log1p, log2, log_softmax, logical_and, logical_not,
                         logical_or, logical_xor, lt, masked_fill, maximum, minimum, mul,
                         multiply, ne, neg, negative, not_equal, pow, reciprocal, relu,
                         remainder, round, rsqrt, sgn, sigmoid, sign, sin, sinh, softmax,
                         sqrt, square, sub, subtract, tan, tanh, true_divide, trunc, where)
from .torch_reduce import (all, amax, amin, aminmax, any, argmax, argmin, argsort, bmm,  # noqa
                           count_nonzero, cross, cumprod, cumsum, dist, dot, einsum, ger,
                           inner, kthvalue, logsumexp, matmul, max, mean, median, min, mm,
                           mv, nansum, norm, outer, prod, sort, std, std_mean, sum,
                           tensordot, topk, var, var_mean)
from .torch_shape import (argwhere, atleast_1d, atleast_2d, broadcast_shapes,  # noqa
                          broadcast_tensors, broadcast_to, cat, chunk, concat, concatenate,
                          diag, diagonal, flatten, flip, gather, hstack,
                          index_select, masked_select, meshgrid, movedim, moveaxis, narrow,
                          nonzero, numel, permute, repeat_interleave, reshape, roll, scatter,
                          scatter_add, split, squeeze, stack, swapaxes, swapdims, t,
                          take_along_dim, tensor_split, tile, trace, transpose, tril, triu,
                          unbind, unflatten, unsqueeze, vstack)

_bint, _bbool, _bmax = _builtins.int, _builtins.bool, _builtins.max
dtype = np.dtype  # ``isinstance(x.dtype, torch.dtype)``
half, double, cfloat, cdouble = float16, float64, complex64, complex128
short, long = int16, int64
pi, e, inf, nan = np.pi, np.e, np.inf, np.nan


class Size(tuple):
    """``torch.Size``: a tuple of ints with ``numel()``."""

    def numel(self):
        return _bint(np.prod(self, dtype=np.int64))

    def __repr__(self):
        return f"torch.Size({list(self)})"


def is_tensor(obj):
    """True if ``obj`` is a funcgrad Tensor."""
    return isinstance(obj, _Tensor)


def is_nonzero(input):  # noqa: A002
    """The truth value of a one-element tensor."""
    if input._data.size != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return _bbool(input.item())


# --------------------------------------------------------------------------- #
# Printing, like PyTorch's
# --------------------------------------------------------------------------- #
_NAMES = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div",
          "power": "Pow", "negative": "Neg", "logistic": "Sigmoid", "reduce_sum": "Sum",
          "reduce_max": "Max", "reduce_min": "Min", "reduce_prod": "Prod", "matmul": "Mm",
          "reshape": "View", "transpose": "Permute", "broadcast_to": "Expand",
          "gather": "Index", "scatter": "IndexPut", "convert_element_type": "ToCopy",
          "concatenate": "Cat", "select": "Where", "where": "Where", "arctan2": "Atan2"}


def grad_fn_name(node):
    """PyTorch-style name of a graph node (``MulBackward0``)."""
    name = node.prim.name
    camel = _NAMES.get(name) or "".join(p.capitalize() for p in name.split("_"))
    return f"{camel}Backward0"


def _float_format(arr):
    finite = arr[np.isfinite(arr)]
    nz = np.abs(finite[finite != 0])
    wide = nz.size and (nz.max() / nz.min() > 1000 or nz.max() > 1e8)
    if finite.size and np.all(finite == np.ceil(finite)):  # PyTorch's "int mode"
        if wide:
            return lambda v: f"{v:.4e}"
        return lambda v: f"{v:.0f}." if np.isfinite(v) else f"{v}"
    if wide or (nz.size and nz.min() < 1e-4):
        return lambda v: f"{v:.4e}"
    return lambda v: f"{v:.4f}" if np.isfinite(v) else f"{v}"


def format_tensor(t):
    """``tensor([...], requires_grad=True)``-style text, like PyTorch's."""
    from .core import Tracer
    data = t._data
    if isinstance(data, Tracer):
        return f"tensor(<traced {data.dtype}{list(data.shape)}>)"
    arr = np.asarray(data.get() if hasattr(data, "get") else data)
    opts = dict(separator=", ", prefix="tensor(", threshold=1000, edgeitems=3,
                max_line_width=80)
    if arr.dtype.kind == "f" and arr.size:
        fmt = _float_format(arr.astype(np.float64))
        width = _bmax(len(fmt(v)) for v in arr.astype(np.float64).ravel()[:10000])
        opts["formatter"] = {"float_kind": lambda v: fmt(v).rjust(width)}
    elif arr.dtype.kind == "b" and arr.size:
        width = 4 if arr.all() else 5  # "True" is padded only next to "False"
        opts["formatter"] = {"bool": lambda v: str(v).rjust(width)}
    body = np.array2string(arr, **opts)
    if arr.size == 0 and arr.ndim == 1:
        body = "[]"
    extras = []
    if arr.dtype not in (_D.get_default_dtype(), int64, np.dtype(np.bool_)) and not (
            arr.dtype == _D.default_complex_dtype()):
        extras.append(f"dtype={_D.dtype_name(arr.dtype)}")
    if arr.size == 0 and arr.ndim != 1:
        extras.insert(0, f"size={tuple(arr.shape)}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{grad_fn_name(t.grad_fn)}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"


_EXCLUDE = {"np", "annotations", "Generator", "default_generator"}
__all__ = sorted(n for n in list(globals()) if not n.startswith("_") and n not in _EXCLUDE
                 and n not in ("format_tensor", "grad_fn_name"))
__all__ += ["Generator", "default_generator", "bool", "float", "int"]

_methods.install()

# PyTorch's dtype names that shadow builtins go in last (functions above use the
# _bint/_bbool/_bmax aliases of the builtins).
globals().update({"bool": _D.bool_, "float": float32, "int": int32})
