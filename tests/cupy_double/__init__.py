"""A NumPy-backed test double for CuPy: exercises funcgrad's CuPy backend without a GPU.

It is NOT a GPU run: everything executes on the CPU with NumPy.  What it checks
is that funcgrad routes device arrays to its CuPy backend, uses only CuPy API
(``api.py``, checked against the real CuPy by ``tests/test_cupy_conformance.py``),
never mixes host arrays into device operations, keeps results on the device,
and produces the same values as the NumPy backend.  See fake_cupy.py for what
it models and what it cannot.

Usage (the fixture in tests/test_cupy_double.py does this)::

    with installed() as cupy:
        x = cupy.asarray(np.ones(3))   # a "device" array
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_NAMES = ("cupy", "cupyx")


def _load(name, filename):
    spec = importlib.util.spec_from_file_location(name, os.path.join(_HERE, filename))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    for sub, m in getattr(mod, "SUBMODULES", {}).items():
        sys.modules[sub] = m
    return mod


def _refusing(np_fn, array_type):
    """``np_fn`` refusing device arrays, as CuPy's ``__array__`` makes NumPy refuse them."""
    def fn(a, *args, **kwargs):
        if type(a) is array_type:
            raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                            "`.get()` to construct a NumPy array explicitly. (CuPy test double)")
        return np_fn(a, *args, **kwargs)
    fn.__wrapped__ = np_fn
    return fn


@contextlib.contextmanager
def installed(device_count=1):
    """Make ``import cupy``/``import cupyx`` give the double; restore everything after.

    While installed, ``numpy.asarray``/``array``/``asanyarray`` refuse the
    double's arrays (NumPy would view an ndarray subclass without asking; CuPy
    raises), so a host copy in funcgrad fails here as it would on a GPU.
    funcgrad's CuPy backend is unloaded on entry and on exit, so the CPU path
    is left as it was (no foreign array type registered).
    """
    import numpy as np
    from funcgrad import backends
    saved = {k: v for k, v in sys.modules.items()
             if k in _NAMES or k.startswith(tuple(n + "." for n in _NAMES))}
    for k in saved:
        del sys.modules[k]
    backends._unload_foreign_for_tests()
    try:
        cupy = _load("cupy", "fake_cupy.py")
        _load("cupyx", "fake_cupyx.py")
        cupy.STATE.device_count = device_count
        backends._cupy_imported()  # what funcgrad's import hook does after `import cupy`
        saved_np = {n: getattr(np, n) for n in ("asarray", "array", "asanyarray")}
        for n, f in saved_np.items():
            setattr(np, n, _refusing(f, cupy.ndarray))
        try:
            yield cupy
        finally:
            for n, f in saved_np.items():
                setattr(np, n, f)
    finally:
        for k in [k for k in sys.modules
                  if k in _NAMES or k.startswith(tuple(n + "." for n in _NAMES))]:
            del sys.modules[k]
        sys.modules.update(saved)
        backends._unload_foreign_for_tests()
