"""The staged IR: make_ir, the printer, eval_program, and each optimisation pass."""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core import ConcretizationError, primitives
from funcgrad.ir import Equation, Literal, Program, Var, eval_program, make_ir
from funcgrad.ir_passes import cse, dce, fold_constants, optimize, simplify
from funcgrad.tree_util import tree_unflatten

P = primitives()


def _lines(program):
    return [line.strip() for line in str(program).splitlines()]


def _run(program, *args):
    return eval_program(program, *args)


# --------------------------------------------------------------------------- #
# Printing
# --------------------------------------------------------------------------- #
def test_program_prints_one_line_per_primitive():
    prog = make_ir(lambda a, b: fnp.sum(a * b))(np.ones(3), np.ones(3))
    lines = _lines(prog)
    assert lines[0] == "{ lambda a:f64[3], b:f64[3] ."
    assert "c:f64[3] = multiply a b" in lines
    assert "d:f64[] = reduce_sum[axes=(0,), keepdims=False] c" in lines
    assert lines[-1] == "return d }"
    assert len(prog.equations) == 2 and len(prog.in_vars) == 2
    assert isinstance(prog.out_vars[0], Var) and prog.out_vars[0].shape == ()


def test_literals_stay_inline_and_arrays_become_constants():
    w = np.arange(3.0)
    prog = make_ir(lambda x: x * 2.0 + w)(np.ones(3, np.float32))
    text = str(prog)
    assert "multiply b 2.0" in text          # the Python scalar is inline
    assert text.startswith("{ lambda a:f64[3] ; b:f32[3] .")  # w is constant a
    assert list(prog.constants.values())[0] is w
    assert prog.equations[-1].outputs[0].dtype == np.float64


def test_source_lines_are_recorded():
    def f(x):
        y = fnp.sin(x)  # the line we expect to see
        return y * 3.0
    prog = make_ir(f)(np.ones(2))
    assert all("test_ir.py" in e.source for e in prog.equations)
    assert "test_ir.py" in prog.pretty(source=True)
    assert prog.equations[0].source.split(":")[1] != prog.equations[1].source.split(":")[1]


def test_dtypes_and_multiple_outputs_print():
    prog = make_ir(lambda x: (x > 0, fnp.argmax(x), x.astype(np.float32)))(np.ones((2, 3)))
    text = str(prog)
    assert "bool[2,3] = greater" in text
    assert "i64[] = argmax" in text
    assert "f32[2,3] = convert_element_type[dtype=float32]" in text
    assert text.splitlines()[-1].strip().startswith("return ")


def test_pytrees_in_and_out():
    def f(params, x):
        return {"y": params["w"] * x + params["b"], "n": [x.sum()]}
    params = {"w": np.ones(3), "b": np.zeros(3)}
    prog = make_ir(f)(params, np.arange(3.0))
    assert len(prog.in_vars) == 3
    # leaves in flattening order: dict keys sorted, so b, w, then x
    out = tree_unflatten(prog.out_tree, _run(prog, np.zeros(3), np.ones(3), np.arange(3.0)))
    np.testing.assert_allclose(out["y"], np.arange(3.0))
    np.testing.assert_allclose(out["n"][0], 3.0)


def test_static_argnums_bake_python_values_in():
    f = lambda x, n: x * n if n > 1 else x  # noqa: E731
    assert len(make_ir(f, static_argnums=1)(np.ones(2), 3).equations) == 1
    assert len(make_ir(f, static_argnums=1)(np.ones(2), 1).equations) == 0
    with pytest.raises(ValueError, match="static_argnums"):
        make_ir(f, static_argnums=2)(np.ones(2), 3)


# --------------------------------------------------------------------------- #
# The transforms are visible inside make_ir
# --------------------------------------------------------------------------- #
def _f(x):
    return fnp.sum(fnp.tanh(x) ** 2)


def test_make_ir_of_grad_shows_the_backward_pass():
    x = np.linspace(-1, 1, 3)
    prog = make_ir(fg.grad(_f))(x)
    counts = prog.primitive_counts()
    assert counts["tanh"] == 1          # forward
    assert counts["subtract"] == 1      # d tanh = 1 - tanh^2, in the backward pass
    assert prog.out_vars[0].shape == (3,)
    np.testing.assert_allclose(_run(prog, x)[0], fg.grad(_f)(x))


