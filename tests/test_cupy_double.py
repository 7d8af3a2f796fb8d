"""funcgrad's CuPy backend, run through a NumPy-backed CuPy TEST DOUBLE (no GPU here).

By default nothing in this file runs on a GPU (FUNCGRAD_GPU_TESTS=1, set by
scripts/gpu_check.sh, runs the same checks on the real CuPy and a GPU).  The
double (tests/cupy_double) is a fake ``cupy`` whose arrays are a distinct
class, that serves only the CuPy API funcgrad is allowed to use and refuses
host arrays where CuPy does.  Through it, every spec of the primitive table is
run on "device" arrays -- forward, VJP, JVP and vmap -- and must give the
NumPy backend's values, on the device.
"""
from __future__ import annotations

import os
import pathlib
import re

import numpy as np
import pytest
from hypothesis import given, settings

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.backends.cupy_backend import scatter_ordered
from funcgrad import backends
from funcgrad.device import device, device_of, device_scope, to_device
from tests.cupy_double import api as cupy_api
from tests.cupy_double import installed
from tests.specs import all_specs

# device_put moves values between devices by design: its own tests cover it.
SPECS = [s for s in all_specs() if s.prim.name != "device_put"]
IDS = [s.id for s in SPECS]
DIFF = [s for s in SPECS if not s.prim.nondiff]
FWD = [s for s in DIFF if s.fwd]
VMAP = [s for s in SPECS if s.vmap]
FEW = settings(max_examples=3)


# FUNCGRAD_GPU_TESTS=1 (set by scripts/gpu_check.sh) runs this file on the real
# CuPy and a real GPU instead of the double, with tolerances for GPU arithmetic.
REAL_GPU = os.environ.get("FUNCGRAD_GPU_TESTS") == "1"
RTOL, ATOL = (1e-9, 1e-10) if REAL_GPU else (1e-10, 1e-12)


@pytest.fixture(scope="module", params=["double", "cuda"])
def cp(request):
    """The CuPy namespace to test: the NumPy-backed double (always), and the real
    CuPy on a GPU when one is usable (skipped with the reason otherwise)."""
    if request.param == "cuda" or REAL_GPU:
        from funcgrad.device import gpu_status
        status = gpu_status()
        if not status.ok:
            if REAL_GPU:
                pytest.fail(f"FUNCGRAD_GPU_TESTS=1 but no usable GPU: {status}")
            pytest.skip(f"real CuPy backend: no usable GPU here ({status})")
        import cupy
        yield cupy
        backends._unload_foreign_for_tests()  # leave the CPU path as later files expect
        return
    with installed() as cupy:
        yield cupy


@pytest.fixture
def double_only():
    if REAL_GPU:
        pytest.skip("checks the test double itself, not funcgrad")


def _dev(cp, a):
    return cp.asarray(a) if isinstance(a, np.ndarray) else a


def _has_array(args):
    return any(isinstance(a, np.ndarray) for a in args)


def _same(cp, got, want, what):
    """``got`` is on the device and equals the NumPy backend's ``want``."""
    gots = list(got) if isinstance(got, (list, tuple)) else [got]
    wants = list(want) if isinstance(want, (list, tuple)) else [want]
    assert len(gots) == len(wants), what
    for g, w in zip(gots, wants):
        if w is None:
            assert g is None, what
            continue
        assert type(g) is cp.ndarray, f"{what}: result left the device ({type(g).__name__})"
        np.testing.assert_allclose(g.get(), np.asarray(w), rtol=RTOL, atol=ATOL,
                                   equal_nan=True, err_msg=what)


def _argnums(spec, args):
    if spec.diff is not None:
        return tuple(spec.diff)
    return tuple(i for i, a in enumerate(args)
                 if isinstance(a, np.ndarray) and a.dtype.kind == "f")


def _closed(spec, args, params, argnums):
    def f(*d):
        full = list(args)
        for i, v in zip(argnums, d):
            full[i] = v
        return spec.prim.bind(*full, **params)
    return f


