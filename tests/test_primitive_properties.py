"""Every primitive, checked every way: one generic property per test, run on every spec.

Properties: shape rule vs real output; VJP vs finite differences; JVP vs finite
differences; JVP/VJP transposition (tight); second order; vmap vs a Python loop
(every batched/unbatched combination, a non-zero in_axes, a batch of one);
zero-derivative primitives record nothing.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import funcgrad as fg
from funcgrad.core import primitives
from funcgrad.testing import check_grads, check_jvp_vjp_transpose
from tests.specs import all_specs

SPECS = all_specs()
DIFF_SPECS = [s for s in SPECS if not s.prim.nondiff]
IDS = [s.id for s in SPECS]
DIFF_IDS = [s.id for s in DIFF_SPECS]


def test_every_primitive_has_a_spec():
    covered = {s.prim.name for s in SPECS}
    missing = sorted(set(primitives()) - covered)
    assert not missing, f"primitives without a spec in tests/specs: {missing}"


def _is_float_array(a):
    return hasattr(a, "dtype") and np.asarray(a).dtype.kind == "f"


def _diff_argnums(spec, args):
    if spec.diff is not None:
        return spec.diff
    return tuple(i for i, a in enumerate(args) if _is_float_array(a))


def _closed(spec, args, params, argnums):
    """The primitive as a function of its differentiable arguments only."""
    def f(*d):
        full = list(args)
        for i, v in zip(argnums, d):
            full[i] = v
        return spec.prim.bind(*full, **params)
    return f, tuple(args[i] for i in argnums)


def _run(spec, test):
    return given(spec.cases)(test)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_shape_rule_matches_output(spec):
    @given(spec.cases)
    def check(case):
        args, params = case
        out = spec.prim.bind(*args, **params)
        rule = spec.prim.shape_rule(*args, **params)
        outs = out if spec.prim.multiple_results else [out]
        rules = rule if spec.prim.multiple_results else [rule]
        for o, (shape, dtype) in zip(outs, rules):
            assert tuple(np.shape(o)) == tuple(shape), (spec.id, np.shape(o), shape)
            assert np.asarray(o).dtype == np.dtype(dtype), (spec.id, np.asarray(o).dtype, dtype)
    check()


@pytest.mark.parametrize("spec", DIFF_SPECS, ids=DIFF_IDS)
def test_vjp_matches_finite_differences(spec):
    @given(spec.cases)
    def check(case):
        args, params = case
        f, d = _closed(spec, args, params, _diff_argnums(spec, args))
        check_grads(f, d, order=1, modes=("rev",), atol=spec.atol, rtol=spec.rtol, eps=spec.eps)
    check()


@pytest.mark.parametrize("spec", [s for s in DIFF_SPECS if s.fwd],
                         ids=[s.id for s in DIFF_SPECS if s.fwd])
def test_jvp_matches_finite_differences(spec):
    @given(spec.cases)
    def check(case):
        args, params = case
        f, d = _closed(spec, args, params, _diff_argnums(spec, args))
        check_grads(f, d, order=1, modes=("fwd",), atol=spec.atol, rtol=spec.rtol, eps=spec.eps)
    check()


@pytest.mark.parametrize("spec", [s for s in DIFF_SPECS if s.fwd],
                         ids=[s.id for s in DIFF_SPECS if s.fwd])
def test_jvp_vjp_transposition(spec):
    @given(spec.cases)
    def check(case):
        args, params = case
        f, d = _closed(spec, args, params, _diff_argnums(spec, args))
        check_jvp_vjp_transpose(f, d, atol=spec.transpose_tol, rtol=spec.transpose_tol)
    check()


@pytest.mark.parametrize("spec", [s for s in DIFF_SPECS if s.order >= 2],
                         ids=[s.id for s in DIFF_SPECS if s.order >= 2])
def test_second_order(spec):
    @given(spec.cases)
    def check(case):
        args, params = case
        f, d = _closed(spec, args, params, _diff_argnums(spec, args))
        modes = ("fwd", "rev") if spec.fwd else ("rev",)
        check_grads(f, d, order=2, modes=modes, atol=spec.atol * 10, rtol=spec.rtol * 10,
                    eps=spec.eps)
    check()


FWD_VJP_SPECS = [s for s in DIFF_SPECS if s.prim.fwd_vjp is not None]


def test_fused_forward_rules_are_specified():
    assert FWD_VJP_SPECS, "no spec covers a primitive with fwd_vjp (cross_entropy has one)"


@pytest.mark.parametrize("spec", FWD_VJP_SPECS, ids=[s.id for s in FWD_VJP_SPECS])
def test_fwd_vjp_is_bitwise_impl_then_vjp(spec):
    """``prim.fwd_vjp`` (evaluate and stage together) == ``impl`` then ``vjp``, bit for bit."""
    prim = spec.prim

    @given(spec.cases, st.integers(0, 2**31 - 1))
    def check(case, seed):
        args, params = case
        args = [np.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        needs = tuple(_is_float_array(a) for a in args)
        extra = {"needs": needs} if prim.vjp_needs else {}
        ref_out = prim.impl(np, *args, **params)
        ref_vjp = prim.vjp(ref_out, *args, **extra, **params)
        out, vjp = prim.fwd_vjp(*args, **extra, **params)
        np.testing.assert_array_equal(out, ref_out, strict=True)
        ct = np.random.default_rng(seed).normal(size=np.shape(out)).astype(np.asarray(out).dtype)
        for twice in range(2):  # the staged rule may run again (retain_graph)
            for got, want in zip(vjp(ct), ref_vjp(ct)):
                assert (got is None) == (want is None)
                if want is not None:
                    np.testing.assert_array_equal(got, want, strict=True)
    check()


@pytest.mark.parametrize("spec", [s for s in SPECS if s.prim.nondiff],
                         ids=[s.id for s in SPECS if s.prim.nondiff])
def test_zero_derivative_primitives_record_nothing(spec):
    @given(spec.cases)
    def check(case):
        args, params = case
        argnums = tuple(i for i, a in enumerate(args) if _is_float_array(a))
        if not argnums:
            return
        f, d = _closed(spec, args, params, argnums)
        out, pullback = fg.vjp(lambda *a: fg.numpy.asarray(f(*a), dtype=np.float64), *d)
        cts = pullback(np.ones(np.shape(out)))
        for c in cts:
            assert not np.any(np.asarray(c)), f"{spec.id}: non-zero cotangent {c}"
    check()


def _perturbed(a, k):
    """Example ``k`` of a batch: float arrays scaled slightly, others unchanged."""
    if _is_float_array(a):
        return np.asarray(a) * (1.0 - 0.05 * k)
    return a


def _array_positions(args):
    return [i for i, a in enumerate(args) if hasattr(a, "shape")]


def _loop_reference(spec, args, params, batched, size):
    outs = []
    for k in range(size):
        ex = [(_perturbed(a, k) if i in batched else a) for i, a in enumerate(args)]
        outs.append(spec.prim.bind(*ex, **params))
    if spec.prim.multiple_results:
        return [np.stack([o[j] for o in outs]) for j in range(len(outs[0]))]
    return np.stack(outs)


def _assert_same(got, want, spec):
    gots = got if spec.prim.multiple_results else [got]
    wants = want if spec.prim.multiple_results else [want]
    for g, w in zip(gots, wants):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-10, atol=1e-12,
                                   equal_nan=True, err_msg=spec.id)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.vmap], ids=[s.id for s in SPECS if s.vmap])
def test_vmap_matches_loop(spec):
    @given(spec.cases, st.integers(1, 3), st.data())
    def check(case, size, data):
        args, params = case
        positions = _array_positions(args)
        if not positions:
            return
        combos = [c for r in range(1, len(positions) + 1)
                  for c in itertools.combinations(positions, r)]
        for batched in combos:
            want = _loop_reference(spec, args, params, batched, size)
            use_last = data.draw(st.booleans(), label="in_axes=-1")
            stacked = []
            in_axes = []
            for i, a in enumerate(args):
                if i in batched:
                    ax = -1 if use_last else 0
                    stacked.append(np.stack([_perturbed(a, k) for k in range(size)], axis=ax))
                    in_axes.append(ax)
                else:
                    stacked.append(a)
                    in_axes.append(None)
            got = fg.vmap(lambda *a: spec.prim.bind(*a, **params), in_axes=tuple(in_axes))(
                *stacked)
            _assert_same(got, want, spec)
    check()
