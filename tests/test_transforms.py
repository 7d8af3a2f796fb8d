"""grad, value_and_grad, vjp, jvp, linearize, custom_vjp, checkpoint: behaviour and errors."""
from __future__ import annotations

import collections
import dataclasses

import numpy as np
import pytest
from hypothesis import given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.testing import check_grads, strategies as fst


def test_readme_example():
    g = fg.grad(lambda x: fnp.sum(fnp.tanh(x) ** 2))(fnp.ones(3))
    t = np.tanh(1.0)
    np.testing.assert_allclose(g, np.full(3, 2 * t * (1 - t ** 2)), rtol=1e-14)


def _mlp_loss(params, x, y):
    h = x
    for k in ("1", "2"):
        h = fnp.tanh(h @ params["W" + k] + params["b" + k])
    out = h @ params["W3"] + params["b3"]
    return fnp.mean((out - y) ** 2)


def _mlp_params(rng):
    sizes = [(4, 8), (8, 8), (8, 2)]
    return {**{f"W{i + 1}": rng.standard_normal(s) * 0.5 for i, s in enumerate(sizes)},
            **{f"b{i + 1}": rng.standard_normal(s[1]) * 0.1 for i, s in enumerate(sizes)}}


def test_mlp_over_dict_of_params_matches_finite_differences(rng):
    params = _mlp_params(rng)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    g = fg.grad(_mlp_loss)(params, x, y)
    assert set(g) == set(params) and all(g[k].shape == params[k].shape for k in g)
    check_grads(lambda p: _mlp_loss(p, x, y), (params,), order=2)


def test_argnums_tuple_and_has_aux(rng):
    def f(x, y, z):
        return fnp.sum(x * y + z), {"aux": x.shape}
    x, y, z = rng.standard_normal((3, 2, 2))
    (val, aux), (gx, gz) = fg.value_and_grad(f, argnums=(0, 2), has_aux=True)(x, y, z)
    np.testing.assert_allclose(val, np.sum(x * y + z))
    np.testing.assert_allclose(gx, y)
    np.testing.assert_allclose(gz, np.ones_like(z))
    assert aux == {"aux": (2, 2)}
    g, aux = fg.grad(f, argnums=1, has_aux=True)(x, y, z)
    np.testing.assert_allclose(g, x)


def test_negative_argnums(rng):
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    np.testing.assert_allclose(fg.grad(lambda a, b: fnp.sum(a * b), argnums=-1)(x, y), x)


def test_fourth_derivative_of_sin():
    f = fnp.sin
    for _ in range(4):
        f = fg.grad(f)
    for x in (0.0, 0.3, 1.7):
        np.testing.assert_allclose(f(x), np.sin(x), rtol=1e-12, atol=1e-14)


def test_python_control_flow_on_concrete_values_works_under_grad_and_jvp():
    def f(x):
        if fnp.sum(x) > 0:  # concrete under grad/jvp, as in autograd and PyTorch
            return fnp.sum(x ** 2)
        return fnp.sum(-x)
    np.testing.assert_allclose(fg.grad(f)(np.ones(2)), [2.0, 2.0])
    np.testing.assert_allclose(fg.grad(f)(-np.ones(2)), [-1.0, -1.0])
    _, t = fg.jvp(f, (np.ones(2),), (np.ones(2),))
    np.testing.assert_allclose(t, 4.0)
    n = 0
    for _ in range(int(fnp.sum(np.ones(3)))):
        n += 1
    assert n == 3


def test_python_control_flow_under_vmap_raises_with_the_fix():
    def f(x):
        return x if x > 0 else -x
    with pytest.raises(fg.ConcretizationError, match="fnp.where"):
        fg.vmap(f)(np.array([1.0, -1.0]))


def test_closure_over_outer_tracer_no_perturbation_confusion():
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1 (a confused engine gives 2)
    def f(x):
        return x * fg.grad(lambda y: x + y)(1.0)
    np.testing.assert_allclose(fg.grad(f)(3.0), 1.0)

    def g(x):  # nested grad with the inner function closing over x
        return fg.grad(lambda y: x * y ** 2)(x)  # = 2 x^2
    np.testing.assert_allclose(fg.grad(g)(1.5), 6.0)


def test_vjp_pullback_is_reusable(rng):
    x = rng.standard_normal(3)
    out, pb = fg.vjp(lambda v: fnp.sin(v) * 2, x)
    a = pb(np.ones(3))[0]
    b = pb(np.ones(3))[0]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, 2 * np.cos(x))


