"""Backends and devices: selection order, environment, scopes, errors, GPU detection.

The CUDA side runs through the NumPy-backed CuPy test double (tests/cupy_double):
these tests check funcgrad's logic, not a GPU (scripts/gpu_check.sh does that).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import backends
from funcgrad.backends import cupy_backend, detect
from funcgrad.device import (DeviceMismatchError, DeviceUnavailableError, UnsupportedDtypeError,
                             cuda_device_count, cuda_is_available, default_device, device,
                             device_of, device_put, device_scope, get_default_device, gpu_status,
                             set_default_device, to_device, to_numpy)
from tests.cupy_double import installed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    """Each test starts and ends with no device selected and GPU detection forgotten."""
    monkeypatch.delenv("FUNCGRAD_DEVICE", raising=False)
    set_default_device(None)
    backends._unload_foreign_for_tests()   # also forgets GPU detection
    yield
    set_default_device(None)
    backends._unload_foreign_for_tests()


@pytest.fixture
def cp():
    with installed() as cupy:
        yield cupy


@pytest.fixture
def no_cupy(monkeypatch):
    """CuPy made unimportable (``import cupy`` raises ModuleNotFoundError)."""
    monkeypatch.setitem(sys.modules, "cupy", None)
    detect.reset()
    yield
    detect.reset()


# --------------------------------------------------------------------------- #
# The device object
# --------------------------------------------------------------------------- #
def test_device_parsing_equality_and_printing():
    assert device("cuda:1") == device("cuda", 1) == device(1) == "cuda:1"
    assert device("gpu").type == "cuda" and device("cuda").index is None
    assert device("cpu") == "cpu" and device("cpu") != device("cuda:0")
    assert repr(device("cuda:0")) == "device(type='cuda', index=0)"
    assert repr(device("cpu")) == "device(type='cpu')" and str(device("cuda:2")) == "cuda:2"
    assert len({device("cuda:0"), device("cuda", 0), device("cpu")}) == 2
    for bad in ("tpu", "cuda:x", "cpu:1", -1, 1.5):
        with pytest.raises(ValueError, match="not a device|>= 0|no index"):
            device(bad)
    with pytest.raises(AttributeError):
        device("cpu").index = 3


def test_cpu_arrays_numbers_and_lists_are_on_the_cpu():
    assert device_of(np.ones(2)) == "cpu" and device_of(3.0) == "cpu"
    assert device_of([1, 2]) == "cpu" and device_of(np.float32(1)) == "cpu"
    x = np.ones(3)
    assert device_put(x, "cpu") is x and to_device(x, device("cpu")) is x
    assert to_numpy(x) is x


# --------------------------------------------------------------------------- #
# The CPU path: nothing loaded, nothing checked, CuPy never imported
# --------------------------------------------------------------------------- #
def test_cpu_only_work_registers_no_foreign_backend():
    fg.grad(lambda x: fnp.sum(fnp.tanh(x) ** 2))(np.ones(3))
    fg.vmap(lambda r: r @ r)(np.ones((2, 3)))
    assert not backends._FOREIGN_ARRAY_TYPES
    assert backends.namespace_of((np.ones(2),)) is np
    assert backends.default_namespace() is np


def test_importing_funcgrad_and_taking_a_grad_never_imports_cupy():
    code = textwrap.dedent("""
        import sys
        import funcgrad as fg, funcgrad.numpy as fnp
        from funcgrad.device import device_of, cuda_is_available
        g = fg.grad(lambda x: fnp.sum(fnp.tanh(x) ** 2))(fnp.ones(3))
        fg.vmap(fg.grad(lambda x: fnp.sum(x ** 3)))(fnp.ones((2, 3)))
        fnp.zeros(3); device_of(g); device_of([1.0])
        bad = sorted(m for m in sys.modules if m.split('.')[0] in ('cupy', 'cupyx'))
        assert not bad, bad
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if k != "FUNCGRAD_DEVICE"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_cupy_imported_after_funcgrad_is_recognised(tmp_path):
    """The import hook: `import funcgrad` first, `import cupy` later (here: the double)."""
    fake = os.path.join(ROOT, "tests", "cupy_double")
    for name in ("cupy", "cupyx"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(textwrap.dedent(f"""
            import sys
            __file__ = {os.path.join(fake, "fake_" + name + ".py")!r}
            exec(compile(open(__file__).read(), __file__, "exec"))
            sys.modules.update(SUBMODULES)
        """))
    code = textwrap.dedent("""
        import numpy as np
        import funcgrad as fg, funcgrad.numpy as fnp
        from funcgrad import backends
        from funcgrad.device import device_of
        assert not backends._FOREIGN_ARRAY_TYPES
        import cupy
        x = cupy.asarray(np.ones(3))
        assert type(x) in backends._FOREIGN_ARRAY_TYPES
        g = fg.grad(lambda v: fnp.sum(v * v))(x)
        assert type(g) is cupy.ndarray and str(device_of(g)) == "cuda:0"
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    env.pop("FUNCGRAD_DEVICE", None)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


# --------------------------------------------------------------------------- #
# Selection of the default device
# --------------------------------------------------------------------------- #
def test_default_is_the_cpu():
    assert get_default_device() == "cpu" and default_device() == device("cpu")
    assert type(fnp.zeros(2)) is np.ndarray


def test_selection_order_scope_then_process_default_then_env_then_cpu(cp, monkeypatch):
    def where():
        return device_of(fnp.zeros(2))
    assert where() == "cpu"
    monkeypatch.setenv("FUNCGRAD_DEVICE", "cuda")
    assert where() == "cuda:0"
    set_default_device("cpu")                      # beats the environment
    assert where() == "cpu"
    with device_scope("cuda:0"):                   # beats set_default_device
        assert where() == "cuda:0" and get_default_device() == "cuda:0"
        with default_device("cpu"):                # scopes nest
            assert where() == "cpu"
        assert where() == "cuda:0"
    with device("cuda"):                           # a device is a scope too
        assert type(fnp.arange(3)) is cp.ndarray
        assert type(fnp.asarray([1.0, 2.0])) is cp.ndarray   # lists follow the default
    set_default_device(None)
    assert where() == "cuda:0"                     # back to the environment
    monkeypatch.delenv("FUNCGRAD_DEVICE")
    assert where() == "cpu"


def test_factories_take_a_device_argument(cp):
    assert type(fnp.zeros(2, device="cuda")) is cp.ndarray
    assert type(fnp.eye(2, device=0)) is cp.ndarray
    assert type(fnp.ones(2, device="cpu")) is np.ndarray


def test_scopes_are_per_thread(cp):
    seen = {}

    def other():
        seen["other"] = device_of(fnp.zeros(1))
    with device_scope("cuda"):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        seen["here"] = device_of(fnp.zeros(1))
    assert seen == {"other": device("cpu"), "here": device("cuda:0")}


def test_environment_variable_errors_name_the_variable(monkeypatch):
    monkeypatch.setenv("FUNCGRAD_DEVICE", "tpu:0")
    with pytest.raises(ValueError, match="FUNCGRAD_DEVICE"):
        fnp.zeros(2)


def test_auto_picks_cuda_only_when_usable(monkeypatch, no_cupy):
    monkeypatch.setenv("FUNCGRAD_DEVICE", "auto")
    assert get_default_device() == "cpu" and type(fnp.zeros(1)) is np.ndarray


def test_auto_with_a_usable_gpu(cp, monkeypatch):
    monkeypatch.setenv("FUNCGRAD_DEVICE", "auto")
    assert get_default_device() == "cuda" and type(fnp.zeros(1)) is cp.ndarray


def test_operations_follow_their_inputs_not_the_default(cp):
    x = cp.asarray(np.ones(3))
    with device_scope("cpu"):
        assert type(fnp.exp(x)) is cp.ndarray
        assert type(fnp.zeros_like(x)) is cp.ndarray
    h = np.ones(3)
    with device_scope("cuda"):
        assert type(fnp.exp(h)) is np.ndarray


# --------------------------------------------------------------------------- #
# Mixing devices
# --------------------------------------------------------------------------- #
def test_mixing_devices_is_a_clear_error(cp):
    x = cp.asarray(np.ones(3))
    with pytest.raises(DeviceMismatchError) as e:
        fnp.add(np.ones(3), x)
    msg = str(e.value)
    assert msg.startswith("add:") and "cpu" in msg and "cuda:0" in msg
    assert "funcgrad.device_put(x, 'cuda:0')" in msg and ".to('cuda:0')" in msg
    assert "test_backends.py" in msg                     # the user's line
    assert isinstance(e.value, ValueError)               # catchable as NumPy would raise


def test_numbers_and_0d_host_arrays_mix_with_device_arrays(cp):
    x = cp.asarray(np.arange(3.0))
    for other in (2.0, np.float64(2.0), np.array(2.0)):
        y = fnp.multiply(x, other)
        assert type(y) is cp.ndarray
        np.testing.assert_array_equal(y.get(), np.arange(3.0) * 2)


def test_two_gpus_route_switch_and_refuse_mixing():
    with installed(device_count=2):
        a = device_put(np.arange(3.0), "cuda:1")
        assert device_of(a) == "cuda:1"
        b = fnp.add(fnp.exp(a), 1.0)    # funcgrad ops switch to cuda:1 (the double checks)
        assert device_of(b) == "cuda:1"
        # Whole transforms (whose rules also use the arrays' own operators) run
        # inside a scope, which makes cuda:1 CuPy's current device as well.
        with device_scope("cuda:1"):
            g = fg.grad(lambda v: fnp.sum(fnp.sin(v) * v))(a)
        assert device_of(g) == "cuda:1"
        np.testing.assert_allclose(g.get(), np.sin(np.arange(3.0)) +
                                   np.arange(3.0) * np.cos(np.arange(3.0)))
        c = device_put(np.ones(3), "cuda:0")
        with pytest.raises(DeviceMismatchError, match="cuda:0.*cuda:1|cuda:1.*cuda:0"):
            fnp.add(c, a)
        moved = device_put(a, "cuda:0")
        assert device_of(moved) == "cuda:0"
        np.testing.assert_array_equal(moved.get(), np.arange(3.0))
        with device_scope("cuda:1"):
            assert device_of(fnp.zeros(2)) == "cuda:1"
        with pytest.raises(DeviceUnavailableError, match="sees 2"):
            device_put(np.ones(1), "cuda:5")


# --------------------------------------------------------------------------- #
# GPU detection and the errors that say why
# --------------------------------------------------------------------------- #
def test_no_cupy_says_how_to_install_it(no_cupy):
    from funcgrad.device import cuda
    assert not cuda_is_available() and cuda_device_count() == 0 and not cuda.is_available()
    s = gpu_status()
    assert "CuPy is not installed" in s.reason and 'pip install "funcgrad[gpu]"' in s.fix
    with pytest.raises(DeviceUnavailableError, match=r'not installed.*\n.*funcgrad\[gpu\]'):
        device_put(np.ones(2), "cuda")
    with pytest.raises(DeviceUnavailableError, match="not installed"):
        fnp.zeros(2, device="cuda")
    with pytest.raises(DeviceUnavailableError, match="not installed"):
        with device_scope("cuda"):
            fnp.ones(2)


def test_accelerator_namespace_follows_cuda(no_cupy):
    import funcgrad as torch
    assert not torch.accelerator.is_available() and torch.accelerator.device_count() == 0
    assert torch.accelerator.current_accelerator() is None
    torch.accelerator.synchronize()  # no accelerator: nothing to wait for
    device = torch.accelerator.current_accelerator().type \
        if torch.accelerator.is_available() else "cpu"
    assert device == "cpu"


def test_accelerator_on_the_cuda_double(cp):
    import funcgrad as torch
    assert torch.accelerator.is_available()
    assert torch.accelerator.current_accelerator() == torch.device("cuda")
    assert torch.accelerator.current_accelerator().type == "cuda"
    assert torch.accelerator.current_device_index() == 0
    torch.accelerator.synchronize()


def test_funcgrad_device_cpu_turns_the_gpu_off(cp, monkeypatch):
    assert cuda_is_available()
    monkeypatch.setenv("FUNCGRAD_DEVICE", "cpu")
    assert not cuda_is_available()
    with pytest.raises(DeviceUnavailableError, match="FUNCGRAD_DEVICE=cpu"):
        device_put(np.ones(2), "cuda")


@pytest.mark.parametrize("knob,value,reason,fix", [
    ("runtime_error", "cudaErrorInsufficientDriver: CUDA driver version is insufficient for "
     "CUDA runtime version", "no usable CUDA driver", "NVIDIA driver"),
    ("runtime_error", "cudaErrorNoDevice: no CUDA-capable device is detected",
     "no usable CUDA driver or device", "CUDA_VISIBLE_DEVICES"),
    ("device_count", 0, "sees no CUDA device", "nvidia-smi"),
    ("compile_error", "CuPy failed to load libnvrtc.so.12: OSError: libnvrtc.so.12: cannot "
     "open shared object file", "NVRTC", "cupy-cuda12x[ctk]"),
    ("compile_error", "CUDA_ERROR_ILLEGAL_ADDRESS", "test kernel failed", "cupy.show_config"),
])
def test_unusable_gpu_reasons(cp, knob, value, reason, fix):
    setattr(cp.STATE, knob, value)
    detect.reset()
    s = gpu_status()
    assert not s.ok and reason in s.reason and fix in s.fix, s
    assert not cuda_is_available()
    with pytest.raises(DeviceUnavailableError) as e:
        device_put(np.ones(2), "cuda")
    assert reason in str(e.value) and fix in str(e.value)


def test_detection_is_cached_and_can_be_refreshed(cp):
    from funcgrad.device import cuda
    assert cuda.is_available() and cuda.device_count() == 1 and cuda.current_device() == 0
    first = gpu_status()
    assert first.ok and first.device_count == 1 and "CUDA usable" in str(first)
    cp.STATE.device_count = 0
    assert gpu_status() is first                     # cached: no second probe
    assert not gpu_status(refresh=True).ok


def test_float64_on_a_device_without_it_is_an_error_never_a_downcast(cp, monkeypatch):
    monkeypatch.setattr(cupy_backend, "_supports_float64", lambda index: False)
    with pytest.raises(UnsupportedDtypeError, match="float64.*never downcasts"):
        device_put(np.ones(2), "cuda")
    y = device_put(np.ones(2, dtype=np.float32), "cuda")
    assert y.dtype == np.float32


def test_backend_records():
    b = backends.get_backend("numpy")
    assert b.name == "numpy" and b.xp is np and b.device_type == "cpu"
    assert b.einsum_backend == "numpy" and backends.get_backend("cpu") is b
    out = b.scatter(np.zeros(3), (np.array([0, 0, 2]),), 1.0, "add")
    np.testing.assert_array_equal(out, [2.0, 0.0, 1.0])
    assert isinstance(b.rng(0), np.random.Generator)
    with pytest.raises(ValueError, match="unknown array backend"):
        backends.get_backend("tpu")


def test_cupy_backend_record(cp):
    b = backends.get_backend("cupy")
    assert b.name == "cupy" and b.xp is cp and b.device_type == "cuda"
    assert b.einsum_backend == "cupy" and cp.ndarray in b.array_types
    r = b.rng(0).standard_normal((2, 2))
    assert type(r) is cp.ndarray                      # drawn on the device
    assert b.device_count() == 1 and b.current_index() == 0
    assert backends.to_numpy(cp.asarray(np.ones(2))).__class__ is np.ndarray


def test_missing_cupy_backend_load_error(no_cupy):
    backends._unload_foreign_for_tests()
    with pytest.raises(DeviceUnavailableError, match="funcgrad\\[gpu\\]"):
        backends.get_backend("cupy")