def _like(rng, out):
    if isinstance(out, (list, tuple)):
        return [_like(rng, o) for o in out]
    return rng.standard_normal(np.shape(out)).astype(out.dtype)


def _to(cp, tree):
    return [_to(cp, t) for t in tree] if isinstance(tree, list) else cp.asarray(tree)


def _run(spec, body):
    """Run ``body(args, params)`` on a few cases; fail if none had an array input."""
    seen = []

    @FEW
    @given(spec.cases)
    def check(case):
        args, params = case
        if _has_array(args):
            seen.append(True)
            body(args, params)
    check()
    assert seen, f"{spec.id}: no drawn case had an array argument"


# --------------------------------------------------------------------------- #
# The spec table on the double
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_forward_matches_numpy_backend(cp, spec):
    def body(args, params):
        want = spec.prim.bind(*args, **params)
        got = spec.prim.bind(*[_dev(cp, a) for a in args], **params)
        _same(cp, got, want, f"{spec.id} forward")
    _run(spec, body)


@pytest.mark.parametrize("spec", DIFF, ids=[s.id for s in DIFF])
def test_vjp_matches_numpy_backend(cp, spec):
    def body(args, params):
        nums = _argnums(spec, args)
        if not nums:
            return
        out, pb = fg.vjp(_closed(spec, args, params, nums), *[args[i] for i in nums])
        ct = _like(np.random.default_rng(0), out)
        want = pb(ct)
        dargs = [_dev(cp, a) for a in args]
        dout, dpb = fg.vjp(_closed(spec, dargs, params, nums), *[dargs[i] for i in nums])
        _same(cp, dout, out, f"{spec.id} vjp primal out")
        _same(cp, dpb(_to(cp, ct)), want, f"{spec.id} vjp")
    _run(spec, body)


@pytest.mark.parametrize("spec", FWD, ids=[s.id for s in FWD])
def test_jvp_matches_numpy_backend(cp, spec):
    def body(args, params):
        nums = _argnums(spec, args)
        if not nums:
            return
        rng = np.random.default_rng(1)
        tangents = tuple(rng.standard_normal(np.shape(args[i])).astype(args[i].dtype)
                         for i in nums)
        want = fg.jvp(_closed(spec, args, params, nums), tuple(args[i] for i in nums),
                      tangents)[1]
        dargs = [_dev(cp, a) for a in args]
        got = fg.jvp(_closed(spec, dargs, params, nums), tuple(dargs[i] for i in nums),
                     tuple(cp.asarray(t) for t in tangents))[1]
        _same(cp, got, want, f"{spec.id} jvp")
    _run(spec, body)


@pytest.mark.parametrize("spec", VMAP, ids=[s.id for s in VMAP])
def test_vmap_matches_numpy_backend(cp, spec):
    def body(args, params):
        pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
        stacked = [np.stack([a, a[::-1] if a.ndim else a]) if i in pos else a
                   for i, a in enumerate(args)]
        in_axes = tuple(0 if i in pos else None for i in range(len(args)))
        f = fg.vmap(lambda *a: spec.prim.bind(*a, **params), in_axes=in_axes)
        want = f(*stacked)
        got = f(*[_dev(cp, a) for a in stacked])
        _same(cp, got, want, f"{spec.id} vmap")
    _run(spec, body)


# --------------------------------------------------------------------------- #
# Whole programs: grad, vmap, Jacobians on device arrays
# --------------------------------------------------------------------------- #
def _mlp_loss(params, x, labels):
    w1, b1, w2 = params
    h = fnp.tanh(x @ w1 + b1)
    logits = h @ w2
    logp = logits - fnp.log(fnp.sum(fnp.exp(logits), axis=-1, keepdims=True))
    return -fnp.mean(fnp.take_along_axis(logp, labels[:, None], axis=1))


