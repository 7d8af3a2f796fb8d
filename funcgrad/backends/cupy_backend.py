"""The CuPy backend record (NVIDIA GPUs).  Imported only through :func:`load`.

Everything here touches CuPy through the handful of attributes the conformance
test (``tests/test_cupy_conformance.py``) checks against the installed CuPy and
the NumPy-backed test double (``tests/cupy_double``) implements.  Nothing in
this module is evaluated at ``import funcgrad`` time.

Scatter: ``cupyx.scatter_add/max/min`` use atomics (fast, for the dtypes CUDA
has atomics for); ``set`` and ``multiply``, and the other dtypes, go through
:func:`scatter_ordered`, which sorts the target positions (stably) and runs a
segmented scan, so repeated indices resolve exactly as NumPy's ``ufunc.at``
and ``x[i] = v`` do (in index order, the last write wins), deterministically.
"""
from __future__ import annotations

import numpy as np

from . import Backend

# dtypes with CUDA atomics in cupyx.scatter_add / scatter_max / scatter_min.
_ATOMIC_DTYPES = {
    "add": frozenset(map(np.dtype, ("int32", "uint32", "uint64", "float16", "float32",
                                    "float64"))),
    "max": frozenset(map(np.dtype, ("int32", "int64", "uint32", "uint64", "float32",
                                    "float64"))),
}
_ATOMIC_DTYPES["min"] = _ATOMIC_DTYPES["max"]


def _supports_float64(index):
    # Every CUDA GPU since compute capability 1.3 has IEEE double precision
    # (slow on consumer cards, but exact).  Kept as a function so a test can
    # model a device without it, and a ROCm port can answer per device.
    return True


def load():
    """Import CuPy and build its :class:`~funcgrad.backends.Backend` record.

    Raises:
      DeviceUnavailableError: CuPy is not installed or fails to import (the
        message says how to install it).
    """
    from . import detect
    try:
        import cupy
        import cupyx
    except ImportError as e:
        from ..device import DeviceUnavailableError
        reason, fix = detect.explain_import_error(e)
        raise DeviceUnavailableError(f"{reason}\n  Fix: {fix}") from e

    def device_index(x):
        return x.device.id

    def current_index():
        return cupy.cuda.runtime.getDevice()

    def on_device(index):
        return cupy.cuda.Device(current_index() if index is None else index)

    multi = []

    def needs_switch(index):
        # One GPU (the common case): never; the count is read once.
        if not multi:
            try:
                multi.append(cupy.cuda.runtime.getDeviceCount() > 1)
            except Exception:  # noqa: BLE001 - no driver: nothing runs anyway
                multi.append(False)
        return multi[0] and index != current_index()

    def supports_dtype(dtype, index=None):
        dt = np.dtype(dtype)
        if dt.kind in "fc" and dt.itemsize * (2 if dt.kind == "f" else 1) >= 16:
            return _supports_float64(current_index() if index is None else index)
        return True

    def check_dtype(dtype, index):
        if not supports_dtype(dtype, index):
            from ..device import UnsupportedDtypeError
            raise UnsupportedDtypeError(
                f"cuda:{index} has no {np.dtype(dtype).name} support (no double precision "
                "on this device). funcgrad never downcasts silently: convert first, e.g. "
                "funcgrad.device_put(x.astype('float32'), 'cuda'), or keep this array on "
                "the CPU.")

    def asarray(x, index=None):
        if index is None:
            index = current_index()
        if isinstance(x, cupy.ndarray):
            if x.device.id == index:
                return x
            with x.device:  # copies between GPUs need a contiguous source
                x = cupy.ascontiguousarray(x)
            with cupy.cuda.Device(index):
                return x.copy()
        x = np.asarray(x)
        check_dtype(x.dtype, index)
        with cupy.cuda.Device(index):
            return cupy.asarray(x)

    def to_numpy(x):
        return cupy.asnumpy(x)

    def device_count():
        return cupy.cuda.runtime.getDeviceCount()

    def rng(seed=None, index=None):
        # cupy.random.Generator draws on the device it was made on; it has
        # random/uniform/integers/standard_normal (no normal/permutation).
        with on_device(index):
            return cupy.random.default_rng(seed)

    def scatter(out, idx, updates, mode):
        """In place ``out[idx] (mode)= updates`` with NumPy's repeated-index semantics."""
        fn = {"add": cupyx.scatter_add, "max": cupyx.scatter_max,
              "min": cupyx.scatter_min}.get(mode)
        if fn is not None and out.dtype in _ATOMIC_DTYPES[mode]:
            fn(out, idx, updates)
            return out
        return scatter_ordered(cupy, out, idx, updates, mode)

    def synchronize(index=None):
        with on_device(index):
            cupy.cuda.runtime.deviceSynchronize()

    return Backend(
        "cupy", cupy, "cuda", (cupy.ndarray,), "cupy",
        asarray=asarray, to_numpy=to_numpy, device_index=device_index,
        current_index=current_index, device_count=device_count, on_device=on_device,
        needs_switch=needs_switch,
        rng=rng, scatter=scatter, supports_dtype=supports_dtype, check_dtype=check_dtype,
        synchronize=synchronize)


_COMBINE = {"add": "add", "multiply": "multiply", "min": "minimum", "max": "maximum"}


def scatter_ordered(xp, out, idx, updates, mode):
    """``out[idx] (mode)= updates`` in place, repeated indices combined in index order.

    Works for every mode and dtype with array operations only: the flat
    target position of each update (an iota gathered by ``idx``), a stable
    sort by position, an inclusive segmented scan (Hillis-Steele,
    ``log2(n)`` vectorised passes) and one write per distinct position.
    ``xp.argsort`` must be stable (CuPy's always is).
    """
    if not out.flags.c_contiguous:  # the flat view below must alias ``out``
        raise ValueError("scatter_ordered: the output array must be C-contiguous")
    flat = out.reshape(-1)
    pos = xp.arange(out.size).reshape(out.shape)[idx]
    if pos.size == 0:
        return out
    vals = xp.broadcast_to(xp.asarray(updates, dtype=out.dtype), pos.shape).reshape(-1)
    pos = pos.reshape(-1)
    order = xp.argsort(pos)
    p = pos[order]
    v = vals[order]
    n = p.shape[0]
    new_seg = p[1:] != p[:-1]
    last = xp.concatenate([new_seg, xp.ones(1, dtype=bool)])
    if mode == "set":
        flat[p[last]] = v[last]
        return out
    combine = getattr(xp, _COMBINE[mode])
    seg = xp.cumsum(xp.concatenate([xp.zeros(1, dtype=new_seg.dtype), new_seg]))
    acc = v.copy()
    s = 1
    while s < n:
        same = seg[s:] == seg[:-s]
        acc[s:] = xp.where(same, combine(acc[:-s], acc[s:]), acc[s:])
        s *= 2
    at = p[last]
    flat[at] = combine(flat[at], acc[last])
    return out

