"""Is a usable NVIDIA GPU here?  Cheap, robust and cached.

"Usable" means all three of: CuPy imports, the CUDA runtime reports at least
one device, and one tiny kernel compiles (NVRTC) and computes the right
answer -- CuPy wheels install without a driver or without NVRTC, and both
only fail at the first kernel.  The answer is computed once per process
(:func:`reset` forgets it) and never raises; :func:`require_cuda` turns a
negative answer into an error that says why and how to fix it.

``FUNCGRAD_DEVICE=cpu`` turns the GPU off without probing (checked on every
call, so tests and scripts can flip it).
"""
from __future__ import annotations

import dataclasses
import threading

GPU_EXTRA = 'pip install "funcgrad[gpu]"'


@dataclasses.dataclass(frozen=True)
class GpuStatus:
    """The outcome of :func:`probe`.

    Attributes:
      ok: a CUDA device is usable.
      reason: why not (empty when ``ok``).
      fix: what to do about it (empty when ``ok``).
      device_count: CUDA devices visible to CuPy (0 when unknown).
      cupy_version: the imported CuPy's version, or None.
    """

    ok: bool
    reason: str = ""
    fix: str = ""
    device_count: int = 0
    cupy_version: str | None = None

    def __str__(self):
        if self.ok:
            return (f"CUDA usable: {self.device_count} device(s), CuPy "
                    f"{self.cupy_version}")
        return f"CUDA not usable: {self.reason} (fix: {self.fix})"


_lock = threading.Lock()
_cached: list = [None]


def _disabled():
    from . import _env_device
    return _env_device().strip().lower() == "cpu"


def probe(refresh=False):
    """The cached :class:`GpuStatus` of this process (probing on the first call).

    Args:
      refresh: probe again (after installing a driver, changing
        ``CUDA_VISIBLE_DEVICES``...).
    """
    if _disabled():
        return GpuStatus(False, "the GPU is turned off by FUNCGRAD_DEVICE=cpu",
                         "unset FUNCGRAD_DEVICE (or set FUNCGRAD_DEVICE=cuda)")
    status = _cached[0]
    if status is not None and not refresh:
        return status
    with _lock:
        if _cached[0] is None or refresh:
            _cached[0] = _probe()
        return _cached[0]


def reset():
    """Forget the cached answer (the next :func:`probe` runs the checks again)."""
    _cached[0] = None


def explain_import_error(err):
    """``(reason, fix)`` for a failed ``import cupy``."""
    if isinstance(err, ModuleNotFoundError) and (err.name or "").split(".")[0] in ("cupy",
                                                                                   "cupyx"):
        return ("CuPy is not installed",
                f"{GPU_EXTRA} (CuPy for CUDA 12; for CUDA 11: pip install cupy-cuda11x)")
    return (f"CuPy is installed but fails to import ({type(err).__name__}: "
            f"{_first_line(err)})",
            "reinstall the CuPy wheel that matches your CUDA version, e.g. "
            f"pip install --force-reinstall {GPU_EXTRA[12:]}")


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _probe():
    try:
        import cupy
    except ImportError as e:
        reason, fix = explain_import_error(e)
        return GpuStatus(False, reason, fix)
    except Exception as e:  # noqa: BLE001 - a broken install must not crash a probe
        reason, fix = explain_import_error(e)
        return GpuStatus(False, reason, fix)
    version = getattr(cupy, "__version__", None)
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as e:  # noqa: BLE001 - CUDARuntimeError, driver load errors
        msg = _first_line(e)
        if "InsufficientDriver" in msg or "driver" in msg.lower():
            fix = ("install or update the NVIDIA driver (nvidia-smi must work; CUDA 12 "
                   "wheels need driver >= 525), or use the CuPy wheel for your CUDA version")
        else:
            fix = "check that nvidia-smi lists a GPU and that CUDA_VISIBLE_DEVICES is not empty"
        return GpuStatus(False, f"no usable CUDA driver or device ({msg})", fix,
                         cupy_version=version)
    if count <= 0:
        return GpuStatus(False, "CuPy sees no CUDA device",
                         "check that nvidia-smi lists a GPU and that CUDA_VISIBLE_DEVICES "
                         "is not empty", cupy_version=version)
    try:
        with cupy.cuda.Device(0):
            x = cupy.arange(4, dtype=cupy.float32)
            got = float((x * 2.0 + 1.0).sum())   # compiles and runs two kernels
    except Exception as e:  # noqa: BLE001 - CompileException, RuntimeError, OSError
        msg = _first_line(e)
        if "nvrtc" in str(e).lower():
            return GpuStatus(
                False, f"CuPy cannot compile GPU kernels: NVRTC, CUDA's runtime compiler, is "
                f"missing ({msg})",
                'pip install "cupy-cuda12x[ctk]" (or nvidia-cuda-nvrtc-cu12), or install '
                "the CUDA toolkit that matches your driver", count, version)
        return GpuStatus(False, f"a test kernel failed on cuda:0 ({type(e).__name__}: {msg})",
                         "check the driver and CuPy installation: python -c \"import cupy; "
                         "cupy.show_config()\"", count, version)
    if got != 16.0:
        return GpuStatus(False, f"a test kernel on cuda:0 computed {got} instead of 16.0",
                         "check the driver and CuPy installation", count, version)
    return GpuStatus(True, device_count=count, cupy_version=version)


def require_cuda(index=None):
    """Return the :class:`GpuStatus` if CUDA device ``index`` is usable, else raise.

    Raises:
      DeviceUnavailableError: saying why (CuPy missing, no driver or device,
        NVRTC missing, turned off by ``FUNCGRAD_DEVICE=cpu``, index out of
        range) and how to fix it.
    """
    status = probe()
    if not status.ok:
        from ..device import DeviceUnavailableError
        raise DeviceUnavailableError(
            f"a CUDA device was requested but none is usable: {status.reason}.\n"
            f"  Fix: {status.fix}.\n"
            "  (funcgrad.cuda_is_available() says whether one is; without a GPU, use "
            "device 'cpu'.)")
    if index is not None and not 0 <= index < status.device_count:
        from ..device import DeviceUnavailableError
        raise DeviceUnavailableError(
            f"cuda:{index} was requested but CuPy sees {status.device_count} CUDA "
            f"device(s): use cuda:0 .. cuda:{status.device_count - 1}.")
    return status
