"""funcgrad.numpy.linalg: values against NumPy, gradients, conventions and errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.testing import check_grads
from funcgrad.testing import strategies as fst
from tests.specs.linalg import linear_systems, separated_svd, separated_symmetric

la = fnp.linalg


def _close(got, want, tol=1e-10):
    np.testing.assert_allclose(np.asarray(got), want, rtol=tol, atol=tol)
    assert np.shape(got) == np.shape(want)


def _wc(**kw):
    return st.sampled_from([(), (2,)]).flatmap(
        lambda b: fst.well_conditioned_matrices(batch_shape=b, **kw))


# --------------------------------------------------------------------------- #
# Values against NumPy
# --------------------------------------------------------------------------- #
@given(_wc())
def test_inverse_and_determinants_match_numpy(a):
    _close(la.inv(a), np.linalg.inv(a))
    _close(la.det(a), np.linalg.det(a))
    sign, logdet = la.slogdet(a)
    want = np.linalg.slogdet(a)
    _close(sign, want.sign)
    _close(logdet, want.logabsdet)


@given(linear_systems())
def test_solve_matches_numpy(ab):
    a, b = ab
    _close(la.solve(a, b), np.linalg.solve(a, b))
    v = b[(0,) * (b.ndim - 2) + (slice(None), 0)]     # a vector right-hand side
    _close(la.solve(a, v), np.linalg.solve(a, v))


@given(st.sampled_from([(), (2,)]).flatmap(lambda b: fst.spd_matrices(batch_shape=b)))
def test_cholesky_matches_numpy(a):
    _close(la.cholesky(a), np.linalg.cholesky(a))
    _close(la.cholesky(a, upper=True), np.linalg.cholesky(a, upper=True))


@given(separated_symmetric())
def test_eigh_matches_numpy(a):
    w, v = la.eigh(a)
    nw, nv = np.linalg.eigh(a)
    _close(w, nw)
    _close(la.eigvalsh(a), nw)
    _close(np.abs(v), np.abs(nv))                       # equal up to each column's sign
    big = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
    assert np.all(big > 0)                              # the documented sign rule


@given(separated_svd())
def test_svd_and_qr_match_numpy(a):
    u, s, vh = la.svd(a, full_matrices=False)
    _close(s, np.linalg.svd(a, compute_uv=False))
    _close(la.svd(a, compute_uv=False), np.linalg.svd(a, compute_uv=False))
    _close((u * s[..., None, :]) @ vh, a)
    nu = np.linalg.svd(a, full_matrices=False)[0]
    _close(np.abs(u), np.abs(nu))
    if a.shape[-2] >= a.shape[-1]:
        q, r = la.qr(a)
        nq, nr = np.linalg.qr(a)
        _close(q @ r, a)
        _close(np.abs(r), np.abs(nr))
        assert np.all(np.diagonal(r, axis1=-2, axis2=-1) >= 0)
        _close(la.qr(a, mode="r"), r)
    _close(la.pinv(a), np.linalg.pinv(a))


def test_full_svd_and_other_composites_match_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3))
    u, s, vh = la.svd(a)                                # full_matrices=True, like NumPy
    assert u.shape == (4, 4) and vh.shape == (3, 3)
    _close(u[:, :3] * s @ vh, a)
    sq = a[:3]
    for n in (-3, -1, 0, 1, 2, 5):
        _close(la.matrix_power(sq, n), np.linalg.matrix_power(sq, n), 1e-8)
    for p in (None, 1, -1, 2, -2, np.inf, -np.inf, "fro"):
        _close(la.cond(sq, p), np.linalg.cond(sq, p), 1e-8)
    chain = [rng.standard_normal(s) for s in [(3,), (3, 5), (5, 2), (2, 4), (4,)]]
    _close(la.multi_dot(chain), np.linalg.multi_dot(chain))
    _close(la.multi_dot(chain[1:4]), np.linalg.multi_dot(chain[1:4]))
    low_rank = a @ rng.standard_normal((3, 1)) @ rng.standard_normal((1, 3))
    assert int(la.matrix_rank(a)) == 3 and int(la.matrix_rank(low_rank)) == 1
    assert int(la.matrix_rank(np.zeros(3))) == 0
    b = rng.standard_normal(4)
    for got, want in zip(la.lstsq(a, b), np.linalg.lstsq(a, b)):
        _close(got, want)
    _close(la.pinv(low_rank, rtol=None), np.linalg.pinv(low_rank, rtol=None))
    x = rng.standard_normal((3, 3))
    _close(la.solve_triangular(x, b[:3], lower=True), np.linalg.solve(np.tril(x), b[:3]))
    _close(la.solve_triangular(x, x, trans="T", unit_diagonal=True),
           np.linalg.solve((np.triu(x, 1) + np.eye(3)).T, x))


@pytest.mark.parametrize("shape,axis", [((5,), None), ((3, 4), None), ((3, 4), 1),
                                        ((2, 3, 4), (2, 0)), ((2, 3, 4), -1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_norm_matches_numpy(shape, axis, keepdims):
    x = np.random.default_rng(1).standard_normal(shape)
    nd_axes = 1 if isinstance(axis, int) or (axis is None and len(shape) == 1) else 2
    ords = ([None, 1, 2, 3, 0.5, 0, np.inf, -np.inf] if nd_axes == 1 else
            [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
    if axis is None and len(shape) == 3:
        ords = [None]
    for o in ords:
        _close(la.norm(x, o, axis, keepdims), np.linalg.norm(x, o, axis, keepdims))


def test_symmetrize_input_false_reads_one_triangle_like_numpy():
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    a = (q * [1.0, 2.0, 4.0]) @ q.T + np.triu(rng.uniform(0, 0.1, (3, 3)), 1)  # not symmetric
    for uplo in ("L", "U"):
        w = la.eigh(a, UPLO=uplo, symmetrize_input=False).eigenvalues
        _close(w, np.linalg.eigh(a, UPLO=uplo).eigenvalues)
    _close(la.cholesky(a, symmetrize_input=False), np.linalg.cholesky(a))
    _close(la.cholesky(a, upper=True, symmetrize_input=False),
           np.linalg.cholesky(a, upper=True))


# --------------------------------------------------------------------------- #
# Gradients of functions built from the wrappers
# --------------------------------------------------------------------------- #
def test_gradients_of_solvers_and_determinants():
    rng = np.random.default_rng(3)
    a = np.linalg.qr(rng.standard_normal((3, 3)))[0] * [1.0, 2.0, 3.0]
    b, v = rng.standard_normal((2, 3, 2)), rng.standard_normal(3)
    check_grads(lambda m, r: la.solve(m, r), (a, b), order=2)
    check_grads(lambda m, r: la.solve(m, r), (a, v), order=2)
    check_grads(lambda m: fnp.sum(la.inv(m) ** 2), (a,), order=2)
    check_grads(la.det, (a,), order=2)
    check_grads(lambda m: la.slogdet(m).logabsdet, (a,), order=2)
    check_grads(lambda m, r: la.solve_triangular(m, r, lower=True), (a, v), order=2)
    g = fg.grad(la.det)(a)
    _close(g, np.linalg.det(a) * np.linalg.inv(a).T)


def test_gradients_of_decompositions():
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    spd = (q * [0.5, 1.5, 3.0]) @ q.T
    tall = np.linalg.qr(rng.standard_normal((4, 3)))[0] * [3.0, 2.0, 1.0]
    check_grads(lambda m: fnp.sum(la.cholesky(m) * np.arange(9.0).reshape(3, 3)), (spd,))
    check_grads(lambda m: la.eigh(m)[1][:, 0] * la.eigh(m)[0][0], (spd,))
    check_grads(lambda m: la.svd(m, full_matrices=False).U[:, 1], (tall,))
    check_grads(lambda m: la.qr(m).Q[:, :2], (tall,))
    check_grads(lambda m: la.pinv(m), (tall,))
    check_grads(lambda m: la.matrix_power(m, -2), (spd,))
    check_grads(lambda m: la.multi_dot([m, m.T, m]), (tall,))
    check_grads(lambda m: la.lstsq(m, np.ones(4))[0], (tall,), order=1)
    for p in (None, "fro", "nuc", 1, 2, -2, np.inf):
        check_grads(lambda m: la.norm(m, p), (tall,), order=1)


def test_symmetric_gradients_of_symmetric_input_functions():
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    spd = (q * [0.5, 1.5, 3.0]) @ q.T
    for f in (lambda m: fnp.sum(la.cholesky(m)), lambda m: fnp.sum(la.eigh(m)[1])):
        g = fg.grad(f)(spd)
        _close(g, g.T, 1e-12)


def test_pinv_gradient_is_finite_at_repeated_singular_values():
    # pinv's rule does not go through the SVD's derivative (1/(s_j² - s_i²)).
    g = fg.grad(lambda m: fnp.sum(la.pinv(m) ** 2))(np.eye(3))
    assert np.all(np.isfinite(g))
    _close(g, -2 * np.eye(3))


# --------------------------------------------------------------------------- #
# Documented conventions at non-smooth points
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("ord", [None, 2, 3, "fro"])
def test_norm_gradient_at_zero_is_zero(ord):
    shape = (2, 3) if ord == "fro" else (3,)
    g = fg.grad(lambda x: la.norm(x, ord))(np.zeros(shape))
    assert np.all(g == 0)
    g1 = fg.grad(lambda x: la.norm(x, 1))(np.zeros(3))
    assert np.all(g1 == 0)


def test_degenerate_eigenvalues():
    # values alone: finite; vectors: non-finite, as in JAX and PyTorch.
    g = fg.grad(lambda m: fnp.sum(la.eigvalsh(m) * np.array([1.0, 2.0, 3.0])))(np.eye(3))
    assert np.all(np.isfinite(g))
    with np.errstate(divide="ignore", invalid="ignore"):
        g = fg.grad(lambda m: fnp.sum(la.eigh(m)[1] * np.arange(9.0).reshape(3, 3)))(np.eye(3))
    assert not np.all(np.isfinite(g))


# --------------------------------------------------------------------------- #
# vmap
# --------------------------------------------------------------------------- #
def test_vmap_of_solve_with_shared_matrix_and_of_decompositions():
    rng = np.random.default_rng(6)
    a = np.linalg.qr(rng.standard_normal((3, 3)))[0] * [1.0, 2.0, 3.0]
    bs = rng.standard_normal((5, 3))
    _close(fg.vmap(lambda b: la.solve(a, b))(bs), np.linalg.solve(a, bs.T).T)
    spd = np.stack([(q * [0.5, 1.5, 3.0]) @ q.T
                    for q in np.linalg.qr(rng.standard_normal((4, 3, 3)))[0]])
    w = fg.vmap(lambda m: la.eigvalsh(m))(spd)
    _close(w, np.linalg.eigvalsh(spd))
    g = fg.vmap(fg.grad(lambda m: la.slogdet(m).logabsdet))(spd)
    _close(g, np.linalg.inv(spd).transpose(0, 2, 1))


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
def test_singular_and_non_positive_definite_matrices_raise_linalg_error():
    with pytest.raises(la.LinAlgError, match=r"solve: the matrix of shape \(2, 2\).*singular"):
        la.solve(np.ones((2, 2)), np.ones(2))
    with pytest.raises(np.linalg.LinAlgError, match="inv: .*singular"):
        la.inv(np.zeros((3, 3)))
    with pytest.raises(la.LinAlgError, match="not positive definite"):
        la.cholesky(-np.eye(2))
    assert la.LinAlgError is np.linalg.LinAlgError


def test_shape_errors_are_clear():
    with pytest.raises(la.LinAlgError, match="square"):
        la.inv(np.ones((2, 3)))
    with pytest.raises(la.LinAlgError, match="at least two-dimensional"):
        la.det(np.ones(3))
    with pytest.raises(ValueError, match=r"a has shape \(3, 3\).*b has shape \(4,\)"):
        la.solve(np.eye(3), np.ones(4))
    with pytest.raises(ValueError, match="invalid norm order"):
        la.norm(np.ones((2, 2)), "bad")


def test_underdetermined_derivatives_raise_with_the_fix():
    a = np.arange(6.0).reshape(3, 2) ** 2
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        fg.grad(lambda m: fnp.sum(la.svd(m)[0]))(a)
    g = fg.grad(lambda m: fnp.sum(la.svd(m)[1]))(a)     # the values alone are fine
    _close(g, fg.grad(lambda m: fnp.sum(la.svd(m, full_matrices=False)[1]))(a))
    with pytest.raises(NotImplementedError, match="at least as many rows"):
        fg.grad(lambda m: fnp.sum(la.qr(m)[1]))(np.ones((2, 3)))


# --------------------------------------------------------------------------- #
# Parity with PyTorch on sign-invariant functions (optional)
# --------------------------------------------------------------------------- #
def test_gradients_agree_with_torch():
    torch = pytest.importorskip("torch", reason="torch is only used for an optional parity check")
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    spd = (q * [0.5, 1.5, 3.0]) @ q.T
    w = rng.standard_normal((3, 3))
    tw = torch.tensor(w)
    cases = [
        (lambda m: fnp.sum(la.inv(m) * w), lambda m: (torch.linalg.inv(m) * tw).sum()),
        (lambda m: la.slogdet(m)[1], lambda m: torch.linalg.slogdet(m)[1]),
        (lambda m: fnp.sum(la.cholesky(m) * w),
         lambda m: (torch.linalg.cholesky(m) * tw).sum()),
        (lambda m: fnp.sum(la.eigh(m)[1] ** 2 * w),
         lambda m: (torch.linalg.eigh(m)[1] ** 2 * tw).sum()),
        (lambda m: fnp.sum(la.svd(m)[0] ** 2 * w),
         lambda m: (torch.linalg.svd(m)[0] ** 2 * tw).sum()),
    ]
    for f, tf in cases:
        t = torch.tensor(spd, requires_grad=True)
        tf(t).backward()
        tg = t.grad.numpy()
        g = fg.grad(f)(spd)
        # For cholesky/eigh torch reads one triangle and funcgrad the symmetric
        # part: the gradients agree on symmetric directions, i.e. their symmetric parts.
        _close((g + g.T) / 2, (tg + tg.T) / 2, 1e-8)
