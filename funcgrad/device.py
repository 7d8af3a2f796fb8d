"""Devices: where arrays live, how the default is chosen, and moving arrays between them.

* :class:`device` -- ``funcgrad.device("cuda:0")``, like ``torch.device``:
  ``.type`` (``"cpu"`` or ``"cuda"``) and ``.index``.
* The default device (for arrays made with no array input: ``fnp.zeros``,
  ``fnp.arange``, the Tensor factories) is, in order: this thread's innermost
  ``with funcgrad.device_scope("cuda:0"):`` (also ``funcgrad.default_device(d)``
  or ``with funcgrad.device("cuda"):``), then ``funcgrad.set_default_device(d)``
  for the whole process, then the ``FUNCGRAD_DEVICE`` environment variable
  (``cpu``, ``cuda``, ``cuda:1`` or ``auto``), then the CPU.
* Operations follow their inputs: an op on GPU arrays runs on their GPU; an op
  mixing devices raises :class:`DeviceMismatchError` naming both devices.
* :func:`to_device` (alias :func:`device_put`) moves an array and is
  differentiable: its VJP moves the cotangent back, so gradients flow across
  devices (``Tensor.to("cuda")`` records it on the tape).

Example:
    >>> import funcgrad.numpy as fnp
    >>> from funcgrad.device import device_of, device_put
    >>> x = fnp.ones(3)
    >>> device_of(x)
    device(type='cpu')
    >>> device_put(x, "cpu") is x
    True
"""
from __future__ import annotations

import numpy as np

from . import backends
from .backends import detect
from .core import FuncgradError, Primitive, Tracer
from .prims._rules import deflinear


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
class DeviceError(FuncgradError):
    """Base class of device errors."""


class DeviceMismatchError(DeviceError, ValueError):
    """One operation was given arrays on different devices."""


class DeviceUnavailableError(DeviceError, RuntimeError):
    """A CUDA device was requested and none is usable (the message says why)."""


class UnsupportedDtypeError(DeviceError, TypeError):
    """The device cannot hold the dtype (float64 without double precision)."""


# --------------------------------------------------------------------------- #
# device
# --------------------------------------------------------------------------- #
_ALIASES = {"cpu": "cpu", "cuda": "cuda", "gpu": "cuda", "auto": "auto"}


def parse_device_spec(spec, source="the device"):
    """``(type, index)`` of a device given as a :class:`device`, a string or a GPU number.

    Strings: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` (``"gpu"`` is ``"cuda"``) and
    ``"auto"`` (CUDA if usable, else the CPU).  An int ``n`` is ``"cuda:n"``.

    Raises:
      ValueError: naming ``source`` and the accepted forms.
    """
    if isinstance(spec, device):
        return (spec.type, spec.index)
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if spec < 0:
            raise ValueError(f"{source}: a GPU number must be >= 0, got {spec}")
        return ("cuda", int(spec))
    if isinstance(spec, str):
        text = spec.strip().lower()
        kind, _, num = text.partition(":")
        kind = _ALIASES.get(kind)
        if kind is not None and (not num or (num.isdigit() and kind == "cuda")):
            return (kind, int(num) if num else None)
    raise ValueError(
        f"{source}: {spec!r} is not a device. Use 'cpu', 'cuda', 'cuda:N' (N = 0, 1, ...), "
        "'auto', an int N (meaning cuda:N) or a funcgrad.device.")


