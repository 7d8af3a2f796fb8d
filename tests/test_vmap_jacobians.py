"""vmap semantics and errors; Jacobians; every transform composed with every other."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.testing import numerical_jvp, strategies as fst


def f_scalar(x):
    return fnp.sum(fnp.sin(x) * fnp.tanh(x) ** 2)


# --------------------------------------------------------------------------- #
# vmap
# --------------------------------------------------------------------------- #
def test_in_axes_pytree_prefix_none_negative_and_out_axes(rng):
    xs = rng.standard_normal((3, 4))
    w = rng.standard_normal(4)
    out = fg.vmap(lambda d, w: d["a"] * w + d["b"], in_axes=({"a": 0, "b": None}, None))(
        {"a": xs, "b": 1.0}, w)
    np.testing.assert_allclose(out, xs * w + 1.0)
    out = fg.vmap(lambda x: x * 2, in_axes=-1, out_axes=1)(xs.T)
    np.testing.assert_allclose(out, (xs * 2).T)
    s, c = fg.vmap(lambda x: (x.sum(), 1.0 + 0 * x[0]), out_axes=(0, 0))(xs)
    np.testing.assert_allclose(s, xs.sum(1))
    np.testing.assert_allclose(c, np.ones(3))


def test_unbatched_output_is_broadcast_and_axis_size():
    out = fg.vmap(lambda x: np.ones(2), in_axes=None, axis_size=3)(np.ones(5))
    assert out.shape == (3, 2)


def test_nested_vmap_matches_loops(rng):
    xs = rng.standard_normal((2, 3, 4))
    out = fg.vmap(fg.vmap(lambda v: fnp.sum(v ** 2)))(xs)
    np.testing.assert_allclose(out, (xs ** 2).sum(-1))
    out = fg.vmap(fg.vmap(lambda a, b: a @ b, in_axes=(None, 0)), in_axes=(0, None))(
        xs, rng.standard_normal((5, 4, 2)))
    assert out.shape == (2, 5, 3, 2)


def test_batch_of_one(rng):
    xs = rng.standard_normal((1, 3))
    np.testing.assert_allclose(fg.vmap(fnp.sin)(xs), np.sin(xs))


def test_inconsistent_batch_sizes_name_arguments_and_sizes():
    with pytest.raises(ValueError, match=r"(?s)inconsistent batch sizes.*leaf 0.*3.*leaf 1.*4"):
        fg.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))


def test_in_axes_structure_mismatch_and_out_of_range():
    with pytest.raises(ValueError, match="in_axes has 1 entries"):
        fg.vmap(lambda a, b: a + b, in_axes=(0,))(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="out of range"):
        fg.vmap(lambda a: a, in_axes=2)(np.ones((3, 2)))
    with pytest.raises(ValueError, match="does not match"):
        fg.vmap(lambda d: d["a"], in_axes=({"b": 0},))({"a": np.ones(3)})


def test_out_axes_none_for_a_batched_output():
    with pytest.raises(ValueError, match="out_axes is None"):
        fg.vmap(lambda a: a * 2, out_axes=None)(np.ones(3))


def test_missing_batching_rule_policy():
    from funcgrad.core import Primitive, _REGISTRY
    p = Primitive("test_nobatch")
    p.impl = lambda xp, x: x * 3.0
    p.shape_rule = lambda x: (x.shape, x.dtype)
    try:
        with pytest.raises(fg.FuncgradError, match="test_nobatch.*no batching rule"):
            fg.vmap(lambda x: p.bind(x))(np.ones((2, 3)))
        with fg.config.override(vmap_fallback="loop"):
            with pytest.warns(UserWarning, match="test_nobatch"):
                out = fg.vmap(lambda x: p.bind(x))(np.ones((2, 3)))
        np.testing.assert_allclose(out, 3 * np.ones((2, 3)))
    finally:
        _REGISTRY.pop("test_nobatch", None)


# --------------------------------------------------------------------------- #
# Jacobians
# --------------------------------------------------------------------------- #
def _pytree_fn(p):
    return {"u": fnp.sin(p["a"]) * p["b"][0], "v": (fnp.sum(p["a"] ** 2) * p["b"],)}


def _fd_jacobian(f, x):
    flat = x.reshape(-1)
    cols = []
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = 1.0
        cols.append(numerical_jvp(f, (x,), (e.reshape(x.shape),)))
    return cols


@pytest.mark.parametrize("jac", [fg.jacfwd, fg.jacrev], ids=["jacfwd", "jacrev"])
def test_jacobian_of_pytree_function_matches_finite_differences(jac, rng):
    p = {"a": rng.standard_normal(3), "b": rng.standard_normal(2)}
    J = jac(_pytree_fn)(p)
    # J["u"]["a"] has shape (3,) + (3,), J["v"][0]["b"] shape (2,) + (2,)
    assert J["u"]["a"].shape == (3, 3) and J["u"]["b"].shape == (3, 2)
    assert J["v"][0]["a"].shape == (2, 3) and J["v"][0]["b"].shape == (2, 2)
    for key in ("a", "b"):
        for i in range(p[key].size):
            e = {k: np.zeros_like(v) for k, v in p.items()}
            e[key].reshape(-1)[i] = 1.0
            fd = numerical_jvp(_pytree_fn, (p,), (e,))
            np.testing.assert_allclose(J["u"][key][..., i], fd["u"], rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(J["v"][0][key][..., i], fd["v"][0], rtol=1e-6, atol=1e-8)


def test_jacobians_agree_with_argnums_and_has_aux(rng):
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    f = lambda a, b: (fnp.sin(a) * b, {"n": 1})  # noqa: E731
    Jf, aux_f = fg.jacfwd(f, argnums=(0, 1), has_aux=True)(x, y)
    Jr, aux_r = fg.jacrev(f, argnums=(0, 1), has_aux=True)(x, y)
    np.testing.assert_allclose(Jf[0], Jr[0], rtol=1e-12)
    np.testing.assert_allclose(Jf[1], np.diag(np.sin(x)), rtol=1e-12)
    assert aux_f == aux_r == {"n": 1}


@given(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=1, max_side=5), low=-2, high=2))
def test_hessian_is_symmetric_and_matches_jacobian_of_grad(x):
    H = fg.hessian(f_scalar)(x)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H, fg.jacrev(fg.grad(f_scalar))(x), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- #
# Composition, both ways
# --------------------------------------------------------------------------- #
def test_grad_of_vmap_and_vmap_of_grad(rng):
    xs = rng.standard_normal((4, 3))
    per_ex = fg.vmap(fg.grad(f_scalar))(xs)
    loop = np.stack([fg.grad(f_scalar)(x) for x in xs])
    np.testing.assert_allclose(per_ex, loop, rtol=1e-13)
    total = fg.grad(lambda X: fnp.sum(fg.vmap(f_scalar)(X)))(xs)
    np.testing.assert_allclose(total, loop, rtol=1e-13)


def test_jvp_of_grad_and_grad_of_jvp(rng):
    x, v = rng.standard_normal(3), rng.standard_normal(3)
    _, hvp = fg.jvp(fg.grad(f_scalar), (x,), (v,))
    g_of_jvp = fg.grad(lambda x_: fg.jvp(f_scalar, (x_,), (v,))[1])(x)
    np.testing.assert_allclose(hvp, g_of_jvp, rtol=1e-12)
    np.testing.assert_allclose(hvp, fg.hessian(f_scalar)(x) @ v, rtol=1e-12)


def test_jacfwd_of_jacrev_and_third_order(rng):
    x = rng.standard_normal(3)
    np.testing.assert_allclose(fg.jacfwd(fg.jacrev(f_scalar))(x),
                               fg.jacrev(fg.jacrev(f_scalar))(x), rtol=1e-12)
    g3 = fg.grad(fg.grad(fg.grad(lambda t: fnp.sin(t) * t)))(0.7)
    # d^3/dt^3 (t sin t) = -3 sin t - t cos t
    np.testing.assert_allclose(g3, -3 * np.sin(0.7) - 0.7 * np.cos(0.7), rtol=1e-12)


def test_vmap_of_jacrev_and_jvp_of_vmap(rng):
    xs = rng.standard_normal((2, 3))
    J = fg.vmap(fg.jacrev(fnp.sin))(xs)
    np.testing.assert_allclose(J, np.stack([np.diag(np.cos(x)) for x in xs]))
    _, t = fg.jvp(fg.vmap(fnp.sin), (xs,), (np.ones_like(xs),))
    np.testing.assert_allclose(t, np.cos(xs))