def test_make_ir_of_vmap_shows_batched_primitives():
    xs = np.ones((4, 3))
    prog = make_ir(fg.vmap(lambda v: fnp.sum(v * v)))(xs)
    assert "reduce_sum[axes=(1,), keepdims=False]" in str(prog)
    assert prog.out_vars[0].shape == (4,)


def test_make_ir_of_jvp_shows_tangent_equations():
    x, v = np.linspace(0, 1, 3), np.ones(3)
    prog = make_ir(lambda x, v: fg.jvp(_f, (x,), (v,)))(x, v)
    assert len(prog.out_vars) == 2
    p, t = _run(prog, x, v)
    want_p, want_t = fg.jvp(_f, (x,), (v,))
    np.testing.assert_allclose(p, want_p)
    np.testing.assert_allclose(t, want_t)


def test_eval_program_composes_with_outer_transforms():
    x = np.linspace(-1, 1, 4)
    prog = make_ir(lambda x: fnp.sum(fnp.sin(x) * x))(x)
    g = fg.grad(lambda x: eval_program(prog, x)[0])(x)
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x))
    xs = np.stack([x, 2 * x])
    np.testing.assert_allclose(fg.vmap(lambda x: eval_program(prog, x)[0])(xs),
                               [np.sum(np.sin(r) * r) for r in xs])


def test_custom_vjp_is_staged_as_one_call_with_its_rule():
    @fg.custom_vjp
    def clip_grad(x):
        return x

    clip_grad.defvjp(lambda x: (x, None), lambda r, ct: (fnp.clip(ct, -0.5, 0.5),))
    f = lambda x: fnp.sum(clip_grad(x) * 3.0)  # noqa: E731
    x = np.ones(3)
    prog = make_ir(f)(x)
    assert "custom_vjp_call[name='clip_grad']" in str(prog)
    # evaluating under grad hands the custom rule to grad: 3 is clipped to 0.5
    np.testing.assert_allclose(fg.grad(lambda x: eval_program(prog, x)[0])(x), [0.5] * 3)


# --------------------------------------------------------------------------- #
# Abstract values
# --------------------------------------------------------------------------- #
def _branchy(x):
    if x.sum() > 0:
        return x * 2.0
    return -x


@pytest.mark.parametrize("conv", [bool, float, int])
def test_python_conversions_of_abstract_values_raise_clearly(conv):
    with pytest.raises(ConcretizationError) as info:
        make_ir(lambda x: conv(x.sum()))(np.ones(3))
    msg = str(info.value)
    assert "abstract" in msg and "static_argnums" in msg and "fnp.where" in msg
    assert "shape ()" in msg and "float64" in msg and "test_ir.py" in msg


def test_if_on_abstract_value_raises_but_works_under_grad():
    with pytest.raises(ConcretizationError, match="bool"):
        make_ir(_branchy)(np.ones(3))
    np.testing.assert_allclose(fg.grad(lambda x: fnp.sum(_branchy(x)))(np.ones(3)), [2.0] * 3)


# --------------------------------------------------------------------------- #
# Optimisation passes, each on a small program
# --------------------------------------------------------------------------- #
def _check_same(before, after, *args):
    for a, b in zip(_run(before, *args), _run(after, *args)):
        np.testing.assert_allclose(b, a, rtol=1e-15)


def test_dce_removes_unused_equations():
    prog = make_ir(lambda x: (fnp.cos(x), fnp.sin(x))[1])(np.ones(3))
    out = dce(prog)
    assert len(prog.equations) == 2 and len(out.equations) == 1
    _check_same(prog, out, np.arange(3.0))


def test_cse_shares_equal_equations():
    prog = make_ir(lambda x: fnp.sin(x) * 2.0 + fnp.sin(x) * 2.0)(np.ones(3))
    out = dce(cse(prog))
    assert len(prog.equations) == 5 and len(out.equations) == 3
    _check_same(prog, out, np.arange(3.0))


