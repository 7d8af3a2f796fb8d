"""PyTorch's methods, properties and operators, installed on :class:`funcgrad.Tensor`.

They override the NumPy-style methods every :class:`~funcgrad.core.Tracer`
has (``x.sum(dim=1, keepdim=True)``, ``x.max(0) -> (values, indices)``,
``x.size(0)``, ``x.transpose(0, 1)``).  Most are the top-level functions of
``torch_math``/``torch_shape``/``torch_reduce`` bound as methods, so a method
and its function cannot drift apart.

In-place operations (``add_``, ``x += y``, ``x[idx] = v``, ``zero_``...)
replace the tensor's data with a new array -- arrays are never mutated -- and
bump its version counter, so a backward pass that saved the old value raises
PyTorch's error.  When the result needs a gradient (a non-leaf that requires
grad, or a value that does), the update is recorded on the graph as the
functional operation it is (``scatter`` for ``x[idx] = v``) and the tensor
takes over the result's graph node.  As in PyTorch, a leaf that requires grad
refuses in-place operations unless grad mode is off (``torch.no_grad()``).

One difference from PyTorch follows from never mutating arrays: tensors do not
share storage for writes.  An in-place operation on ``t`` is not seen through
an array taken earlier with ``t.numpy()``, nor through a slice or view of
``t`` (``t[0][1] = 5`` changes a temporary; write ``t[0, 1] = 5``).
"""
from __future__ import annotations

import builtins
import math

import numpy as np

import funcgrad.numpy as fnp

from . import random as fr
from . import torch_dtypes as D
from . import torch_math as M
from . import torch_reduce as R
from . import torch_shape as S
from .core import EMPTY_PARAMS as E, Tracer, bind
from .prims import elementwise as P
from .prims.indexing import at, getitem
from .tensor import Tensor, is_grad_enabled

_int, _float, _bool = builtins.int, builtins.float, builtins.bool


# --------------------------------------------------------------------------- #
# size: an int (NumPy's ``x.size``) that is also callable (PyTorch's ``x.size()``)
# --------------------------------------------------------------------------- #
class _SizeAttr(int):
    """``x.size`` is the element count, as in NumPy; ``x.size()``/``x.size(dim)`` as in PyTorch."""

    def __new__(cls, shape):
        obj = int.__new__(cls, math.prod(shape))
        obj._shape = shape
        return obj

    def __call__(self, dim=None):
        from .torch_api import Size
        if dim is None:
            return Size(self._shape)
        return self._shape[S.wrap_dim(dim, len(self._shape), "size")]


def _size(self):
    return _SizeAttr(tuple(self._data.shape))


# --------------------------------------------------------------------------- #
# Conversions
# --------------------------------------------------------------------------- #
def _concrete_data(self, op):
    data = self._data
    if isinstance(data, Tracer):
        data = data.concrete_value()
    if D.device_of(data).type != "cpu":
        raise TypeError(f"can't convert {D.device_of(data)} device type tensor to numpy. Use "
                        "Tensor.cpu() to copy the tensor to host memory first.")
    return data


def numpy(self, *, force=False):
    """The data as a NumPy array (shared, as in PyTorch).

    Raises:
        RuntimeError: the tensor requires grad (use ``x.detach().numpy()``).
    """
    if self.requires_grad and not force:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                           "tensor.detach().numpy() instead.")
    return np.asarray(_concrete_data(self, "numpy"))


def _array(self, dtype=None, copy=None):
    if self.requires_grad:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                           "tensor.detach().numpy() instead.")
    a = np.asarray(_concrete_data(self, "__array__"))
    if dtype is not None and a.dtype != dtype:
        return a.astype(dtype)
    return a.copy() if copy else a


def item(self):
    """The value of a one-element tensor as a Python number."""
    n = self._data.size
    if n != 1:
        raise RuntimeError(f"a Tensor with {n} elements cannot be converted to Scalar")
    return np.asarray(_concrete_data(self, "item")).item()


def tolist(self):
    """The data as (nested) Python lists of numbers."""
    return np.asarray(_concrete_data(self, "tolist")).tolist()


def _scalar_of(self, kind):
    if self._data.size != 1:
        raise ValueError("only one element tensors can be converted to Python scalars")
    return kind(item(self))


def _format(self, spec):
    if self._data.size == 1 and not isinstance(self._data, Tracer):
        return format(item(self), spec)
    if not spec:
        return repr(self)
    raise TypeError("unsupported format string passed to Tensor.__format__")


