"""funcgrad.jit: results equal eager, caching and retracing, composition, errors, buffers."""
from __future__ import annotations

import logging
import os
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import ConcretizationError, LeakedTracerError
from funcgrad.jit import generate, jit
from funcgrad.testing import strategies as fst
from funcgrad.tree_util import tree_flatten


def assert_trees_close(got, want, rtol=1e-10, atol=1e-12):
    g, gt = tree_flatten(got)
    w, wt = tree_flatten(want)
    assert gt == wt, (gt, wt)
    for a, b in zip(g, w):
        assert np.shape(a) == np.shape(b)
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def check_eager_and_grad(f, *args, argnums=0):
    """jit(f) == f, and jit(grad(f)) == grad(f) == grad(jit(f))."""
    assert_trees_close(jit(f)(*args), f(*args))
    vg = fg.value_and_grad(f, argnums)
    want = vg(*args)
    assert_trees_close(jit(vg)(*args), want)
    assert_trees_close(fg.value_and_grad(jit(f), argnums)(*args), want)


# --------------------------------------------------------------------------- #
# jit equals eager, over drawn shapes
# --------------------------------------------------------------------------- #
def mlp_loss(params, x, y):
    h = fnp.tanh(x @ params["w1"] + params["b1"])
    pred = (h @ params["w2"])[:, 0] + params["b2"]
    return fnp.mean((pred - y) ** 2)


@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2 ** 16))
def test_mlp_loss_and_gradient(n, d, h, seed):
    rng = np.random.default_rng(seed)
    params = {"w1": rng.standard_normal((d, h)), "b1": rng.standard_normal(h),
              "w2": rng.standard_normal((h, 1)), "b2": rng.standard_normal(())}
    x, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    check_eager_and_grad(mlp_loss, params, x, y)


def tanh_chain(x):
    for k in range(6):
        x = fnp.tanh(x) * 1.5 + 0.1 * k
    return fnp.sum(x * x)


@given(fst.arrays(shape=fst.shapes(max_dims=3)))
def test_tanh_chain(x):
    check_eager_and_grad(tanh_chain, x)


@given(fst.arrays(shape=fst.shapes(max_dims=3)))
def test_tanh_chain_float32(x):
    x = x.astype(np.float32)
    assert_trees_close(jit(fg.value_and_grad(tanh_chain))(x), fg.value_and_grad(tanh_chain)(x),
                       rtol=1e-6, atol=1e-6)


def softmax_loss(x, w):
    z = x - fnp.max(x, axis=-1, keepdims=True)
    e = fnp.exp(z)
    return fnp.sum(e / fnp.sum(e, axis=-1, keepdims=True) * w)


@given(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=3)), st.integers(0, 2 ** 16))
def test_softmax(x, seed):
    w = np.random.default_rng(seed).standard_normal(x.shape)
    check_eager_and_grad(softmax_loss, x, w)


@given(fst.arrays(shape=fst.shapes(min_dims=2, max_dims=3, min_side=2)))
def test_indexing(x):
    idx = np.array([1, 0, 1])

    def f(x):
        return fnp.sum(x[1:] ** 2) + fnp.sum(x[:, 0] * 3.0) + fnp.sum(fnp.sin(x[idx])) + \
            fnp.sum(x[::-1, ..., -1])
    check_eager_and_grad(f, x)


