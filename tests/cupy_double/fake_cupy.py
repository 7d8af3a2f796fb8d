"""A NumPy-backed stand-in for ``cupy`` -- a TEST DOUBLE, not a GPU.

Loaded as the module ``cupy`` by :func:`tests.cupy_double.installed`.  It runs
everything on the CPU with NumPy, but behaves like CuPy where funcgrad could
get it wrong:

* its arrays are a distinct class (:class:`ndarray`, a NumPy subclass), so
  funcgrad routes them to its CuPy backend;
* only the names in ``api.py`` exist (any other attribute raises
  AttributeError), so funcgrad cannot rely on NumPy-only API;
* host (NumPy) arrays are refused where CuPy refuses them: as operands of
  functions and ufuncs (``TypeError: Unsupported type``), and as values of
  ``x[i] = v``; ``numpy`` functions on its arrays dispatch only to names CuPy
  has (``__array_function__``/``__array_ufunc__``, as CuPy does);
* reductions and integer indexing return 0-d arrays, never NumPy scalars;
* every array remembers its device; operands must be on the current device
  (``cupy.cuda.Device(i)`` switches it) or the call fails, as without peer
  access on a real multi-GPU machine;
* ``sort``/``argsort`` take only ``kind=None`` (older CuPy's signature);
  ``ufunc.at`` only for add/subtract/bitwise ops (CuPy's scatter ops);
* failure knobs (:data:`STATE`) model a missing driver, no device, or a
  missing NVRTC for the detection tests.

* ``numpy.asarray/array/asanyarray`` refuse its arrays while it is installed
  (``installed()`` wraps them: NumPy would view a subclass without asking its
  ``__array__``; CuPy raises).

What it cannot model: performance, asynchrony, memory limits, numerical
differences of GPU kernels, and host copies made by NumPy's C code (e.g. a
ufunc's ``out=`` of a host array) -- those are refused later, when the host
result meets a device array.
"""
from __future__ import annotations

import functools
import os
import sys
import threading
import types

import numpy as _np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
try:
    import api as _api  # the allow-list (loaded by path: this module is named "cupy")
finally:
    sys.path.remove(_HERE)
    sys.modules.pop("api", None)

__version__ = "0.0.0+numpy.test.double"


class _State:
    """Knobs for the detection tests (reset by ``installed()``)."""

    def __init__(self):
        self.device_count = 1
        self.runtime_error = None    # getDeviceCount raises CUDARuntimeError(this)
        self.compile_error = None    # the first kernel raises RuntimeError(this)
        self.calls = []              # names served, for coverage reports


STATE = _State()


# --------------------------------------------------------------------------- #
# cupy.cuda: devices and the runtime
# --------------------------------------------------------------------------- #
class CUDARuntimeError(RuntimeError):
    pass


class _Current(threading.local):
    def __init__(self):
        self.id = 0


_current = _Current()


def _check_runtime():
    if STATE.runtime_error is not None:
        raise CUDARuntimeError(STATE.runtime_error)


def _getDeviceCount():
    _check_runtime()
    return STATE.device_count


def _setDevice(i):
    _check_runtime()
    if not 0 <= i < STATE.device_count:
        raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
    _current.id = i


class Device:
    """``cupy.cuda.Device``: a context manager making ``id`` the current device."""

    def __init__(self, device=None):
        self.id = _current.id if device is None else int(device)
        self._prev = []

    def __enter__(self):
        self._prev.append(_current.id)
        _setDevice(self.id)
        return self

    def __exit__(self, *exc):
        _current.id = self._prev.pop()
        return False

    def use(self):
        _setDevice(self.id)

    def synchronize(self):
        pass

    @property
    def compute_capability(self):
        return "90"

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


runtime = types.ModuleType("cupy.cuda.runtime")
runtime.getDeviceCount = _getDeviceCount
runtime.getDevice = lambda: _current.id
runtime.setDevice = _setDevice
runtime.deviceSynchronize = lambda: None
runtime.CUDARuntimeError = CUDARuntimeError
cuda = types.ModuleType("cupy.cuda")
cuda.Device = Device
cuda.runtime = runtime


# --------------------------------------------------------------------------- #
# The array
# --------------------------------------------------------------------------- #
_compiled = [False]


def _kernel():
    """Every operation "launches a kernel": the first one may fail to compile."""
    if not _compiled[0]:
        if STATE.compile_error is not None:
            raise RuntimeError(STATE.compile_error)
        _compiled[0] = True