def to(self, *args, **kwargs):
    """Convert dtype and/or device: ``to(torch.float64)``, ``to('cpu')``, ``to(other)``,
    ``to(device, dtype)``.  Returns ``self`` when nothing changes; a dtype
    change is differentiable."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    kwargs.pop("non_blocking", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a._data.dtype, D.device_of(a._data)
        elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda", "gpu"):
            device = a
        elif hasattr(a, "type") and hasattr(a, "index"):  # a device object
            device = a
        elif a is not None and not isinstance(a, _bool):
            dtype = a
    out = self
    if dtype is not None:
        dtype = D.as_dtype(dtype)
        if dtype != self._data.dtype:
            out = P.convert(self, dtype)
    if device is not None:
        from .device import to_device
        out = to_device(out, D.check_device(device, "to"))
    if copy and out is self:
        out = M.clone(self)
    return out


def _caster(dtype):
    def method(self, memory_format=None):
        return to(self, dtype)
    method.__doc__ = f"``self.to({D.dtype_name(dtype)})``."
    return method


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor",
               "complex64": "ComplexFloatTensor", "complex128": "ComplexDoubleTensor"}
_TYPE_DTYPES = {v: k for k, v in _TYPE_NAMES.items()}


def type_(self, dtype=None, non_blocking=False):
    """With no argument, the type name (``'torch.FloatTensor'``); else ``to(dtype)``."""
    if dtype is None:
        return "torch." + _TYPE_NAMES.get(self._data.dtype.name, "Tensor")
    if isinstance(dtype, str):
        name = dtype.rsplit(".", 1)[-1]
        if name in _TYPE_DTYPES:
            dtype = _TYPE_DTYPES[name]
    return to(self, dtype)


def type_as(self, other):
    """``self.to(other.dtype)``."""
    return to(self, other._data.dtype)


def cpu(self, memory_format=None):
    """``self`` if its data is on the CPU, else a copy moved there (differentiable)."""
    return to(self, "cpu")


def cuda(self, device=None, non_blocking=False):
    """A copy on the GPU (needs CuPy; a clear error otherwise)."""
    return to(self, "cuda" if device is None else device)


def _device(self):
    return D.device_of(self._data)


def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    """A new tensor from ``data`` with ``self``'s dtype by default."""
    from .torch_factories import tensor
    return tensor(data, dtype=self._data.dtype if dtype is None else dtype,
                  requires_grad=requires_grad)


def _new(fill):
    def method(self, *size, dtype=None, device=None, requires_grad=False):
        from .torch_factories import full
        return full(S.size_args(size, "new"), fill, dtype=self._data.dtype if dtype is None
                    else dtype, requires_grad=requires_grad)
    return method


def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value``, ``self``'s dtype by default."""
    from .torch_factories import full
    return full(size, fill_value, dtype=self._data.dtype if dtype is None else dtype,
                requires_grad=requires_grad)


def _rebuild(data, requires_grad):
    return Tensor(data, requires_grad=requires_grad)


def _reduce_ex(self, protocol):
    return _rebuild, (np.asarray(_concrete_data(self, "pickle")), self.requires_grad)


def _deepcopy(self, memo):
    if not self.is_leaf:
        raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                           "support the deepcopy protocol at the moment. If you were "
                           "attempting to deepcopy a module, this may be because of a "
                           "torch.nn.utils.weight_norm usage, see "
                           "https://github.com/pytorch/pytorch/pull/103001")
    data = self._data.copy() if hasattr(self._data, "copy") else self._data
    t = Tensor(data, requires_grad=self.requires_grad)
    if self.grad is not None:
        t.grad = _deepcopy(self.grad, memo)
    memo[id(self)] = t
    return t


# --------------------------------------------------------------------------- #
# In-place operations
# --------------------------------------------------------------------------- #
def _snapshot(t):
    """A Tensor standing for ``t``'s current value and graph position (never modified)."""
    s = Tensor._wrap(t._data)
    s.node = t.node
    s.requires_grad = t.requires_grad
    return s


def _leaf_error():
    return RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                        "operation. Wrap it in `with torch.no_grad():` (as optimizers do) or "
                        "use an out-of-place operation (y = x + 1).")