@given(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=3)), st.integers(0, 2))
def test_concatenation(x, axis):
    axis = axis % x.ndim

    def f(x):
        c = fnp.concatenate([x, fnp.sin(x), x * 2.0], axis=axis)
        return fnp.sum(c * fnp.cos(c))
    check_eager_and_grad(f, x)


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2 ** 16))
def test_matmul(m, k, n, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    check_eager_and_grad(lambda a, b: fnp.sum(fnp.tanh(a @ b) @ b.T), a, b, argnums=(0, 1))


def test_pytree_outputs_and_kwargs():
    f = jit(lambda x, *, scale: {"a": x * scale, "b": (x, [x.sum()])})
    out = f(np.ones(2), scale=np.float64(3.0))
    np.testing.assert_allclose(out["a"], [3.0, 3.0])
    assert out["b"][0].shape == (2,) and float(out["b"][1][0]) == 2.0


# --------------------------------------------------------------------------- #
# The compiled replay
# --------------------------------------------------------------------------- #
def test_lower_returns_the_optimised_program():
    f = jit(fg.grad(lambda x: fnp.sum(fnp.sin(x) * 2.0)))
    prog = f.lower(np.ones(3))
    assert f.program(np.ones(3)) is prog
    assert prog.primitive_counts() == {"cos": 1, "multiply": 1}
    assert "cos" in str(prog)


def test_fast_path_calls_no_tracing_machinery():
    f = jit(fg.value_and_grad(tanh_chain))
    x = np.linspace(-1, 1, 5)
    f(x)  # trace and compile
    pkg = os.path.dirname(fg.__file__)
    seen = set()

    def profiler(frame, event, arg):
        if event == "call":
            seen.add(os.path.relpath(frame.f_code.co_filename, pkg))
    sys.setprofile(profiler)
    try:
        f(x)
    finally:
        sys.setprofile(None)
    assert not {"core.py", "ad.py", "ir.py", "batching.py"} & seen, seen
    assert "bind" not in f.source(x)


def test_retraces_once_per_signature():
    calls = []

    def f(x):
        calls.append(1)
        return x * 2.0

    g = jit(f)
    for x in [np.ones(3), np.ones(4), np.ones(3, np.float32), np.ones(3) + 1, np.ones(4)]:
        g(x)
    assert len(calls) == 3 and g.cache_info()["traces"] == 3
    assert g.cache_info()["hits"] == 2 and g.cache_info()["size"] == 3


def test_python_scalars_are_static_numpy_scalars_are_traced():
    g = jit(lambda x, s: x * s)
    np.testing.assert_allclose(g(np.ones(2), 2.0), [2.0, 2.0])
    np.testing.assert_allclose(g(np.ones(2), 3.0), [3.0, 3.0])
    assert g.cache_info()["traces"] == 2
    h = jit(lambda x, s: x * s)
    h(np.ones(2, np.float32), np.float32(2.0))
    out = h(np.ones(2, np.float32), np.float32(3.0))
    assert h.cache_info()["traces"] == 1 and out.dtype == np.float32
    np.testing.assert_allclose(out, [3.0, 3.0])


def test_log_retraces_names_the_changed_argument(caplog):
    g = jit(lambda x, n, params: x * n + params["b"], static_argnums=1)
    x, p = np.ones(3), {"b": np.ones(3)}
    with fg.config.override(log_retraces=True), caplog.at_level(logging.WARNING,
                                                                logger="funcgrad.jit"):
        g(x, 2, p)
        assert not caplog.records  # the first trace is not a retrace
        g(np.ones(4), 2, {"b": np.ones(4)})
        g(np.ones(4), 3, {"b": np.ones(4)})
        g(np.ones(4), 3, {"b": np.ones(4, np.float32)})
        g(np.ones(4), 3, {"b": np.ones(4), "c": 1.0})
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 4
    assert "argument 0 ('x')" in msgs[0] and "shape (3,) -> (4,)" in msgs[0]
    assert "argument 1 ('n')" in msgs[1] and "from 2 to 3" in msgs[1]
    assert "argument 2 ('params') leaf 0" in msgs[2] and "float64 -> float32" in msgs[2]
    assert "argument 2 ('params') changed structure" in msgs[3]


def test_buffer_reuse_never_overwrites_user_inputs():
    def f(x, y):
        a = fnp.sin(x) * 2.0 + x     # x and y are tempting out= targets
        return fnp.exp(a) - y * y
    x, y = np.linspace(-1, 1, 6), np.linspace(0, 2, 6)
    x0, y0 = x.copy(), y.copy()
    g = jit(f)
    first = g(x, y)
    second = g(x, y)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, f(x0, y0))
    assert "out=a0" not in g.source(x, y) and "out=a1" not in g.source(x, y)


def test_buffer_reuse_respects_views():
    def f(x):
        y = fnp.sin(x)                 # a fresh buffer
        t = fnp.transpose(y)           # a view of it, used last
        r = y.reshape(-1)[::-1]        # more views
        z = fnp.exp(y)                 # y's last direct use: must not write into y
        return z + t + r.reshape(x.shape)
    x = np.arange(9.0).reshape(3, 3) / 9
    np.testing.assert_allclose(jit(f)(x), f(x))