def _mlp_data():
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((4, 5)), rng.standard_normal(5), rng.standard_normal((5, 3))]
    return params, rng.standard_normal((6, 4)), rng.integers(0, 3, 6)


def test_grad_of_a_small_network_stays_on_device(cp):
    params, x, labels = _mlp_data()
    want = fg.grad(_mlp_loss)(params, x, labels)
    got = fg.grad(_mlp_loss)([cp.asarray(p) for p in params], cp.asarray(x),
                             cp.asarray(labels))
    _same(cp, got, want, "mlp grad")


def test_per_example_grads_and_hessian_on_device(cp):
    params, x, labels = _mlp_data()
    per_ex = fg.vmap(lambda xi, li: fg.grad(_mlp_loss)(params, xi[None], li[None]))
    dparams = [cp.asarray(p) for p in params]
    per_ex_dev = fg.vmap(lambda xi, li: fg.grad(_mlp_loss)(dparams, xi[None], li[None]))
    _same(cp, per_ex_dev(cp.asarray(x), cp.asarray(labels)), per_ex(x, labels), "vmap(grad)")

    def f(v):
        return fnp.sum(fnp.sin(v) * v ** 3)
    v = np.linspace(-1.0, 1.0, 4)
    _same(cp, fg.hessian(f)(cp.asarray(v)), fg.hessian(f)(v), "hessian")
    _same(cp, fg.jacfwd(fnp.tanh)(cp.asarray(v)), fg.jacfwd(fnp.tanh)(v), "jacfwd")


def test_gradient_flows_back_across_a_device_move(cp):
    w = np.linspace(0.5, 2.0, 4)
    x = cp.asarray(np.arange(4.0))

    def loss(w_host):
        w_dev = to_device(w_host, "cuda")    # host -> "device"
        y = fnp.sum(fnp.tanh(w_dev * x))
        return to_device(y, "cpu")           # back to the host
    g = fg.grad(loss)(w)
    assert type(g) is np.ndarray             # the cotangent came back to the CPU
    np.testing.assert_allclose(g, np.arange(4.0) / np.cosh(w * np.arange(4.0)) ** 2)
    # Forward mode and vmap through the move as well.
    t = fg.jvp(lambda w_: to_device(w_, "cuda") * 2.0, (w,), (np.ones(4),))[1]
    assert type(t) is cp.ndarray
    moved = fg.vmap(lambda r: to_device(r, "cuda"))(np.ones((3, 2)))
    assert type(moved) is cp.ndarray and moved.shape == (3, 2)


def test_factories_and_indexing_with_host_indices_on_device(cp):
    with device_scope("cuda"):
        z = fnp.zeros((2, 3))
        r = fnp.arange(6)
    assert type(z) is cp.ndarray and type(r) is cp.ndarray
    x = cp.asarray(np.arange(12.0).reshape(3, 4))
    # Python lists and NumPy index arrays are moved to the operand's device (as CuPy does).
    _same(cp, fnp.getitem(x, [0, 2]), np.arange(12.0).reshape(3, 4)[[0, 2]], "list index")
    _same(cp, fnp.at(x)[np.array([0, 0, 1])].add(1.0),
          fnp.at(np.arange(12.0).reshape(3, 4))[np.array([0, 0, 1])].add(1.0), "at[].add")


# --------------------------------------------------------------------------- #
# The CuPy scatter: repeated indices resolved as NumPy does, every mode and dtype
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("mode,ufunc", [("add", np.add), ("multiply", np.multiply),
                                        ("min", np.minimum), ("max", np.maximum),
                                        ("set", None)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int8, np.int64, np.bool_])