def inplace(self, compute, reshape=False):
    """Apply ``compute(old) -> Tensor`` to ``self`` in place; see the module docstring."""
    grad_on = is_grad_enabled()
    if grad_on and self.requires_grad and self.is_leaf:
        raise _leaf_error()
    r = compute(_snapshot(self) if grad_on else self)
    if not isinstance(r, Tensor):
        r = Tensor._wrap(fnp.asarray(r))
    dt = self._data.dtype
    if r._data.dtype != dt:
        if D.category(r._data.dtype) > D.category(dt):
            raise RuntimeError(
                f"result type {_type_word(r._data.dtype)} can't be cast to the desired output "
                f"type {_type_word(dt)} (in-place operation on a {D.dtype_name(dt)} tensor; "
                f"use an out-of-place operation, or convert the tensor first with "
                f".to({D.dtype_name(r._data.dtype)}))")
        r = P.convert(r, dt)
    if not reshape and tuple(r._data.shape) != tuple(self._data.shape):
        raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the "
                           f"broadcast shape {list(r._data.shape)}")
    self._set_values(r._data)  # (a ``.data`` alias writes through to its tensor)
    self._version += 1
    if grad_on:
        if r.requires_grad:
            self.node = r.node
            self.requires_grad = True
        elif self.requires_grad:  # overwritten by a value with no derivative
            self.node = None
            self.requires_grad = False
    return self


def _type_word(d):
    return {"f": "Float", "c": "ComplexFloat", "i": "Long", "u": "Byte",
            "b": "Bool"}[d.kind] if d not in (D.float64, D.int32) else \
        {"float64": "Double", "int32": "Int"}[d.name]


def _inplace_of(fn, name):
    def method(self, *args, **kwargs):
        return inplace(self, lambda old: fn(old, *args, **kwargs))
    method.__name__ = name
    method.__doc__ = f"In-place ``{name[:-1]}``: updates ``self`` and returns it."
    return method


def setitem(self, idx, value):
    """``x[idx] = value``: an in-place update (recorded as a scatter when it needs a gradient)."""
    if isinstance(value, Tensor) and not value.requires_grad:
        value = value._data
    elif isinstance(value, (list, tuple)):
        value = np.asarray(value)
    if isinstance(idx, Tensor):
        idx = idx._data
    elif isinstance(idx, tuple):
        idx = tuple(i._data if isinstance(i, Tensor) else i for i in idx)
    inplace(self, lambda old: at(old)[idx].set(value))


def zero_(self):
    """Fill with zeros in place."""
    return inplace(self, lambda old: np.zeros(tuple(old.shape), old._data.dtype))


def fill_(self, value):
    """Fill with ``value`` (a number or a 0-dim tensor) in place."""
    if isinstance(value, Tensor):
        return inplace(self, lambda old: S.expand(M.cast(value, old._data.dtype),
                                                  tuple(old.shape)))
    return inplace(self, lambda old: np.full(tuple(old.shape), value, old._data.dtype))


def copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast, converted to ``self``'s dtype) into ``self``."""
    if not isinstance(src, Tensor):
        src = M.as_tensor_arg(src)
    return inplace(self, lambda old: S.expand(M.cast(src, old._data.dtype), tuple(old.shape)))


def _random_fill(self, draw):
    def compute(old):
        dt = old._data.dtype
        if dt.kind != "f":
            raise RuntimeError(f"expected a floating-point tensor, got {D.dtype_name(dt)}")
        return draw(tuple(old.shape), dt)
    return inplace(self, compute)


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    """Fill with uniform draws from ``[a, b)`` (global generator unless ``generator``)."""
    return _random_fill(self, lambda shape, dt: fr.uniform(
        fr.next_key(generator), shape, dt, a, b))


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with normal draws of ``mean`` and ``std``."""
    return _random_fill(self, lambda shape, dt: (
        mean + std * fr.normal(fr.next_key(generator), shape, dt)).astype(dt))


def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 0/1 draws that are 1 with probability ``p``."""
    return inplace(self, lambda old: fr.uniform(fr.next_key(generator), tuple(old.shape))
                   < p)


def random_(self, from_=0, to=None, *, generator=None):
    """Fill with integers drawn from ``[from_, to)``."""
    hi = to if to is not None else (2 ** 24 if self._data.dtype.kind == "f" else
                                    np.iinfo(self._data.dtype).max)
    return inplace(self, lambda old: fr.randint(fr.next_key(generator), tuple(old.shape),
                                                from_, hi))


# --------------------------------------------------------------------------- #
# Operators
# --------------------------------------------------------------------------- #
def _binop(prim):
    # Operands that are not numbers, arrays or tensors (None, strings...) give
    # NotImplemented, so Python's fallbacks apply (``t == None`` is False).
    def fwd(s, o):
        try:
            return M.binary(prim, s, o)
        except D.UnsupportedOperand:
            return NotImplemented

    def rev(s, o):
        try:
            return M.binary(prim, o, s)
        except D.UnsupportedOperand:
            return NotImplemented
    return fwd, rev