class device:
    """A device: ``device("cpu")``, ``device("cuda")``, ``device("cuda:1")``, ``device(1)``.

    Like ``torch.device``: compares equal by ``(type, index)``, prints as
    ``device(type='cuda', index=0)`` and ``str()`` gives ``'cuda:0'``.  As a
    context manager it makes itself the default device of this thread.

    Examples:
        >>> import funcgrad as fg
        >>> fg.device("cuda:1").index
        1
        >>> str(fg.device("cpu"))
        'cpu'
    """

    __slots__ = ("type", "index", "_scope")

    def __init__(self, type, index=None):  # noqa: A002 - torch's name
        kind, idx = parse_device_spec(type)
        if kind == "auto":
            raise ValueError("device('auto') is not a device: use funcgrad.get_default_device()")
        if index is not None:
            if idx is not None and idx != index:
                raise ValueError(f"device({type!r}, {index}): two different indices")
            if kind == "cpu" and index not in (0, -1):
                raise ValueError(f"device('cpu', {index}): the CPU has no index")
            idx = None if kind == "cpu" else int(index)
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "index", idx)
        object.__setattr__(self, "_scope", [])

    def __setattr__(self, name, value):
        raise AttributeError("funcgrad.device is immutable")

    @property
    def spec(self):
        """``(type, index)``."""
        return (self.type, self.index)

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        return isinstance(other, device) and self.spec == other.spec

    def __hash__(self):
        return hash(("funcgrad.device",) + self.spec)

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __reduce__(self):
        return (device, (str(self),))

    def __enter__(self):
        cm = device_scope(self)
        cm.__enter__()
        self._scope.append(cm)
        return self

    def __exit__(self, *exc):
        return self._scope.pop().__exit__(*exc)


def _as_device(d):
    return d if isinstance(d, device) else device(d)


CPU = device("cpu")


def _resolved(d):
    """``d`` with a concrete GPU index (``cuda`` means the current GPU)."""
    if d.type == "cuda":
        detect.require_cuda(d.index)
        if d.index is None:
            return device("cuda", backends.get_backend("cupy").current_index())
    return d


# --------------------------------------------------------------------------- #
# The default device
# --------------------------------------------------------------------------- #
def device_scope(d):
    """``with funcgrad.device_scope("cuda:0"):`` -- the default device of this thread.

    Arrays made with no array input inside the block (``fnp.zeros``,
    ``fnp.arange``, Tensor factories) go to ``d``.  Scopes nest; other
    threads are not affected.

    Raises:
      ValueError: ``d`` is not a device.
    """
    kind, idx = parse_device_spec(d, "device_scope")
    return backends._push_scope((kind, idx))


def default_device(d=None):
    """The default device (no argument), or a ``with`` scope making ``d`` the default.

    ``funcgrad.default_device()`` returns a :class:`device` (resolving
    ``FUNCGRAD_DEVICE=auto``); ``with funcgrad.default_device("cuda"):`` is
    :func:`device_scope` (as ``jax.default_device``).
    """
    if d is None:
        return get_default_device()
    return device_scope(d)


def get_default_device():
    """The :class:`device` that arrays made with no array input go to now."""
    kind, idx = backends.default_device_spec()
    return CPU if kind == "cpu" else device(kind, idx)


def set_default_device(d):
    """Make ``d`` the default device of the whole process (``None`` restores the CPU/env).

    A thread's ``device_scope`` still wins; ``FUNCGRAD_DEVICE`` is consulted
    only when this is unset.  Like ``torch.set_default_device``.
    """
    backends._process_default[0] = None if d is None else parse_device_spec(
        d, "set_default_device")


# --------------------------------------------------------------------------- #
# Where an array lives
# --------------------------------------------------------------------------- #
def device_of(x):
    """The :class:`device` holding ``x`` (an array, a Tensor or a traced value).

    NumPy arrays, Python numbers and lists are on the CPU.  A value traced by
    ``jit`` has no data yet: the default device is reported.
    """
    v = backends._unwrap(x) if isinstance(x, Tracer) else x
    if v is None:
        return get_default_device()
    b = backends._FOREIGN_ARRAY_TYPES.get(type(v))
    if b is None:
        if type(v).__module__.split(".")[0] == "cupy" and backends.adopt_foreign((v,)):
            b = backends._FOREIGN_ARRAY_TYPES[type(v)]
        else:
            return CPU
    return device(b.device_type, b.device_index(v))


def to_numpy(x):
    """``x`` as a NumPy array (copied from the GPU when needed).  Not differentiable."""
    if isinstance(x, Tracer):
        x = backends._unwrap(x)
        if x is None:
            raise TypeError("to_numpy: a value traced by jit has no data yet")
    return backends.to_numpy(x)


# --------------------------------------------------------------------------- #
# device_put: a linear primitive; its transpose moves the cotangent back.
# --------------------------------------------------------------------------- #
device_put_p = Primitive("device_put")
device_put_p.impl = lambda xp, x, *, device, src: backends.put(x, device.spec)
device_put_p.shape_rule = lambda x, *, device, src: (tuple(x.shape), x.dtype)
deflinear(device_put_p, lambda ct, x, *, device, src: device_put_p.bind(
    ct, device=src, src=device))