class ndarray(_np.ndarray):
    """A "device" array: NumPy data, CuPy's rules (see the module docstring)."""

    def __array_finalize__(self, obj):
        self._dev = getattr(obj, "_dev", _current.id)

    @property
    def device(self):
        return Device(self._dev)

    def get(self, stream=None, order="C", out=None, blocking=True):
        return _np.array(self.view(_np.ndarray), copy=True, order=order)

    def copy(self, order="C"):
        # New memory is allocated on the *current* device (how CuPy moves data between GPUs).
        _kernel()
        return _wrap(_np.array(self.view(_np.ndarray), copy=True, order=order), _current.id)

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        if not copy and _np.dtype(dtype) == self.dtype:
            return self
        _operand_device((self,))
        return _wrap(self.view(_np.ndarray).astype(dtype, order=order), _current.id)

    def __array__(self, dtype=None, copy=None):
        # CuPy's message (NumPy does not call this for subclasses; see module doc).
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        name = ufunc.__name__
        if name not in _api.CUPY_FUNCTIONS:
            return NotImplemented
        if method == "at" and name not in ("add", "subtract", "bitwise_and", "bitwise_or",
                                           "bitwise_xor"):
            raise NotImplementedError(f"`cupy_{name}.at` is not supported yet")
        dev = _operand_device(inputs + tuple(kwargs.get("out", ())))
        args = tuple(_to_base(x) for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_to_base(x) for x in kwargs["out"])
        _kernel()
        result = getattr(ufunc, method)(*args, **kwargs)
        if method == "at":
            return None
        return _wrap(result, dev)

    def __array_function__(self, func, types_, args, kwargs):
        # As CuPy: numpy.f(cupy array) runs cupy.f when CuPy has it.
        mod = func.__module__ or ""
        if mod.startswith("numpy.linalg"):
            table, ns = _api.CUPY_LINALG, linalg
        elif mod == "numpy" or mod.startswith("numpy._core") or mod.startswith("numpy.lib"):
            table, ns = _api.CUPY_FUNCTIONS, sys.modules[__name__]
        else:
            return NotImplemented
        if func.__name__ not in table:
            return NotImplemented
        return getattr(ns, func.__name__)(*args, **kwargs)

    def __getitem__(self, idx):
        dev = self._dev
        _operand_device((self,) + _index_arrays(idx))
        return _wrap(self.view(_np.ndarray)[_base_index(idx)], dev)

    def __setitem__(self, idx, value):
        if type(value) is _np.ndarray and value.ndim:
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill "
                             "(CuPy refuses assignment from CPU arrays)")
        _operand_device((self,) + _index_arrays(idx) + (value,))
        self.view(_np.ndarray)[_base_index(idx)] = _to_base(value)

    def __repr__(self):
        return f"cupy_double.{_np.array_repr(self.view(_np.ndarray))}"

    __str__ = __repr__


def _to_base(x):
    if type(x) is ndarray:
        return x.view(_np.ndarray)
    if type(x) is _np.ndarray:
        raise TypeError(f"Unsupported type {type(x)}")
    return x


def _index_arrays(idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    return tuple(i for i in items if type(i) is ndarray)


def _base_index(idx):
    # Index arrays may be host arrays (CuPy copies them to the device).
    if isinstance(idx, tuple):
        return tuple(i.view(_np.ndarray) if type(i) is ndarray else i for i in idx)
    return idx.view(_np.ndarray) if type(idx) is ndarray else idx


def _operand_device(values):
    """The current device, after checking every double array lives there."""
    cur = _current.id
    for v in values:
        if type(v) is ndarray and v._dev != cur:
            raise ValueError(f"The device where the array resides ({v._dev}) is different "
                             f"from the current device ({cur}). Peer access is unavailable "
                             "between these devices.")
    return cur


def _wrap(r, dev):
    if isinstance(r, _np.ndarray):
        out = r.view(ndarray)
        out._dev = dev
        return out
    if isinstance(r, _np.generic):
        out = _np.asarray(r).view(ndarray)
        out._dev = dev
        return out
    if isinstance(r, (tuple, list)):  # CuPy returns plain tuples (no NumPy namedtuples)
        return tuple(_wrap(e, dev) for e in r) if isinstance(r, tuple) else \
            [_wrap(e, dev) for e in r]
    return r


def _unwrap_all(x, found):
    """Operands for NumPy: double arrays to base views; host arrays refused."""
    if type(x) is ndarray:
        found.append(x)
        return x.view(_np.ndarray)
    if type(x) is _np.ndarray:
        raise TypeError(f"Unsupported type {type(x)}")
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap_all(e, found) for e in x)
    return x


