"""Array backends: NumPy (always there) and CuPy (imported only when used).

A *backend* is a small record per array library (:class:`Backend`): its name,
its array namespace ``xp``, its array types, host transfers, the opt-einsum
backend name, a random generator that draws on its device and a scatter
(``np.add.at`` vs ``cupyx.scatter_add``).  Primitives are written once against
``xp``; a primitive whose NumPy and CuPy lowerings differ keeps the CuPy one in
``prim.impls["cupy"]`` (the backend's :attr:`Backend.name`).

Selection
    * An operation runs on the backend of its array arguments
      (:func:`dispatch`, called by ``core.evaluate``).  While no foreign array
      type is registered, ``core.evaluate`` does not call in here at all and
      :func:`namespace_of` answers NumPy after one global check: the CPU hot
      path pays nothing for GPU support.
    * Arrays made with no array input (factories) go to the *default device*:
      the innermost ``funcgrad.device_scope(...)`` of this thread, else
      ``funcgrad.set_default_device(...)``, else the ``FUNCGRAD_DEVICE``
      environment variable, else the CPU (see :mod:`funcgrad.device`).

CuPy is imported lazily: only when a CUDA device is requested or a CuPy array
is met.  ``import funcgrad`` and every CPU computation leave it unimported.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading

import numpy as np

# Array types of non-NumPy backends, mapped to their Backend record.  Empty
# until a CuPy array or a CUDA device is first requested; core.evaluate reads
# its truthiness directly, so an empty dict keeps the CPU path untouched.
_FOREIGN_ARRAY_TYPES: dict = {}

# name -> Backend, filled as backends are loaded ("numpy" always).
_BACKENDS: dict = {}


class Backend:
    """What funcgrad needs to know about one array library.

    Attributes:
      name: the key of per-backend overrides (``prim.impls[name]``).
      xp: the array namespace (``numpy`` or ``cupy``).
      device_type: ``"cpu"`` or ``"cuda"``.
      array_types: the library's array classes (numpy: ``np.ndarray`` and
        ``np.generic``).
      einsum_backend: the ``backend=`` name opt-einsum contracts with.
    The methods (``asarray``, ``to_numpy``, ``device_index``, ``on_device``,
    ``rng``, ``scatter``, ``supports_dtype``, ``synchronize``) are supplied by
    the backend module; see ``numpy_backend.py`` and ``cupy_backend.py``.
    """

    def __init__(self, name, xp, device_type, array_types, einsum_backend, **methods):
        self.name = name
        self.xp = xp
        self.device_type = device_type
        self.array_types = tuple(array_types)
        self.einsum_backend = einsum_backend
        for k, fn in methods.items():
            setattr(self, k, fn)

    def __repr__(self):
        return f"<funcgrad backend {self.name!r} ({self.device_type})>"


def _numpy():
    b = _BACKENDS.get("numpy")
    if b is None:
        from . import numpy_backend
        b = _BACKENDS["numpy"] = numpy_backend.BACKEND
    return b


def get_backend(name):
    """The :class:`Backend` called ``name``: ``"numpy"``/``"cpu"`` or ``"cupy"``/``"cuda"``.

    Loading ``"cupy"`` imports CuPy and registers its array type; it does not
    check for a usable GPU (:func:`funcgrad.device.require_cuda` does).

    Raises:
      DeviceUnavailableError: ``"cupy"`` was asked for and CuPy cannot be imported.
      ValueError: an unknown name.
    """
    b = _BACKENDS.get(name)
    if b is not None:
        return b
    if name in ("numpy", "cpu"):
        return _numpy()
    if name in ("cupy", "cuda"):
        b = _BACKENDS.get("cupy")
        if b is None:
            from . import cupy_backend
            b = cupy_backend.load()
            _BACKENDS["cupy"] = b
            for t in b.array_types:
                _FOREIGN_ARRAY_TYPES[t] = b
        return b
    raise ValueError(f"unknown array backend {name!r}: use 'numpy' (cpu) or 'cupy' (cuda)")


def register_array_type(array_type, backend):
    """Route operations on ``array_type`` to ``backend`` (a :class:`Backend`)."""
    _FOREIGN_ARRAY_TYPES[array_type] = backend


# --------------------------------------------------------------------------- #
# Selection by the arguments of an operation
# --------------------------------------------------------------------------- #
def namespace_of(args):
    """The array namespace (``numpy`` or ``cupy``) for an operation on ``args``.

    Raises:
      DeviceMismatchError: ``args`` hold arrays on different devices.
    """
    if not _FOREIGN_ARRAY_TYPES:
        return np
    return _resolve(None, args)[0].xp


def backend_of(args):
    """The :class:`Backend` of an operation on ``args`` (NumPy when none is foreign)."""
    if not _FOREIGN_ARRAY_TYPES:
        return _numpy()
    return _resolve(None, args)[0]


def dispatch(prim, args):
    """``(xp, impl, args)`` for evaluating ``prim`` on concrete ``args``.

    Called by ``core.evaluate`` only once a foreign array type is registered.
    Picks the backend of the arguments and its override
    (``prim.impls[backend.name]``, else ``prim.impl``).  All arrays must live
    on one device; 0-d NumPy arrays may sit next to device arrays (as PyTorch
    allows 0-dim CPU tensors) and are passed on as NumPy scalars, which every
    backend accepts.  Arrays on a GPU other than the current one run with
    that GPU made current for the call.

    Raises:
      DeviceMismatchError: naming ``prim``, both devices and the fix.
    """
    backend, index, lowered = _resolve(prim, args)
    impl = prim.impls.get(backend.name, prim.impl)
    if index is not None and backend.needs_switch(index):
        impl = _on_device_impl(impl, backend, index)
    return backend.xp, impl, (args if lowered is None else lowered)


def _on_device_impl(impl, backend, index):
    def run(xp, *args, **params):
        with backend.on_device(index):
            return impl(xp, *args, **params)
    return run


def _resolve(prim, args):
    found = None      # (backend, device index, position) of the first foreign array
    host = None       # position of the first non-0-d NumPy array
    lowered = None
    for i, a in enumerate(args):
        b = _FOREIGN_ARRAY_TYPES.get(type(a))
        if b is not None:
            idx = b.device_index(a)
            if found is None:
                found = (b, idx, i)
            elif found[0] is not b or found[1] != idx:
                _mismatch(prim, args, found[2], i)
        elif type(a) is np.ndarray:
            if a.ndim:
                if host is None:
                    host = i
            else:
                if lowered is None:
                    lowered = list(args)
                lowered[i] = a[()]
    if found is None:
        return _numpy(), None, None
    if host is not None:
        _mismatch(prim, args, min(host, found[2]), max(host, found[2]))
    return found[0], found[1], (None if lowered is None else tuple(lowered))


def _mismatch(prim, args, i, j):
    from ..device import DeviceMismatchError, device_of
    from ..core import _describe, user_frame_summary
    di, dj = device_of(args[i]), device_of(args[j])
    op = prim.name if prim is not None else "an operation"
    raise DeviceMismatchError(
        f"{op}: operands are on different devices: operand {i} ({_describe(args[i])}) is "
        f"on {di} and operand {j} ({_describe(args[j])}) is on {dj}, at "
        f"{user_frame_summary()}.\n"
        f"  Move one of them first: funcgrad.device_put(x, '{dj}') for arrays, or "
        f"x.to('{dj}') for Tensors.  (0-d arrays and Python numbers mix freely.)")


def _unwrap(x):
    """The concrete array behind a tracer chain, or None when it is abstract (jit)."""
    from ..core import Tracer
    while isinstance(x, Tracer):
        for attr in ("primal", "val", "_data"):
            v = getattr(x, attr, None)
            if v is not None:
                x = v
                break
        else:
            return None
    return x


def namespace_of_value(x):
    """The namespace of ``x``, looking through tracers (vmap, grad, Tensor) to their data.

    An abstract value (under ``jit`` staging) has no device yet: the default
    device's namespace is used.
    """
    if not _FOREIGN_ARRAY_TYPES:
        if type(x) is np.ndarray:  # the CPU hot path (zeros_like in backward rules)
            return np
        if _default_is_cpu():
            return np
    v = _unwrap(x)
    if v is None:
        return default_namespace()
    b = _FOREIGN_ARRAY_TYPES.get(type(v))
    if b is None:
        return np
    return _on_device(b, b.device_index(v))


def adopt_foreign(args):
    """Load the backend of any unregistered CuPy array in ``args``; True if one was new.

    A safety net behind the import hook below (for a CuPy loaded by an unusual
    importer): ``device_of`` calls it on an unknown array type from ``cupy``.
    """
    new = False
    for a in args:
        t = type(a)
        if t not in _FOREIGN_ARRAY_TYPES and t.__module__.split(".")[0] == "cupy":
            get_backend("cupy")
            new = new or t in _FOREIGN_ARRAY_TYPES
    return new


# --------------------------------------------------------------------------- #
# The default device (for arrays made with no array input)
# --------------------------------------------------------------------------- #
class _Scopes(threading.local):
    def __init__(self):
        self.stack = []


_scopes = _Scopes()
_process_default = [None]   # set_default_device(); a list so device.py can assign
_env_cache = {}


# os.environ.get on a missing key costs microseconds (a KeyError inside);
# CPython's os.environ keeps its dict in ``_data``, which every os.environ
# update goes through, so reading it directly stays exact and takes ~50 ns.
_ENV_DATA = getattr(os.environ, "_data", None)
try:
    _ENV_KEY = os.environ.encodekey("FUNCGRAD_DEVICE")
except AttributeError:  # pragma: no cover - not CPython's os.environ
    _ENV_DATA = None


def _env_device():
    """The raw value of FUNCGRAD_DEVICE ('' when unset)."""
    if _ENV_DATA is not None:
        v = _ENV_DATA.get(_ENV_KEY)
        return os.environ.decodevalue(v) if v else ""
    return os.environ.get("FUNCGRAD_DEVICE", "")


def _default_is_cpu():
    """True when nothing selects a device: the fast path of every factory."""
    return not _scopes.stack and _process_default[0] is None and not _env_device()


def default_device_spec():
    """The default device as ``(type, index)`` (index None: the current one).

    Order: this thread's innermost ``device_scope``, ``set_default_device``,
    the ``FUNCGRAD_DEVICE`` environment variable, the CPU.
    """
    if _scopes.stack:
        return _concrete_spec(_scopes.stack[-1])
    if _process_default[0] is not None:
        return _concrete_spec(_process_default[0])
    env = _env_device()
    if not env:
        return ("cpu", None)
    spec = _env_cache.get(env)
    if spec is None:
        from ..device import parse_device_spec
        spec = parse_device_spec(env, source="the FUNCGRAD_DEVICE environment variable")
        _env_cache[env] = spec
    return _concrete_spec(spec)


def _concrete_spec(spec):
    """``("auto", None)`` becomes CUDA when a GPU is usable, else the CPU."""
    if spec[0] != "auto":
        return spec
    from .detect import probe
    return ("cuda", None) if probe().ok else ("cpu", None)


@contextlib.contextmanager
def _push_scope(spec):
    # A scope on a numbered GPU also makes it the library's current device, so
    # raw array arithmetic (the user's, and the rules') runs there too.
    switch = (backend_for_device(spec).on_device(spec[1])
              if spec[0] == "cuda" and spec[1] is not None else contextlib.nullcontext())
    with switch:
        _scopes.stack.append(spec)
        try:
            yield
        finally:
            _scopes.stack.pop()


def backend_for_device(spec):
    """The backend of device ``spec`` (``(type, index)``), checking a GPU is usable."""
    if spec[0] == "cpu":
        return _numpy()
    from .detect import require_cuda
    require_cuda(spec[1])
    return get_backend("cupy")


def factory(spec=None):
    """The namespace whose creation functions (zeros, arange, ...) make arrays on ``spec``.

    ``spec`` is ``(type, index)`` or None for the default device.  For a GPU
    other than the current one the namespace is wrapped so that every call
    runs on that device.
    """
    if spec is None:
        if _default_is_cpu():
            return np
        spec = default_device_spec()
    spec = _concrete_spec(spec)
    if spec[0] == "cpu":
        return np
    return _on_device(backend_for_device(spec), spec[1])


def default_namespace():
    """The namespace for arrays created with no array input (the default device)."""
    if _default_is_cpu():
        return np
    return factory(default_device_spec())


def _on_device(backend, index):
    if index is None or backend.device_type == "cpu" or index == backend.current_index():
        return backend.xp
    return _DeviceNamespace(backend, index)


class _DeviceNamespace:
    """``xp`` whose functions run with ``index`` as the current device."""

    __slots__ = ("_backend", "_index")

    def __init__(self, backend, index):
        self._backend = backend
        self._index = index

    def __getattr__(self, name):
        fn = getattr(self._backend.xp, name)
        if not callable(fn):
            return fn
        backend, index = self._backend, self._index

        def on_device(*args, **kwargs):
            with backend.on_device(index):
                return fn(*args, **kwargs)
        return on_device

    @property
    def __name__(self):
        return self._backend.xp.__name__


# --------------------------------------------------------------------------- #
# Transfers
# --------------------------------------------------------------------------- #
def put(x, spec):
    """``x`` as an array on device ``spec`` (``(type, index)``); no copy if already there.

    Raises:
      DeviceUnavailableError: a CUDA device was asked for and none is usable.
      UnsupportedDtypeError: the device cannot hold ``x``'s dtype (float64).
    """
    target = backend_for_device(spec)
    return target.asarray(x, spec[1])


def to_numpy(x):
    """``x`` as a NumPy array (a device-to-host copy for GPU arrays)."""
    if type(x) is np.ndarray:
        return x
    b = _FOREIGN_ARRAY_TYPES.get(type(x))
    if b is None:
        return np.asarray(x)
    return b.to_numpy(x)


def loaded():
    """Names of the backends loaded so far (``"cupy"`` only once it was used)."""
    return sorted(_BACKENDS.keys() | {"numpy"})


def _unload_foreign_for_tests():
    """Forget CuPy's backend and array types (the test double swaps CuPy in and out)."""
    _FOREIGN_ARRAY_TYPES.clear()
    _BACKENDS.pop("cupy", None)
    _env_cache.clear()
    from . import detect
    detect.reset()


def _cupy_imported():
    """Register CuPy's backend once CuPy is imported (by anyone, at any time)."""
    try:
        get_backend("cupy")
    except Exception:  # noqa: BLE001 - a broken CuPy must not break the user's import
        pass


class _CupyImportHook:
    """A ``sys.meta_path`` finder that notices ``import cupy`` and registers its backend.

    So CuPy arrays made by the user are routed to the CuPy backend whether
    CuPy was imported before or after funcgrad.  It answers only for the name
    ``cupy`` (every other import costs one string comparison) and never
    imports CuPy itself.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "cupy":
            return None
        import importlib.machinery
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _NotifyingLoader(spec.loader)
        return spec


class _NotifyingLoader:
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _cupy_imported()

    def __getattr__(self, name):
        return getattr(self._loader, name)


if "cupy" in sys.modules:
    _cupy_imported()
elif not any(isinstance(f, _CupyImportHook) for f in sys.meta_path):
    sys.meta_path.insert(0, _CupyImportHook())