def test_cupy_scatter_matches_numpy_ufunc_at(cp, mode, ufunc, dtype):
    rng = np.random.default_rng(3)
    out = (rng.standard_normal((5, 3)) * 3).astype(dtype)
    idx = (rng.integers(0, 5, size=9), slice(None))        # repeats are certain
    upd = (rng.standard_normal((9, 3)) * 3).astype(dtype)
    want = out.copy()
    if ufunc is None:
        want[idx] = upd
    else:
        ufunc.at(want, idx, upd)
    backend = backends.get_backend("cupy")
    got = backend.scatter(cp.asarray(out), (cp.asarray(idx[0]), slice(None)),
                          cp.asarray(upd), mode)
    assert type(got) is cp.ndarray
    np.testing.assert_allclose(got.get().astype(np.float64), want.astype(np.float64),
                               rtol=1e-6)


def test_scatter_ordered_needs_a_contiguous_output(cp):
    with pytest.raises(ValueError, match="C-contiguous"):
        scatter_ordered(cp, cp.asarray(np.zeros((3, 4))).T, (cp.asarray([0, 0]),), 1.0, "set")


# --------------------------------------------------------------------------- #
# The double itself must be strict, or the tests above prove nothing
# --------------------------------------------------------------------------- #
def test_the_double_refuses_what_cupy_refuses(cp, double_only):
    x = cp.asarray(np.ones(3))
    with pytest.raises(TypeError, match="Unsupported type"):
        x + np.ones(3)                                   # a host operand
    with pytest.raises(TypeError, match="Unsupported type"):
        cp.concatenate([x, np.ones(3)])
    with pytest.raises(ValueError, match="CPU arrays"):
        x[...] = np.ones(3)
    with pytest.raises(AttributeError, match="api.py"):
        cp.lexsort                                       # not in the allow-list
    with pytest.raises(ValueError, match="kind"):
        cp.sort(x, kind="stable")                        # older CuPy: no kind
    with pytest.raises(NotImplementedError):
        np.multiply.at(x, [0], 2.0)                      # no multiply.at in CuPy
    assert type(cp.sum(x)) is cp.ndarray                 # 0-d device array, not a scalar
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(x)                                    # no silent host copy


def test_funcgrad_uses_only_the_allowed_cupy_api():
    """Static check: every ``xp.<name>`` in funcgrad is in the double's allow-list.

    (The double enforces it at run time on the paths the specs reach; this
    catches the paths they do not.)
    """
    allowed = cupy_api.CUPY_FUNCTIONS | cupy_api.CUPY_ATTRIBUTES | {"linalg", "lib", "random",
                                                                   "__name__"}
    bad = []
    root = pathlib.Path(fg.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        for m in re.finditer(r"\bxp\.linalg\.(\w+)", text):
            if m.group(1) not in cupy_api.CUPY_LINALG:
                bad.append(f"{path.name}: xp.linalg.{m.group(1)}")
        for m in re.finditer(r"\bxp\.(\w+)", text):
            if m.group(1) not in allowed:
                bad.append(f"{path.name}: xp.{m.group(1)}")
    assert not bad, ("CuPy API used but not in tests/cupy_double/api.py (check it exists in "
                     f"CuPy, then add it): {sorted(set(bad))}")


def test_device_of_and_results_device(cp):
    x = cp.asarray(np.ones(2))
    assert device_of(x) == device("cuda:0")
    assert device_of(fnp.exp(x)) == "cuda:0"


def test_random_draws_happen_on_the_device(cp):
    """normal/uniform/bernoulli under a CUDA default device draw with the device's
    generator: the results are device arrays (no host draw then copy)."""
    import funcgrad.random as fr
    with fg.device_scope("cuda"):
        k = fr.key(0)
        draws = [fr.normal(k, (3,), np.float32), fr.uniform(k, (2, 2)),
                 fr.bernoulli(k, 0.3, (4,))]
    for d in draws:
        assert type(d) is cp.ndarray, type(d)
    assert draws[0].dtype == np.float32
    again = None
    with fg.device_scope("cuda"):
        again = fr.normal(fr.key(0), (3,), np.float32)
    np.testing.assert_array_equal(cp.asnumpy(again), cp.asnumpy(draws[0]))