def test_vjp_with_pytree_output(rng):
    x = rng.standard_normal(3)
    out, pb = fg.vjp(lambda v: {"s": fnp.sum(v), "sq": v ** 2}, x)
    (g,) = pb({"s": np.asarray(1.0), "sq": np.ones(3)})
    np.testing.assert_allclose(g, 1 + 2 * x)


def test_unused_input_gets_zero_gradient():
    g = fg.grad(lambda x, y: fnp.sum(x), argnums=(0, 1))(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(g[1], np.zeros(3))


def test_constant_output_gives_zero_gradient():
    np.testing.assert_array_equal(fg.grad(lambda x: fnp.sum(np.ones(2)))(np.ones(2)),
                                  np.zeros(2))


Point = collections.namedtuple("Point", "x y")


@dataclasses.dataclass
class Pair:
    a: np.ndarray
    b: np.ndarray


def test_pytree_arguments(rng):
    p = Point(rng.standard_normal(2), rng.standard_normal(2))
    g = fg.grad(lambda p: fnp.sum(p.x * p.y))(p)
    assert isinstance(g, Point)
    np.testing.assert_allclose(g.x, p.y)
    d = fg.grad(lambda d: fnp.sum(d.a ** 2) + fnp.sum(d.b))(Pair(np.ones(2), np.ones(3)))
    assert isinstance(d, Pair)
    np.testing.assert_allclose(d.a, 2 * np.ones(2))
    t = fg.grad(lambda t: fnp.sum(t[0][0] * t[1]["k"]))(([np.ones(2)], {"k": 3 * np.ones(2)}))
    np.testing.assert_allclose(t[0][0], 3 * np.ones(2))
    np.testing.assert_allclose(t[1]["k"], np.ones(2))


@given(fst.arrays(shape=fst.shapes(max_dims=2), low=-2, high=2))
def test_jvp_of_grad_is_a_hessian_vector_product(x):
    f = lambda v: fnp.sum(fnp.tanh(v) ** 3)  # noqa: E731
    v = np.ones_like(x)
    _, hv = fg.jvp(fg.grad(f), (x,), (v,))
    h = fg.hessian(f)(x).reshape(x.size, x.size)
    np.testing.assert_allclose(hv.reshape(-1), h @ v.reshape(-1), rtol=1e-10, atol=1e-12)


def test_linearize_matches_jvp(rng):
    x = rng.standard_normal(3)
    y, f_jvp = fg.linearize(lambda v: fnp.sin(v) * v, x)
    v = rng.standard_normal(3)
    np.testing.assert_allclose(f_jvp(v), fg.jvp(lambda v_: fnp.sin(v_) * v_, (x,), (v,))[1])
    np.testing.assert_allclose(y, np.sin(x) * x)


def test_stop_gradient():
    g = fg.grad(lambda x: fnp.sum(x * fg.stop_gradient(x)))(np.array([3.0, 4.0]))
    np.testing.assert_allclose(g, [3.0, 4.0])


# --------------------------------------------------------------------------- #
# custom_vjp and checkpoint
# --------------------------------------------------------------------------- #
@fg.custom_vjp
def log1pexp(x):
    return fnp.log1p(fnp.exp(x))


log1pexp.defvjp(lambda x: (log1pexp(x), x), lambda x, ct: (ct * fnp.sigmoid(x),))


def test_custom_vjp_is_used_and_stable():
    x = np.array([-50.0, 0.0, 50.0, 800.0])
    g = fg.grad(lambda v: fnp.sum(log1pexp(v)))(x)
    np.testing.assert_allclose(g, 1 / (1 + np.exp(-np.clip(x, -700, 700))))
    assert np.all(np.isfinite(g))


def test_custom_vjp_second_order():
    g2 = fg.grad(fg.grad(lambda v: log1pexp(v)))(0.3)
    s = 1 / (1 + np.exp(-0.3))
    np.testing.assert_allclose(g2, s * (1 - s))


def test_custom_vjp_nondiff_argnums():
    def f(scale, x):
        return scale * fnp.sin(x)
    cf = fg.custom_vjp(f, nondiff_argnums=(0,))
    cf.defvjp(lambda scale, x: (f(scale, x), x), lambda scale, x, ct: (ct * scale * fnp.cos(x),))
    np.testing.assert_allclose(fg.grad(lambda x: cf(3.0, x))(0.2), 3 * np.cos(0.2))


def test_custom_vjp_under_vmap_keeps_the_rule():
    calls = []

    @fg.custom_vjp
    def f(x):
        return fnp.sin(x)

    def bwd(x, ct):
        calls.append(1)
        return (ct * fnp.cos(x),)
    f.defvjp(lambda x: (f(x), x), bwd)
    xs = np.linspace(0, 1, 4)
    g = fg.grad(lambda v: fnp.sum(fg.vmap(f)(v)))(xs)
    np.testing.assert_allclose(g, np.cos(xs))
    assert calls, "the custom rule was bypassed under vmap"
    per_example = fg.vmap(fg.grad(f))(xs)
    np.testing.assert_allclose(per_example, np.cos(xs))


def test_custom_vjp_under_jvp_needs_a_forward_rule():
    @fg.custom_vjp
    def f(x):
        return fnp.sin(x)
    f.defvjp(lambda x: (f(x), x), lambda x, ct: (ct * fnp.cos(x),))
    with pytest.raises(fg.MissingRuleError, match="defjvp"):
        fg.jvp(f, (0.5,), (1.0,))
    f.defjvp(lambda p, t: (fnp.sin(p[0]), fnp.cos(p[0]) * t[0]))
    np.testing.assert_allclose(fg.jvp(f, (np.asarray(0.5),), (np.asarray(1.0),))[1], np.cos(0.5))


def test_checkpoint_gradients_match_and_recompute():
    runs = []

    def block(x):
        runs.append(1)
        return fnp.tanh(fnp.sin(x) * 2.0)
    ck = fg.checkpoint(block)
    x = np.linspace(-1, 1, 5)
    g_plain = fg.grad(lambda v: fnp.sum(block(v)))(x)
    runs.clear()
    g_ck = fg.grad(lambda v: fnp.sum(ck(v)))(x)
    np.testing.assert_allclose(g_ck, g_plain, rtol=1e-14)
    assert len(runs) == 2, "checkpoint must run the block again in the backward pass"
    np.testing.assert_allclose(fg.vmap(fg.grad(lambda v: ck(v)))(x), g_plain)
    check_grads(lambda v: fnp.sum(ck(v)), (x,), order=2)


def test_checkpoint_static_argnums():
    ck = fg.checkpoint(lambda x, n: fnp.sum(x ** n), static_argnums=(1,))
    np.testing.assert_allclose(fg.grad(ck)(np.array([2.0]), 3), [12.0])


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
def test_grad_of_non_scalar_output_names_the_shape():
    with pytest.raises(TypeError, match=r"scalar.*shape \(3,\)"):
        fg.grad(lambda x: x * 2)(np.ones(3))


@pytest.mark.parametrize("bad", [np.arange(3), np.array([True, False]), 3])
def test_grad_with_respect_to_integer_input(bad):
    with pytest.raises(TypeError, match="floating-point.*astype"):
        fg.grad(lambda x: fnp.sum(x * 1.0))(bad)


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums=2 is out of range.*2 positional"):
        fg.grad(lambda x, y: fnp.sum(x), argnums=2)(np.ones(1), np.ones(1))


def test_shape_mismatch_names_operation_and_shapes():
    with pytest.raises(ValueError, match=r"add.*\(3,\).*\(4,\)|add: operands could not"):
        fg.grad(lambda x: fnp.sum(x + np.ones(4)))(np.ones(3))


def test_leaked_tracer_is_reported():
    leaked = []

    def f(x):
        leaked.append(x * 2)
        return fnp.sum(x)
    fg.grad(f)(np.ones(2))
    with pytest.raises(fg.LeakedTracerError, match="escaped"):
        fnp.sin(leaked[0])


def test_numpy_function_on_a_tracer_says_use_fnp():
    with pytest.raises(TypeError, match="funcgrad.numpy"):
        fg.grad(lambda x: np.sum(np.asarray(x)))(np.ones(2))


def test_missing_rules_are_reported_all_at_once_before_backward():
    from funcgrad.core import Primitive, _REGISTRY
    p1, p2 = Primitive("test_norule_a"), Primitive("test_norule_b")
    try:
        for p in (p1, p2):
            p.impl = lambda xp, x: x * 1.0
            p.shape_rule = lambda x: (x.shape, x.dtype)
        ran = []
        fnp_sin = fnp.sin

        def f(x):
            y = p1.bind(x)
            z = p2.bind(fnp_sin(y))
            ran.append(1)
            return fnp.sum(z)
        with pytest.raises(fg.MissingRuleError) as e:
            fg.grad(f)(np.ones(2))
        msg = str(e.value)
        assert "test_norule_a" in msg and "test_norule_b" in msg and "vjp" in msg
        assert "test_transforms.py" in msg  # the user's source line
    finally:
        _REGISTRY.pop("test_norule_a", None)
        _REGISTRY.pop("test_norule_b", None)


def test_debug_nans_names_primitive_and_where_trap():
    def f(x):
        return fnp.sum(fnp.where(x > 0, fnp.sqrt(x), 0.0))
    x = np.array([1.0, -1.0])
    assert np.isnan(fg.grad(f)(x)).any()  # the classic trap, silently
    with fg.debug_nans():
        with pytest.raises(FloatingPointError, match="(?s)sqrt.*where"):
            fg.grad(f)(x)
    with fg.config.override(debug_nans=True):
        with pytest.raises(FloatingPointError, match="(?s)backward pass"):
            fg.grad(lambda v: fnp.sum(fnp.sqrt(v)))(np.array([0.0, 1.0]))


def test_config_rejects_unknown_switch():
    with pytest.raises(AttributeError, match="debug_nans"):
        fg.config.update("debug_nan", True)


# --------------------------------------------------------------------------- #
# The inline recording paths (fnp's unary functions, VJPTracer's + - * /) keep
# bind's behaviour for everything they do not handle themselves.
# --------------------------------------------------------------------------- #
_INLINE_OPS = {
    "sin": lambda t: fnp.sin(t), "tanh": lambda t: fnp.tanh(t),
    "add": lambda t: t + 2.0, "radd": lambda t: 2.0 + t,
    "subtract": lambda t: t - 2.0, "rsubtract": lambda t: 2.0 - t,
    "multiply": lambda t: t * 2.0, "rmultiply": lambda t: 2.0 * t,
    "divide": lambda t: t / 2.0, "rdivide": lambda t: 2.0 / t,
}


@pytest.mark.parametrize("name", sorted(_INLINE_OPS))
def test_inline_recording_paths_keep_binds_behaviour(name):
    op = _INLINE_OPS[name]
    x = np.array([0.3, 0.7, 1.1])
    # first and second order, against finite differences
    check_grads(lambda v: fnp.sum(op(v) * op(v)), (x,), order=2, modes=("rev",))
    # a leaked tracer is caught by the inline path too
    leak = []
    fg.grad(lambda v: (leak.append(v), fnp.sum(v))[1])(x)
    with pytest.raises(fg.LeakedTracerError, match=name.removeprefix("r")):
        op(leak[0])
    # an array subclass takes the general path and gives the same gradient
    class Sub(np.ndarray):
        pass
    g_plain = fg.grad(lambda v: fnp.sum(op(v)))(x)
    g_sub = fg.grad(lambda v: fnp.sum(op(v)))(x.view(Sub))
    np.testing.assert_array_equal(np.asarray(g_sub), g_plain)


def test_inline_recording_paths_under_debug_nans_and_with_bad_shapes():
    with fg.config.override(debug_nans=True), np.errstate(all="ignore"):
        with pytest.raises(FloatingPointError, match="'log'"):
            fg.grad(lambda v: fnp.sum(fnp.log(v)))(np.array([-1.0, 2.0]))
        with pytest.raises(FloatingPointError, match="'divide'"):
            fg.grad(lambda v: fnp.sum(v / 0.0))(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"add: .*\(3,\) \(5,\)"):
        fg.grad(lambda v: fnp.sum(v + np.ones(5)))(np.ones(3))


def test_debug_nans_switched_on_after_recording_checks_the_backward_pass():
    # recorded by the inline path (a shared rule and its residual on the node),
    # checked by debug_nans in a pullback run later
    _, pullback = fg.vjp(lambda v: fnp.sum(fnp.sqrt(v)), np.array([0.0, 1.0]))
    with fg.config.override(debug_nans=True), np.errstate(all="ignore"):
        with pytest.raises(FloatingPointError, match="VJP rule of primitive 'sqrt'"):
            pullback(np.float64(1.0))