device_put_p.batch = lambda vals, dims, *, device, src: (
    device_put_p.bind(vals[0], device=device, src=src), dims[0])


def to_device(x, d):
    """``x`` on device ``d`` (no copy if it is already there); differentiable.

    Gradients flow back across the move: the cotangent is moved to ``x``'s
    device.  Works on arrays, Tensors and traced values.

    Args:
      x: an array (NumPy or CuPy), a Tensor, a traced value or a Python number/list.
      d: a :class:`device`, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or an int N.
    Returns:
      The array on ``d`` (a Tensor for a Tensor).
    Raises:
      DeviceUnavailableError: ``d`` is a GPU and none is usable (says why and the fix).
      UnsupportedDtypeError: ``d`` cannot hold ``x``'s dtype.

    Examples:
        >>> import numpy as np
        >>> from funcgrad.device import device_put
        >>> device_put(np.ones(2), "cpu").shape
        (2,)
    """
    dst = _resolved(_as_device(d))
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    src = device_of(x)
    if src == dst:
        return x
    return device_put_p.bind(x, device=dst, src=src)


device_put = to_device


# --------------------------------------------------------------------------- #
# CUDA queries
# --------------------------------------------------------------------------- #
def cuda_is_available():
    """True if a CUDA device is usable (CuPy imports, a device, a kernel runs).

    Cached after the first call; ``FUNCGRAD_DEVICE=cpu`` makes it False.
    Never raises.  :func:`gpu_status` says why not.
    """
    return detect.probe().ok


def cuda_device_count():
    """How many CUDA devices are usable (0 when none is)."""
    s = detect.probe()
    return s.device_count if s.ok else 0


def gpu_status(refresh=False):
    """The :class:`~funcgrad.backends.detect.GpuStatus` (``ok``, ``reason``, ``fix``...)."""
    return detect.probe(refresh)


def synchronize(d=None):
    """Wait for all work queued on GPU ``d`` (default: the current one); no-op on the CPU."""
    d = CPU if d is None and not cuda_is_available() else _as_device(d or "cuda")
    if d.type == "cuda":
        d = _resolved(d)
        backends.get_backend("cupy").synchronize(d.index)


class cuda:
    """``funcgrad.cuda.is_available()``, ``device_count()``...: the ``torch.cuda`` names."""

    is_available = staticmethod(cuda_is_available)
    device_count = staticmethod(cuda_device_count)
    synchronize = staticmethod(lambda d=None: synchronize("cuda" if d is None else d))

    @staticmethod
    def current_device():
        """The index of the current CUDA device (raises if none is usable)."""
        return _resolved(device("cuda")).index

    def __init__(self):
        raise TypeError("funcgrad.cuda is a namespace, not a class to instantiate")


class accelerator:
    """``torch.accelerator`` (PyTorch 2.6+): the current accelerator, CUDA here.

    The device-agnostic names of PyTorch's recent tutorials::

        device = torch.accelerator.current_accelerator().type \\
            if torch.accelerator.is_available() else "cpu"
    """

    is_available = staticmethod(cuda_is_available)
    device_count = staticmethod(cuda_device_count)

    @staticmethod
    def current_accelerator(check_available=False):
        """``device("cuda")`` when a GPU is usable; otherwise None."""
        return device("cuda") if cuda_is_available() else None

    @staticmethod
    def current_device_index():
        """The index of the current accelerator (raises if none is usable)."""
        return cuda.current_device()

    @staticmethod
    def synchronize(d=None):
        """Wait for the work queued on the accelerator (no-op without one)."""
        if cuda_is_available():
            synchronize("cuda" if d is None else d)

    def __init__(self):
        raise TypeError("funcgrad.accelerator is a namespace, not a class to instantiate")


__all__ = ["device", "cuda", "accelerator", "device_scope", "default_device", "get_default_device",
           "set_default_device", "device_of", "to_device", "device_put", "to_numpy",
           "cuda_is_available", "cuda_device_count", "gpu_status", "synchronize",
           "DeviceError", "DeviceMismatchError", "DeviceUnavailableError",
           "UnsupportedDtypeError"]
