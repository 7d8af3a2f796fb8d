"""dtypes, type promotion and devices of the PyTorch-style front.

A dtype of the front *is* a NumPy dtype (``funcgrad.float32 == np.dtype('float32')``),
so ``tensor.dtype == torch.float32`` holds and NumPy code receives what it expects.

Type promotion follows PyTorch, not NumPy, where the two differ:

* a Python scalar never widens a tensor of its category (``int64 * 2.5 -> float32``
  (the default dtype), where NumPy gives float64);
* an integer tensor meeting a float tensor takes the float's dtype
  (``int64 + float32 -> float32``; NumPy: float64);
* a 0-dim tensor only matters when it is of a higher category than every
  dimensioned tensor (``float32[3] + float64[] -> float32``).

The front converts the operands to the promoted dtype before binding the
primitive, so the primitives themselves keep NumPy's rules.
"""
from __future__ import annotations

import builtins
import threading

import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
complex64 = np.dtype(np.complex64)
complex128 = np.dtype(np.complex128)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

# PyTorch's dtype names, by name (``bool``, ``float``, ``int`` shadow builtins, so
# torch_api puts them into the public namespace without defining them as globals).
DTYPE_NAMES = {
    "float16": float16, "half": float16, "float32": float32, "float": float32,
    "float64": float64, "double": float64, "complex64": complex64, "cfloat": complex64,
    "complex128": complex128, "cdouble": complex128, "int8": int8, "int16": int16,
    "short": int16, "int32": int32, "int": int32, "int64": int64, "long": int64,
    "uint8": uint8, "bool": bool_,
}

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


class _DefaultDtype(threading.local):
    value = float32


_default = _DefaultDtype()


def get_default_dtype():
    """The dtype of float tensors created from Python floats (``float32`` unless set).

    Examples:
        >>> import funcgrad as torch
        >>> torch.get_default_dtype() == torch.float32
        True
    """
    return _default.value


def set_default_dtype(d):
    """Set the default float dtype (``torch.float32`` or ``torch.float64``, or float16).

    Raises:
        TypeError: ``d`` is not a floating-point dtype.
    """
    d = as_dtype(d)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: only floating-point types are supported as "
                        f"the default type (got {d}); use torch.float32 or torch.float64")
    _default.value = d


def default_complex_dtype():
    """The complex dtype matching the default float dtype (complex64 for float32)."""
    return complex128 if _default.value == float64 else complex64


def as_dtype(d):
    """``d`` (a dtype, a NumPy type, a name such as 'float32', or None) as a NumPy dtype."""
    if d is None or isinstance(d, np.dtype):
        return d
    if isinstance(d, str):
        name = d[len("torch."):] if d.startswith("torch.") else d
        if name in DTYPE_NAMES:
            return DTYPE_NAMES[name]
    if d is builtins.float:
        return _default.value
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool_
    try:
        return np.dtype(d)
    except TypeError:
        raise TypeError(f"not a dtype: {d!r} (use torch.float32, torch.int64, ...)") from None


def dtype_name(d):
    """``'torch.float32'``-style name of a dtype (for messages and printing)."""
    return "torch." + ("bool" if d.kind == "b" else d.name)


def is_floating_point(input):  # noqa: A002 - PyTorch's name
    """True if ``input``'s dtype is a floating-point dtype."""
    return input.dtype.kind == "f"


def is_complex(input):  # noqa: A002 - PyTorch's name
    """True if ``input``'s dtype is a complex dtype."""
    return input.dtype.kind == "c"


def finfo(type=None):  # noqa: A002 - PyTorch's name
    """Machine limits of a float dtype (``eps``, ``max``, ``tiny``...); default dtype if None."""
    return np.finfo(_default.value if type is None else as_dtype(type))


def iinfo(type):  # noqa: A002 - PyTorch's name
    """Machine limits of an integer dtype (``min``, ``max``, ``bits``)."""
    return np.iinfo(as_dtype(type))