def test_intermediate_buffers_are_reused_and_freed():
    src = jit(fg.value_and_grad(tanh_chain)).source(np.ones(4))
    assert "out=v" in src and "del v" in src


def test_donated_inputs_may_be_reused():
    f = lambda x, y: fnp.sin(x) * 2.0 + y  # noqa: E731
    prog = jit(f).lower(np.ones(3), np.ones(3))
    assert "out=a0" in generate(prog, np, donated={0})[1]
    x, y = np.linspace(0, 1, 3), np.ones(3)
    want = f(x.copy(), y)
    got = jit(f, donate_argnums=0)(x, y)
    np.testing.assert_allclose(got, want)
    np.testing.assert_array_equal(y, np.ones(3))   # not donated: untouched
    # the same array passed twice is never taken over
    z = np.linspace(0, 1, 3)
    np.testing.assert_allclose(jit(f, donate_argnums=0)(z, z), np.sin(np.linspace(0, 1, 3)) * 2
                               + np.linspace(0, 1, 3))


def test_returned_constants_are_fresh_copies():
    g = jit(lambda x: (x * 2.0, np.zeros(2)))
    _, z = g(np.ones(2))
    z += 1
    np.testing.assert_array_equal(g(np.ones(2))[1], [0.0, 0.0])


def test_runtime_error_names_the_equation_and_source_line():
    g = jit(lambda x, i: fnp.sin(x)[i])
    with pytest.raises(IndexError) as info:
        g(np.ones(3), np.array([5]))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "gather" in notes and "test_jit.py" in notes


def test_decorator_forms_and_shared_cache():
    @jit(static_argnums=1)
    def f(x, n):
        return x * n

    np.testing.assert_allclose(f(np.ones(2), 3), [3.0, 3.0])

    def g(x):
        return fnp.sin(x)

    jit(g)(np.ones(2))
    again = jit(g)          # e.g. jit(g)(x) written inside a loop
    again(np.ones(2))
    assert again.cache_info() == {"traces": 0, "hits": 1, "size": 1}


def test_method_decorator():
    class Model:
        @jit
        def __call__(self, x):
            return x * 2.0
    m = Model()
    np.testing.assert_allclose(m(np.ones(2)), [2.0, 2.0])


# --------------------------------------------------------------------------- #
# Composition with the other transforms
# --------------------------------------------------------------------------- #
def _h(x):
    return fnp.sin(x) * fnp.cos(x) + x ** 3


X = np.linspace(-1, 1, 4)
V = np.linspace(1, 2, 4)


def test_grad_of_jit_and_jit_of_grad():
    f = lambda x: fnp.sum(_h(x))  # noqa: E731
    want = fg.grad(f)(X)
    np.testing.assert_allclose(fg.grad(jit(f))(X), want)
    np.testing.assert_allclose(jit(fg.grad(f))(X), want)
    np.testing.assert_allclose(fg.grad(fg.grad(lambda x: jit(f)(x * 1.0)))(np.float64(0.3)),
                               fg.grad(fg.grad(f))(np.float64(0.3)))


def test_vmap_of_jit_and_jit_of_vmap():
    xs = np.stack([X, 2 * X, -X])
    want = fg.vmap(_h)(xs)
    np.testing.assert_allclose(fg.vmap(jit(_h))(xs), want)
    np.testing.assert_allclose(jit(fg.vmap(_h))(xs), want)


def test_jvp_of_jit_and_jit_of_jvp():
    want = fg.jvp(_h, (X,), (V,))
    assert_trees_close(fg.jvp(jit(_h), (X,), (V,)), want)
    assert_trees_close(jit(lambda x, v: fg.jvp(_h, (x,), (v,)))(X, V), want)


def test_nested_jit():
    inner = jit(_h)
    outer = jit(lambda x: inner(x) * 2.0)
    np.testing.assert_allclose(outer(X), _h(X) * 2.0)
    np.testing.assert_allclose(jit(jit(_h))(X), _h(X))
    assert outer.lower(X).primitive_counts()["sin"] == 1  # inlined


def test_jit_closing_over_an_outer_tracer():
    y0 = np.array([1.0, 2.0, 3.0, 4.0])
    g = fg.grad(lambda y: jit(lambda x: fnp.sum(x * y))(X))(y0)
    np.testing.assert_allclose(g, X)


