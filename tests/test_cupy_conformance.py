"""The real CuPy has every attribute funcgrad uses (the test double's allow-list).

tests/cupy_double serves exactly the names in tests/cupy_double/api.py, and
tests/test_cupy_double.py proves funcgrad needs no others; this file closes
the loop against the installed CuPy package.  It needs CuPy but no GPU
(``import cupy`` and attribute lookups work without a driver), so an optional
CI job can run it after ``pip install cupy-cuda12x`` (about 140 MB).
"""
from __future__ import annotations

import inspect

import pytest

from tests.cupy_double import api


@pytest.fixture(scope="module")
def cupy():
    """The installed CuPy, imported at test time (not at collection: importing CuPy
    registers funcgrad's CuPy backend, which is undone afterwards)."""
    cp = pytest.importorskip(
        "cupy", reason="the conformance check needs CuPy installed (pip install "
        "cupy-cuda12x; no GPU needed); see docs/backends.md")
    import cupy.lib.stride_tricks  # noqa: F401
    import cupyx.scipy.special  # noqa: F401
    yield cp
    from funcgrad import backends
    backends._unload_foreign_for_tests()


def _missing(module, names):
    return sorted(n for n in names if not hasattr(module, n))


def test_cupy_has_every_function_and_attribute_funcgrad_uses(cupy):
    import cupyx
    assert not _missing(cupy, api.CUPY_FUNCTIONS | api.CUPY_ATTRIBUTES)
    assert not _missing(cupy.linalg, api.CUPY_LINALG)
    assert not _missing(cupy.random, api.CUPY_RANDOM)
    assert not _missing(cupy.lib.stride_tricks, api.CUPY_STRIDE_TRICKS)
    assert not _missing(cupy.cuda, api.CUPY_CUDA)
    assert not _missing(cupy.cuda.runtime, api.CUPY_CUDA_RUNTIME)
    assert not _missing(cupyx, api.CUPYX_FUNCTIONS)
    assert not _missing(cupyx.scipy.special, api.CUPYX_SCIPY_SPECIAL)
    assert not _missing(cupy.ndarray, api.NDARRAY_ATTRIBUTES)
    assert not _missing(cupy.random.Generator, api.GENERATOR_METHODS)


def _params(fn):
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # a compiled function without a signature
        return None


def test_cupy_takes_the_keywords_funcgrad_passes(cupy):
    unknown = []
    for table, module in ((api.KEYWORDS, cupy), (api.LINALG_KEYWORDS, cupy.linalg)):
        for name, keywords in table.items():
            params = _params(getattr(module, name))
            if params is None:
                continue  # a ufunc/compiled routine: covered by the double's behaviour
            unknown += [f"{name}({k}=)" for k in keywords if k not in params]
    assert not unknown, f"CuPy does not accept: {unknown}"


def test_the_scatter_functions_take_array_slices_value(cupy):
    import cupyx
    for fn in (cupyx.scatter_add, cupyx.scatter_max, cupyx.scatter_min):
        assert list(inspect.signature(fn).parameters) == ["a", "slices", "value"]