def _iop(fn):
    def method(self, other):
        return inplace(self, lambda old: fn(old, other))
    return method


def _len(self):
    if not self._data.shape:
        raise TypeError("len() of a 0-d tensor")
    return self._data.shape[0]


def _iter(self):
    if not self._data.shape:
        raise TypeError("iteration over a 0-d tensor")
    return (getitem(self, i) for i in range(self._data.shape[0]))


def _contains(self, element):
    return _bool(R.any(M.eq(self, element)))


def _where_method(self, condition, y):
    return M.where(condition, self, y)


def _dim(self):
    return self._data.ndim


def _element_size(self):
    return self._data.dtype.itemsize


def _stride(self, dim=None):
    shape = tuple(self._data.shape)
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= builtins.max(s, 1)
    strides = tuple(reversed(strides))
    return strides if dim is None else strides[S.wrap_dim(dim, len(shape), "stride")]


def _T(self):
    if self._data.ndim < 2:
        return self
    return S.permute(self, tuple(range(self._data.ndim))[::-1])


def _mT(self):
    if self.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {self.ndim}-D tensor.")
    return S.transpose(self, -2, -1)


# Methods that are the top-level functions bound to the tensor.
_FUNCTIONS = {
    M: ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
        "floor_divide", "remainder", "fmod", "pow", "neg", "negative", "abs", "absolute",
        "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin", "cos",
        "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
        "asinh", "acosh", "atanh", "sigmoid", "reciprocal", "erf", "atan2", "arctan2",
        "square", "floor", "ceil", "trunc", "fix", "round", "frac", "sign", "sgn", "clone",
        "relu", "eq", "ne", "not_equal", "lt", "less", "le", "less_equal", "gt", "greater",
        "ge", "greater_equal", "logical_and", "logical_or", "logical_xor", "logical_not",
        "isnan", "isinf", "isfinite", "isclose", "allclose", "equal", "clamp", "clip",
        "clamp_min", "clamp_max", "maximum", "minimum", "fmax", "fmin", "lerp", "masked_fill",
        "softmax", "log_softmax", "logsumexp"],
    S: ["reshape", "view", "view_as", "flatten", "unflatten", "squeeze", "unsqueeze",
        "permute", "transpose", "swapaxes", "swapdims", "t", "movedim", "moveaxis", "expand",
        "expand_as", "broadcast_to", "repeat", "tile", "repeat_interleave", "flip", "roll",
        "contiguous", "split", "chunk", "tensor_split", "unbind", "narrow", "gather",
        "take_along_dim", "scatter", "scatter_add", "index_select", "masked_select",
        "nonzero", "argwhere", "tril", "triu", "diag", "diagonal", "trace", "numel"],
    R: ["sum", "nansum", "mean", "var", "std", "prod", "norm", "dist", "count_nonzero", "all",
        "any", "argmax", "argmin", "max", "min", "amax", "amin", "aminmax", "cumsum",
        "cumprod", "argsort", "sort", "topk", "kthvalue", "median", "matmul", "mm", "bmm",
        "mv", "dot", "inner", "outer", "ger", "cross"],
}

# In-place variants: name_ -> the out-of-place function applied to the old value.
_INPLACE = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
            "floor_divide", "remainder", "fmod", "pow", "neg", "negative", "abs", "exp",
            "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin", "cos", "tan",
            "sinh", "cosh", "tanh", "sigmoid", "reciprocal", "square", "floor", "ceil",
            "trunc", "round", "frac", "sign", "relu", "clamp", "clip", "clamp_min",
            "clamp_max", "lerp", "masked_fill", "scatter", "scatter_add", "eq", "ne", "lt",
            "le", "gt", "ge", "logical_not", "atan2", "fmax", "fmin", "maximum", "minimum",
            "cumsum", "cumprod", "tril", "triu", "erf"]
_INPLACE_RESHAPE = ["unsqueeze", "squeeze", "t", "transpose", "resize"]