# --------------------------------------------------------------------------- #
# Promotion
# --------------------------------------------------------------------------- #
def _to_complex(d):
    return complex128 if d == float64 else complex64


def promote_types(type1, type2):
    """``torch.promote_types``: the smallest dtype both promote to (PyTorch's table)."""
    a, b = as_dtype(type1), as_dtype(type2)
    if a == b:
        return a
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca == 0:
        return b
    if cb == 0:
        return a
    if ca == cb:
        return np.promote_types(a, b)
    hi, lo = (a, b) if ca > cb else (b, a)
    if hi.kind == "c" and lo.kind == "f":
        return np.promote_types(hi, lo)
    return hi


def _promote(acc, d):
    return d if acc is None else promote_types(acc, d)


def _combine(higher, lower):
    """PyTorch's combine_categories: a lower tier only counts if its category is higher."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.kind == "c":
        return higher
    if lower.kind == "c":
        return _to_complex(higher) if higher.kind == "f" else lower
    if higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return promote_types(higher, lower)
    return higher


def scalar_dtype(x):
    """The dtype a Python (or NumPy) scalar takes in an operation with a tensor."""
    if isinstance(x, (builtins.bool, np.bool_)):
        return bool_
    if isinstance(x, (builtins.int, np.integer)):
        return int64
    if isinstance(x, (builtins.float, np.floating)):
        return _default.value
    if isinstance(x, (builtins.complex, np.complexfloating)):
        return default_complex_dtype()
    return None


class UnsupportedOperand(TypeError):
    """An operand that is neither a tensor, an array nor a number."""


def result_type(*operands):
    """``torch.result_type``: the dtype of an elementwise operation on ``operands``.

    Tensors with dimensions outrank 0-dim tensors, which outrank Python scalars;
    a lower tier only changes the result when its category (bool < int < float
    < complex) is higher.

    Examples:
        >>> import funcgrad as torch
        >>> torch.result_type(torch.tensor([1, 2]), 2.5) == torch.float32
        True
    """
    dim = zero = wrapped = None
    for x in operands:
        d = getattr(x, "dtype", None)
        if d is None or isinstance(x, np.generic):
            sd = scalar_dtype(x)
            if sd is None:
                raise UnsupportedOperand(f"unsupported operand type for a tensor operation: "
                                         f"{type(x).__name__}")
            wrapped = _promote(wrapped, sd)
        elif len(x.shape):
            dim = _promote(dim, d)
        else:
            zero = _promote(zero, d)
    return _combine(dim, _combine(zero, wrapped))


def can_cast(from_, to):
    """``torch.can_cast``: casting allowed under PyTorch's rules (no category lowering)."""
    a, b = as_dtype(from_), as_dtype(to)
    return _CATEGORY[a.kind] <= _CATEGORY[b.kind]


def category(d):
    """0 bool, 1 integer, 2 float, 3 complex: the order PyTorch promotes by."""
    return _CATEGORY[d.kind]


# --------------------------------------------------------------------------- #
# Devices: funcgrad.device does the work (CPU always; CUDA through CuPy)
# --------------------------------------------------------------------------- #
def check_device(d, op="tensor"):
    """``d`` (None, a string, an int or a ``funcgrad.device``) as a device, or None.

    Raises:
        ValueError: ``d`` is not a device.
    """
    if d is None:
        return None
    from .device import device
    if isinstance(d, device):
        return d
    return device(str(d) if hasattr(d, "type") else d)  # also accepts a torch.device


def place(data, d, op="tensor"):
    """``data`` (a new NumPy array) moved to device ``d`` (the default device if None).

    Raises:
        DeviceUnavailableError: ``d`` is a GPU and none is usable (the message says why).
    """
    from .device import get_default_device, to_device
    if d is None:
        if not isinstance(data, np.ndarray):
            return data  # already an array of some device: it stays there
        d = get_default_device()
        if d.type == "cpu":
            return data
    return to_device(data, check_device(d, op))


def device_of(data):
    """The device holding ``data`` (an array or traced value)."""
    from .device import device_of as _device_of
    return _device_of(data)
