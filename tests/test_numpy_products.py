"""funcgrad.numpy products: values against NumPy, gradients, errors, and the cost of x @ W."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.prims import products as P
from funcgrad.testing import check_grads
from funcgrad.testing import strategies as fst
from tests.specs.products import matmul_cases


def _close(got, want):
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)
    assert np.shape(got) == np.shape(want)


# --------------------------------------------------------------------------- #
# matmul and dot
# --------------------------------------------------------------------------- #
@given(matmul_cases())
def test_matmul_matches_numpy_and_gradients(case):
    (x, y), _ = case
    _close(fnp.matmul(x, y), np.matmul(x, y))
    check_grads(lambda a, b: a @ b, (x, y), order=1)


@given(st.data())
def test_matmul_four_dims_broadcast(data):
    bx = data.draw(st.sampled_from([(2, 1), (1, 3), (3,), ()]))
    by = data.draw(st.sampled_from([(2, 3), (1,), (3,)]))
    x = data.draw(fst.arrays(shape=bx + (2, 3)))
    y = data.draw(fst.arrays(shape=by + (3, 2)))
    _close(fnp.matmul(x, y), np.matmul(x, y))
    check_grads(fnp.matmul, (x, y), order=1)


def test_matmul_second_order_and_vmap():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    check_grads(lambda a, b: fnp.sum(fnp.tanh(a @ b) ** 2), (x, w), order=2)
    _close(fg.vmap(lambda v: v @ w)(x), x @ w)
    _close(fg.vmap(lambda c: x @ c, in_axes=1, out_axes=1)(w), x @ w)


@given(st.integers(0, 3), st.integers(0, 3), st.data())
def test_dot_matches_numpy(nd_a, nd_b, data):
    k = data.draw(st.integers(1, 3))
    sa = tuple(data.draw(st.lists(st.integers(1, 3), min_size=nd_a, max_size=nd_a)))
    sb = tuple(data.draw(st.lists(st.integers(1, 3), min_size=nd_b, max_size=nd_b)))
    if nd_a:
        sa = sa[:-1] + (k,)
    if nd_b:
        sb = sb[:-2] + (k,) + sb[-1:] if nd_b >= 2 else (k,)
    a = data.draw(fst.arrays(shape=sa))
    b = data.draw(fst.arrays(shape=sb))
    _close(fnp.dot(a, b), np.dot(a, b))
    check_grads(fnp.dot, (a, b), order=1)


@given(st.data())
def test_tensordot_matches_numpy(data):
    a = data.draw(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=3, max_side=3)))
    n = data.draw(st.integers(0, a.ndim))
    if data.draw(st.booleans()):
        # an int: the last n axes of a against the first n of b
        b_shape = tuple(a.shape[a.ndim - n:]) + tuple(
            data.draw(st.lists(st.integers(1, 3), max_size=2)))
        axes = n
    else:
        ax_a = data.draw(st.permutations(range(a.ndim)))[:n]
        ax_b = data.draw(st.permutations(range(n + 1)))[:n]
        b_shape = [data.draw(st.integers(1, 3)) for _ in range(n + 1)]
        for i, j in zip(ax_a, ax_b):
            b_shape[j] = a.shape[i]
        b_shape = tuple(b_shape)
        axes = (list(ax_a), [j - (n + 1) for j in ax_b])  # negative axes too
    b = data.draw(fst.arrays(shape=b_shape))
    _close(fnp.tensordot(a, b, axes), np.tensordot(a, b, axes))
    check_grads(lambda x, y: fnp.tensordot(x, y, axes), (a, b), order=1)


def test_inner_outer_vdot_kron():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    v, w = rng.standard_normal(3), rng.standard_normal(4)
    _close(fnp.inner(a, b), np.inner(a, b))
    _close(fnp.inner(v, v), np.inner(v, v))
    _close(fnp.inner(2.0, a), np.inner(2.0, a))
    _close(fnp.outer(a, w), np.outer(a, w))
    _close(fnp.vdot(a, a), np.vdot(a, a))
    for x, y in [(a, b), (v, a), (a, w), (rng.standard_normal((2, 1, 2)), a)]:
        _close(fnp.kron(x, y), np.kron(x, y))
        check_grads(fnp.kron, (x, y), order=1)
    check_grads(fnp.inner, (a, b), order=1)
    check_grads(fnp.outer, (v, w), order=1)
    check_grads(fnp.vdot, (a, a + 1.0), order=1)


# --------------------------------------------------------------------------- #
# einsum
# --------------------------------------------------------------------------- #
EXPRESSIONS = [
    ("ii", [(3, 3)]),                     # trace (implicit output)
    ("ii->i", [(3, 3)]),                  # diagonal
    ("ji", [(2, 3)]),                     # transpose (implicit output is 'ij')
    ("ij->", [(2, 3)]),                   # total sum
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),   # batch matmul
    ("i,j->ij", [(3,), (4,)]),            # outer product
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("...ij,...jk", [(2, 1, 2, 3), (4, 3, 2)]),  # ellipsis with broadcasting
    ("ij,ij->ij", [(1, 3), (2, 3)]),      # size-1 broadcasting of a named index
    ("iij,jk->ik", [(2, 2, 3), (3, 2)]),
    ("ab,cd->", [(2, 2), (2, 2)]),
    ("Ab,bA", [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize("expr,shapes", EXPRESSIONS, ids=[e for e, _ in EXPRESSIONS])
def test_einsum_matches_numpy_and_gradients(expr, shapes):
    rng = np.random.default_rng(2)
    ops = [rng.standard_normal(s) for s in shapes]
    _close(fnp.einsum(expr, *ops), np.einsum(expr, *ops))
    check_grads(lambda *o: fnp.einsum(expr, *o), ops, order=2)


def test_einsum_repeated_operand_and_interleaved_form():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 3))
    check_grads(lambda a: fnp.einsum("ij,jk->ik", a, a), (x,), order=2)
    g = fg.grad(lambda a: fnp.einsum("ij,ij->", a, a))(x)
    _close(g, 2 * x)
    _close(fnp.einsum(x, [0, 1], x, [1, 2], [0, 2]), x @ x)
    _close(fnp.einsum(x, [Ellipsis, 1]), np.einsum(x, [Ellipsis, 1]))
    _close(fnp.einsum("ij,jk", x, x, optimize="greedy"), x @ x)


def test_einsum_under_vmap_and_jacobians():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((5, 2, 3)), rng.standard_normal((3, 4))
    got = fg.vmap(lambda m: fnp.einsum("ij,jk->ik", m, b))(a)
    _close(got, np.einsum("bij,jk->bik", a, b))
    got = fg.vmap(lambda m: fnp.einsum("ii->", m @ m.T))(a)
    _close(got, np.einsum("bij,bij->b", a, a))
    j = fg.jacrev(lambda m: fnp.einsum("ij->j", m))(a[0])
    _close(j, np.broadcast_to(np.eye(3)[:, None, :], (3, 2, 3)))


def test_einsum_path_is_planned_once_per_shape():
    rng = np.random.default_rng(5)
    ops = [rng.standard_normal(s) for s in [(2, 3), (3, 4), (4, 5)]]
    P._contraction.cache_clear()
    for _ in range(3):
        fnp.einsum("ij,jk,kl->il", *ops)
    info = P._contraction.cache_info()
    assert info.misses == 1 and info.hits == 2
    path, _ = fnp.einsum_path("ij,jk,kl->il", *ops, optimize="greedy")
    assert path == np.einsum_path("ij,jk,kl->il", *ops, optimize="greedy")[0]


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
def test_matmul_shape_error_names_shapes_and_contracted_dims():
    with pytest.raises(ValueError) as e:
        fnp.matmul(np.ones((2, 3)), np.ones((4, 5)))
    msg = str(e.value)
    assert "(2, 3)" in msg and "(4, 5)" in msg and "size 3" in msg and "size 4" in msg
    with pytest.raises(ValueError, match="x @ y.T"):
        fnp.matmul(np.ones((2, 3)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="0-dimensional"):
        fnp.matmul(np.ones(3), np.float64(2.0))
    with pytest.raises(ValueError, match="batch dimensions"):
        fnp.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 2)))
    with pytest.raises(ValueError, match="matmul"):  # through the @ operator on a tracer
        fg.grad(lambda a: fnp.sum(a @ np.ones((4, 5))))(np.ones((2, 3)))


def test_other_product_errors():
    with pytest.raises(ValueError, match=r"not aligned: 3 \(dim 1\) != 4 \(dim 0\)"):
        fnp.dot(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="shape mismatch"):
        fnp.tensordot(np.ones((2, 3)), np.ones((4, 5)), axes=1)
    with pytest.raises(ValueError, match="2 operand"):
        fnp.einsum("ij,jk->ik", np.ones((2, 3)))
    with pytest.raises(ValueError, match="index 'j' has size 3 in one operand and 4"):
        fnp.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="appears in no operand"):
        fnp.einsum("ij->k", np.ones((2, 3)))


# --------------------------------------------------------------------------- #
# Cost: x @ W with x a constant computes no cotangent for x
# --------------------------------------------------------------------------- #
def test_constant_operand_gets_no_product(monkeypatch):
    calls = []
    impl = P.matmul_p.impl

    def counting(xp, x, y):
        calls.append((x.shape, y.shape))
        return impl(xp, x, y)
    monkeypatch.setattr(P.matmul_p, "impl", counting)
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((8, 4, 3)), rng.standard_normal((3, 2))
    g = fg.grad(lambda w_: fnp.sum(x @ w_))(w)
    _close(g, np.einsum("bti,j->ij", x, np.ones(2)))
    # one forward product, and one product for W's cotangent -- a single GEMM
    # over the flattened batch, not one per batch entry
    assert calls == [((8, 4, 3), (3, 2)), ((3, 32), (32, 2))]


def test_vmap_of_vector_matrix_product_is_one_product(monkeypatch):
    calls = []
    impl = P.matmul_p.impl
    monkeypatch.setattr(P.matmul_p, "impl",
                        lambda xp, x, y: calls.append((x.shape, y.shape)) or impl(xp, x, y))
    rng = np.random.default_rng(7)
    xs, w = rng.standard_normal((10, 3)), rng.standard_normal((3, 2))
    _close(fg.vmap(lambda v: v @ w)(xs), xs @ w)
    assert calls == [((10, 3), (3, 2))]