def install():
    """Install the PyTorch-style surface on :class:`funcgrad.Tensor` (idempotent)."""
    T = Tensor
    from .torch_api import Size
    # The same property as tensor.py's, without an import on every call (hot path).
    T.shape = property(lambda s: Size(s._data.shape))
    T.ndim = property(lambda s: s._data.ndim)  # no Size built just to count it
    for mod, names in _FUNCTIONS.items():
        for name in names:
            setattr(T, name, getattr(mod, name))
    for name in _INPLACE:
        fn = getattr(T, name)
        setattr(T, name + "_", _inplace_of(fn, name + "_"))
    for name in _INPLACE_RESHAPE:
        if hasattr(T, name):
            fn = getattr(T, name)
            setattr(T, name + "_", (lambda fn: lambda self, *a, **k: inplace(
                self, lambda old: fn(old, *a, **k), reshape=True))(fn))
    T.resize_ = lambda self, *size: inplace(self, lambda old: S.reshape(old, *size),
                                            reshape=True)
    # properties
    T.size = property(_size)
    T.device = property(_device)
    T.is_cuda = property(lambda s: _device(s).type == "cuda")
    T.is_cpu = property(lambda s: _device(s).type == "cpu")
    T.T = property(_T)
    T.mT = property(_mT)
    T.H = property(_T)
    T.mH = property(_mT)
    T.itemsize = property(_element_size)
    T.nbytes = property(lambda s: _int(s._data.size) * s._data.dtype.itemsize)
    T.layout = property(lambda s: "torch.strided")
    # shape and metadata
    T.dim = T.ndimension = _dim
    T.nelement = S.numel
    T.element_size = _element_size
    T.stride = _stride
    T.is_contiguous = lambda s, memory_format=None: True
    T.storage_offset = lambda s: 0
    T.is_floating_point = D.is_floating_point
    T.is_complex = D.is_complex
    T.reshape_as = S.view_as
    T.where = _where_method
    # conversions
    T.numpy = numpy
    T.__array__ = _array
    T.item = item
    T.tolist = tolist
    T.to = to
    T.cpu = cpu
    T.cuda = cuda
    T.type = type_
    T.type_as = type_as
    for name, dtype in (("float", D.float32), ("double", D.float64), ("half", D.float16),
                        ("long", D.int64), ("int", D.int32), ("short", D.int16),
                        ("char", D.int8), ("byte", D.uint8), ("bool", D.bool_),
                        ("cfloat", D.complex64), ("cdouble", D.complex128)):
        setattr(T, name, _caster(dtype))
    T.new_tensor = new_tensor
    T.new_zeros = _new(0)
    T.new_ones = _new(1)
    T.new_empty = _new(0)
    T.new_full = new_full
    T.__reduce_ex__ = _reduce_ex
    T.__deepcopy__ = _deepcopy
    # in-place
    T.zero_ = zero_
    T.fill_ = fill_
    T.copy_ = copy_
    T.uniform_ = uniform_
    T.normal_ = normal_
    T.bernoulli_ = bernoulli_
    T.random_ = random_
    T.__setitem__ = setitem
    # operators
    for name, prim in (("add", P.add_p), ("sub", P.subtract_p), ("mul", P.multiply_p),
                       ("floordiv", P.floor_divide_p), ("mod", P.remainder_p),
                       ("pow", P.power_p)):
        fwd, rev = _binop(prim)
        setattr(T, f"__{name}__", fwd)
        setattr(T, f"__r{name}__", rev)
    T.__truediv__ = lambda s, o: M.true_divide_op(s, o)
    T.__rtruediv__ = lambda s, o: M.true_divide_op(o, s)
    T.__matmul__ = lambda s, o: R.matmul(s, o)
    T.__rmatmul__ = lambda s, o: R.matmul(o, s)
    T.__neg__ = lambda s: bind(P.negative_p, (s,), E)
    T.__abs__ = M.abs
    for name, prim in (("eq", P.equal_p), ("ne", P.not_equal_p), ("lt", P.less_p),
                       ("le", P.less_equal_p), ("gt", P.greater_p),
                       ("ge", P.greater_equal_p)):
        setattr(T, f"__{name}__", _binop(prim)[0])
    for name, fn in (("add", M.add), ("sub", M.sub), ("mul", M.mul),
                     ("truediv", M.true_divide_op), ("floordiv", M.floor_divide),
                     ("mod", M.remainder), ("pow", M.pow), ("matmul", R.matmul),
                     ("and", lambda a, b: a & b), ("or", lambda a, b: a | b),
                     ("xor", lambda a, b: a ^ b)):
        setattr(T, f"__i{name}__", _iop(fn))
    T.__len__ = _len
    T.__iter__ = _iter
    T.__contains__ = _contains
    T.__float__ = lambda s: _scalar_of(s, _float)
    T.__int__ = lambda s: _scalar_of(s, _int)
    T.__complex__ = lambda s: _scalar_of(s, complex)
    T.__index__ = _index
    T.__format__ = _format


def _index(self):
    if self._data.dtype.kind not in "iub" or self._data.size != 1:
        raise TypeError("only integer tensors of a single element can be converted to an "
                        "index")
    return _int(item(self))


__all__ = ["install", "inplace"]