def test_cse_respects_params_and_literals():
    prog = make_ir(lambda x: (x * 2.0, x * 3.0, fnp.sum(x, 0), fnp.sum(x, 1)))(np.ones((2, 2)))
    assert len(cse(prog).equations) == 4


def test_constant_folding_evaluates_constant_equations():
    x, c, e, y = Var((3,), np.float64), Var((3,), np.float64), Var((3,), np.float64), \
        Var((3,), np.float64)
    prog = Program([x], [Equation(P["exp"], [c], {}, [e]), Equation(P["add"], [x, e], {}, [y])],
                   [y], {c: np.ones(3)})
    out = dce(fold_constants(prog))
    assert len(out.equations) == 1 and out.equations[0].prim.name == "add"
    np.testing.assert_allclose(list(out.constants.values())[0], np.exp(np.ones(3)))
    _check_same(prog, out, np.arange(3.0))


def test_constant_folding_skips_huge_results():
    c, e = Var((10,), np.float64), Var((10,), np.float64)
    prog = Program([], [Equation(P["exp"], [c], {}, [e])], [e], {c: np.ones(10)})
    assert len(fold_constants(prog, limit=5).equations) == 1
    assert len(fold_constants(prog, limit=50).equations) == 0


@pytest.mark.parametrize("fun, shape, before, after", [
    (lambda x: (x * 1.0 + 0.0) - 0.0, (3,), 3, 0),
    (lambda x: 1 * x / 1.0, (3,), 2, 0),
    (lambda x: -(-x), (3,), 2, 0),
    (lambda x: x ** 2, (3,), 1, 1),
    (lambda x: fnp.transpose(fnp.transpose(x, (1, 2, 0)), (2, 0, 1)), (2, 3, 4), 2, 0),
    (lambda x: fnp.transpose(fnp.transpose(x, (1, 2, 0)), (1, 0, 2)), (2, 3, 4), 2, 1),
    (lambda x: x.reshape(6).reshape(3, 2), (2, 3), 2, 1),
    (lambda x: x.reshape(6).reshape(2, 3), (2, 3), 2, 0),
    (lambda x: fnp.sum(fnp.broadcast_to(x, (4, 3)), axis=0), (3,), 2, 1),
    (lambda x: fnp.sum(fnp.broadcast_to(x, (1, 3)), axis=0), (3,), 2, 0),
    (lambda x: P["convert_element_type"].bind(x, dtype=np.dtype(np.float64)), (3,), 1, 0),
])
def test_simplify_rewrites_what_autodiff_emits(fun, shape, before, after):
    x = np.random.default_rng(0).standard_normal(shape)
    prog = make_ir(fun)(x)
    out = dce(simplify(prog))
    assert (len(prog.equations), len(out.equations)) == (before, after)
    _check_same(prog, out, x)


def test_simplify_removes_multiply_by_a_ones_constant_from_grad():
    x = np.linspace(0, 1, 3)
    prog = make_ir(fg.grad(lambda x: fnp.sum(fnp.sin(x))))(x)
    out = optimize(prog)
    assert out.primitive_counts() == {"cos": 1}
    _check_same(prog, out, x)


def test_simplify_keeps_broadcasting_identities():
    # x * ones((2, 3)) broadcasts x: not an identity, must stay.
    ones = np.ones((2, 3))
    prog = make_ir(lambda x: x * ones)(np.ones(3))
    assert len(optimize(prog).equations) == 1
    # a dtype-changing "identity" must stay too
    prog = make_ir(lambda x: x * np.ones((), np.float64))(np.ones(3, np.float32))
    assert len(optimize(prog).equations) == 1


def test_optimize_keeps_stop_gradient_for_outer_transforms():
    prog = optimize(make_ir(lambda x: fnp.sum(fg.stop_gradient(x) * x))(np.ones(3)))
    assert "stop_gradient" in prog.primitive_counts()
    g = fg.grad(lambda x: eval_program(prog, x)[0])(np.arange(3.0))
    np.testing.assert_allclose(g, np.arange(3.0))


def test_literal_repr():
    assert str(Literal(2.0)) == "2.0"
    assert str(Literal(np.float32(2.0))) == "2.0:f32[]"