# --------------------------------------------------------------------------- #
# The namespace: NumPy's functions behind CuPy's rules, for allowed names only
# --------------------------------------------------------------------------- #
_HOST_OK = {"asarray", "array", "ascontiguousarray", "asnumpy", "get_array_module",
            "result_type"}


def _serve(np_fn, name):
    @functools.wraps(np_fn)
    def fn(*args, **kwargs):
        found = []
        if name in _HOST_OK:
            a = tuple(x.view(_np.ndarray) if type(x) is ndarray else x for x in args)
        else:
            a = tuple(_unwrap_all(x, found) for x in args)
        kw = {k: _unwrap_all(v, found) for k, v in kwargs.items()}
        dev = _operand_device(found)
        _kernel()
        STATE.calls.append(name)
        return _wrap(np_fn(*a, **kw), dev)
    return fn


def _sort_like(np_name):
    np_fn = getattr(_np, np_name)

    def fn(a, axis=-1, kind=None):
        if kind is not None:  # CuPy < 14 takes no kind (its sort is always stable)
            raise ValueError("kind can only be None (CuPy sorts are always stable)")
        return _serve(np_fn, np_name)(a, axis=axis, kind="stable")
    return fn


def _asnumpy(a, stream=None, order="C", out=None, blocking=True):
    if type(a) is ndarray:
        return a.get()
    return _np.asarray(a)


def _get_array_module(*args):
    return sys.modules[__name__] if any(type(a) is ndarray for a in args) else _np


def _asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    if type(a) is ndarray:  # already on a device: no copy, no move (as CuPy)
        return a if dtype is None or _np.dtype(dtype) == a.dtype else a.astype(dtype)
    return _serve(_np.asarray, "asarray")(a, dtype=dtype)


_SPECIAL = {
    "sort": _sort_like("sort"),
    "argsort": _sort_like("argsort"),
    "asnumpy": _asnumpy,
    "asarray": _asarray,
    "get_array_module": _get_array_module,
}

float16, float32, float64 = _np.float16, _np.float32, _np.float64
int32, int64, bool_, dtype = _np.int32, _np.int64, _np.bool_, _np.dtype


def __getattr__(name):
    if name in _SPECIAL:
        return _SPECIAL[name]
    if name in _api.CUPY_FUNCTIONS:
        fn = _serve(getattr(_np, name), name)
        globals()[name] = fn
        return fn
    raise AttributeError(f"module 'cupy' (the NumPy test double) has no attribute {name!r}: "
                         "funcgrad may only use the CuPy API listed in "
                         "tests/cupy_double/api.py (add it there once checked against CuPy)")


def _submodule(name, table, source):
    mod = types.ModuleType(f"cupy.{name}")

    def get(attr):
        if attr in table:
            return _serve(getattr(source, attr), f"{name}.{attr}")
        raise AttributeError(f"module 'cupy.{name}' (the NumPy test double) has no "
                             f"attribute {attr!r}")
    mod.__getattr__ = get
    return mod


linalg = _submodule("linalg", _api.CUPY_LINALG, _np.linalg)
lib = types.ModuleType("cupy.lib")
lib.stride_tricks = types.ModuleType("cupy.lib.stride_tricks")


def _as_strided(x, shape=None, strides=None):
    base = _to_base(x)
    return _wrap(_np.lib.stride_tricks.as_strided(base, shape, strides), _current.id)


lib.stride_tricks.as_strided = _as_strided


class _Generator:
    """``cupy.random.Generator``: draws "on the device" (NumPy's PCG64 here)."""

    def __init__(self, seed):
        self._g = _np.random.default_rng(seed)
        self._dev = _current.id

    def _on(self, r):
        return _wrap(r, self._dev)

    def random(self, size=None, dtype=_np.float64, out=None):
        return self._on(self._g.random(size, dtype=dtype))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=_np.float64):
        return self._on(self._g.uniform(low, high, size).astype(dtype))

    def integers(self, low, high=None, size=None, dtype=_np.int64, endpoint=False):
        return self._on(self._g.integers(low, high, size, dtype=dtype, endpoint=endpoint))

    def standard_normal(self, size=None, dtype=_np.float64, out=None):
        return self._on(self._g.standard_normal(size, dtype=dtype))


random = types.ModuleType("cupy.random")
random.default_rng = lambda seed=None: _Generator(seed)
random.Generator = _Generator

SUBMODULES = {"cupy.cuda": cuda, "cupy.cuda.runtime": runtime, "cupy.linalg": linalg,
              "cupy.lib": lib, "cupy.lib.stride_tricks": lib.stride_tricks,
              "cupy.random": random}