def test_custom_vjp_rule_survives_jit():
    @fg.custom_vjp
    def clip_grad(x):
        return x

    clip_grad.defvjp(lambda x: (x, None), lambda r, ct: (fnp.clip(ct, -0.5, 0.5),))
    f = lambda x: fnp.sum(clip_grad(x) * 3.0)  # noqa: E731
    for g in (fg.grad(jit(f)), jit(fg.grad(f))):
        np.testing.assert_allclose(g(X), [0.5] * 4)
    np.testing.assert_allclose(jit(f)(X), f(X))


def test_checkpoint_under_jit():
    block = fg.checkpoint(lambda x: fnp.tanh(fnp.tanh(x)))
    f = lambda x: fnp.sum(block(x) * 2.0)  # noqa: E731
    want = fg.grad(f)(X)
    np.testing.assert_allclose(jit(fg.grad(f))(X), want)
    np.testing.assert_allclose(fg.grad(jit(f))(X), want)


def test_jit_over_a_module_through_functional_call():
    nn = pytest.importorskip("funcgrad.nn", reason="the Module front is not built yet")
    lin = nn.Linear(3, 2)
    params = {k: p.data for k, p in lin.named_parameters()}

    def loss(params, x):  # x arrives raw (traced), the weights as Tensors
        return (fnp.tanh(nn.functional_call(lin, params, (x,))) ** 2).sum()

    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    (v1, g1), (v2, g2) = fg.value_and_grad(loss)(params, x), \
        jit(fg.value_and_grad(loss))(params, x)
    np.testing.assert_allclose(np.asarray(v2.data if hasattr(v2, "data") else v2),
                               np.asarray(v1.data if hasattr(v1, "data") else v1), rtol=1e-6)
    for k in params:
        np.testing.assert_allclose(g2[k], g1[k], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
def _branchy(x):
    if x.sum() > 0:
        return x * 2.0
    return -x


@pytest.mark.parametrize("conv", [bool, float, int])
def test_concretization_under_jit_is_clear(conv):
    with pytest.raises(ConcretizationError) as info:
        jit(lambda x: conv(x.sum()) * x)(np.ones(3))
    msg = str(info.value)
    assert "jit" in msg and "abstract" in msg and "static_argnums" in msg
    assert "fnp.where" in msg and "test_jit.py" in msg


def test_if_on_traced_value_fails_under_jit_but_works_under_grad():
    with pytest.raises(ConcretizationError, match="static_argnums"):
        jit(_branchy)(np.ones(3))
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(_branchy(x)))(np.ones(3)), [2.0] * 3)
    # the fix the message suggests works
    fixed = jit(lambda x, pos: x * 2.0 if pos else -x, static_argnums=1)
    np.testing.assert_allclose(fixed(np.ones(3), True), [2.0] * 3)


def test_unhashable_static_argument():
    g = jit(lambda x, shape: x.reshape(shape), static_argnums=1)
    np.testing.assert_allclose(g(np.ones(4), (2, 2)), np.ones((2, 2)))
    with pytest.raises(TypeError, match="unhashable type list.*tuple instead of a list"):
        g(np.ones(4), [2, 2])


def test_static_argnums_out_of_range():
    g = jit(lambda x: x, static_argnums=(3,))
    with pytest.raises(ValueError, match="static_argnums=.*out of range.*1 positional"):
        g(np.ones(2))
    with pytest.raises(TypeError, match="static_argnums"):
        jit(lambda x: x, static_argnums="0")


def test_static_and_donated_argument_conflict():
    with pytest.raises(ValueError, match="both static and donated"):
        jit(lambda x, n: x * n, static_argnums=1, donate_argnums=1)(np.ones(2), 2)


def test_unhashable_non_array_leaf():
    with pytest.raises(TypeError, match="neither an array nor hashable"):
        jit(lambda x, d: x)(np.ones(2), [{1, 2}])


def test_leaked_tracer_is_caught():
    leaked = []

    def f(x):
        y = fnp.sin(x)
        leaked.append(y)
        return y * 2.0
    jit(f)(np.ones(3))
    with pytest.raises(LeakedTracerError, match="jit"):
        fnp.cos(leaked[0])
