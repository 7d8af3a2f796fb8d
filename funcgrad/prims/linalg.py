"""Linear-algebra primitives, batched over leading dimensions like ``numpy.linalg``.

triangular_solve, solve, inv, det, slogdet, cholesky, eigh, svd, qr, pinv.
Every rule is written with funcgrad operations (matmul, triangular_solve,
solve, inv, elementwise ops), so each one can be differentiated again and
batched.  ``_fit`` in the backward pass sums cotangents over broadcast batch
dimensions (``solve`` of one matrix against a stack of right-hand sides).

Conventions fixed here (and relied on by finite-difference tests):

* ``cholesky`` and ``eigh`` use the symmetric part ``(a + aᵀ) / 2`` of their
  input, like JAX (NumPy reads one triangle; for symmetric input the two
  agree).  Their gradients are therefore symmetric.
* Eigenvectors and singular vectors are only determined up to sign; the
  implementations pick the sign that makes the largest-magnitude entry of each
  eigenvector (each column of ``u``) positive, and ``qr`` makes ``diag(r)``
  non-negative.  The outputs are then smooth functions of the input wherever
  the decomposition is unique, so derivatives match finite differences.
* Degenerate eigenvalues (``eigh``) or singular values (``svd``) make the
  vector derivatives non-finite (the terms ``1 / (λ_j − λ_i)``), as in JAX and
  PyTorch; the gradient of functions of the values alone stays finite.
* ``det``'s derivative is ``det(a) · a⁻ᵀ``; at an exactly singular ``a`` the
  backward pass raises ``LinAlgError`` (use ``slogdet`` or keep away from it).
"""
from __future__ import annotations

import numpy as np

from ..core import Primitive
from .creation import _xp_of
from .elementwise import where
from .indexing import getitem
from .products import _insert_axis, _pad_batched, _swap as _T, matmul_p
from .reductions import reduce_sum
from .shape_ops import moveaxis, reshape

_mm = matmul_p.bind


# --------------------------------------------------------------------------- #
# Helpers (all funcgrad operations on possibly traced values)
# --------------------------------------------------------------------------- #
def _sym(x):
    return (x + _T(x)) * 0.5


def _eye(like, n, dtype=None):
    return _xp_of(like).eye(n, dtype=like.dtype if dtype is None else dtype)


def _tri_mask(x, lower, strict=False):
    """The lower (or upper) triangle of each matrix of ``x``, the rest zero."""
    n, m = x.shape[-2], x.shape[-1]
    xp = _xp_of(x)
    if lower:
        mask = xp.tri(n, m, k=-1 if strict else 0, dtype=bool)
    else:
        mask = ~xp.tri(n, m, k=0 if strict else -1, dtype=bool)
    return where(mask, x, 0.0)


def _diag(x):
    """The diagonals of square matrices ``x``: shape (..., n)."""
    return reduce_sum(x * _eye(x, x.shape[-1]), (x.ndim - 1,))


def _diag_embed(v):
    """Diagonal matrices with diagonals ``v`` (..., n): shape (..., n, n)."""
    return _insert_axis(v, -1) * _eye(v, v.shape[-1])


def _trace(x):
    return reduce_sum(x * _eye(x, x.shape[-1]), (x.ndim - 2, x.ndim - 1))


def _add(a, b):
    return b if a is None else (a if b is None else a + b)


def _float_dtype(dt):
    dt = np.dtype(dt)
    return dt if dt.kind in "fc" else np.dtype(np.float64)


def _singular_error(op, a, err):
    return np.linalg.LinAlgError(
        f"{op}: the matrix of shape {tuple(a.shape)} (or one in the batch) is singular, "
        f"i.e. not invertible to working precision (LAPACK: {err}). Check for linearly "
        "dependent rows or columns; fnp.linalg.lstsq or fnp.linalg.pinv give a "
        "least-squares answer.")


def _raising(impl):
    """``impl`` run under ``cupyx.errstate(linalg="raise")``: CuPy's default is to
    return NaN for a singular (or non positive definite) matrix; this makes it raise
    ``LinAlgError`` as NumPy does, so the error messages above apply on the GPU too."""
    def run(xp, *args, **params):
        import cupyx
        with cupyx.errstate(linalg="raise"):
            return impl(xp, *args, **params)
    run.__name__ = getattr(impl, "__name__", "impl") + "_raising"
    return run


def _batch_front(prim):
    """Batching rule of a one-operand primitive that maps over leading axes."""
    def rule(vals, dims, **params):
        out = prim.bind(moveaxis(vals[0], dims[0], 0), **params)
        return (out, [0] * len(out)) if prim.multiple_results else (out, 0)
    return rule


def _batch_solve_like(prim):
    """Batching rule of ``prim(a, b)`` with a (..., n, n) and b (..., n, k)."""
    def rule(vals, dims, **params):
        a, b = vals
        da, db = dims
        ra = a.ndim - (da is not None)
        rb = b.ndim - (db is not None)
        if da is None and ra == 2 and rb == 2:
            # One matrix, many right-hand sides: stack them as columns, so
            # the matrix is factored once for the whole batch.
            b = moveaxis(b, db, 1)
            n, size, k = b.shape
            out = prim.bind(a, reshape(b, (n, size * k)), **params)
            return reshape(out, (n, size, k)), 1
        nb = max(ra, rb) - 2
        if da is not None:
            a = _pad_batched(moveaxis(a, da, 0), ra, nb)
        if db is not None:
            b = _pad_batched(moveaxis(b, db, 0), rb, nb)
        return prim.bind(a, b, **params), 0
    return rule


def _solve_shape(a, b, **params):
    batch = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    return batch + tuple(b.shape[-2:]), _float_dtype(np.result_type(a.dtype, b.dtype))


# --------------------------------------------------------------------------- #
# triangular_solve: x = op(m)^-1 b, m the lower/upper triangle of a (with a
# unit diagonal if asked), op(m) = m or mᵀ.  b is (..., n, k).
# --------------------------------------------------------------------------- #
def _triangle(xp, a, lower, unit_diagonal):
    k = -1 if unit_diagonal else 0
    m = xp.tril(a, k) if lower else xp.triu(a, -k)
    if unit_diagonal:
        m = m + xp.eye(a.shape[-1], dtype=a.dtype)
    return m


def _triangular_solve_impl(xp, a, b, lower, transpose_a, unit_diagonal):
    # NumPy has no triangular solver; LU on the triangle is exact and stable.
    m = _triangle(xp, a, lower, unit_diagonal)
    if transpose_a:
        m = xp.swapaxes(m, -1, -2)
    try:
        return xp.linalg.solve(m, b)
    except np.linalg.LinAlgError as e:
        raise _singular_error("triangular_solve", a, e) from None


triangular_solve_p = Primitive("triangular_solve")
triangular_solve_p.impl = _triangular_solve_impl
triangular_solve_p.impls["cupy"] = _raising(_triangular_solve_impl)
triangular_solve_p.shape_rule = _solve_shape


def triangular_solve(a, b, *, lower, transpose_a=False, unit_diagonal=False):
    """Solve ``op(tri(a)) x = b`` for x; b of shape (..., n, k)."""
    return triangular_solve_p.bind(a, b, lower=lower, transpose_a=transpose_a,
                                   unit_diagonal=unit_diagonal)


# dx = -op(m)^-1 op(dm) x: the cotangent y = op(m)^-T ct gives ct_b = y and
# ct_m = -y xᵀ (or -x yᵀ when transposed), kept on the triangle a is read from.
def _triangular_solve_vjp(out, a, b, lower, transpose_a, unit_diagonal, needs):
    rx = out if needs[0] else None

    def vjp(ct):
        y = triangular_solve(a, ct, lower=lower, transpose_a=not transpose_a,
                             unit_diagonal=unit_diagonal)
        ct_a = None
        if needs[0]:
            g = _mm(rx, _T(y)) if transpose_a else _mm(y, _T(rx))
            ct_a = -_tri_mask(g, lower, strict=unit_diagonal)
        return ct_a, (y if needs[1] else None)
    return vjp


def _triangular_solve_jvp(tangents, out, a, b, lower, transpose_a, unit_diagonal):
    ta, tb = tangents
    rhs = tb
    if ta is not None:
        dm = _tri_mask(ta, lower, strict=unit_diagonal)
        rhs = _add(rhs, -_mm(_T(dm) if transpose_a else dm, out))
    return triangular_solve(a, rhs, lower=lower, transpose_a=transpose_a,
                            unit_diagonal=unit_diagonal)


triangular_solve_p.vjp = _triangular_solve_vjp
triangular_solve_p.vjp_needs = True
triangular_solve_p.jvp = _triangular_solve_jvp
triangular_solve_p.batch = _batch_solve_like(triangular_solve_p)


# --------------------------------------------------------------------------- #
# solve: x = a^-1 b, a (..., n, n), b (..., n, k), batch dims broadcast.
# --------------------------------------------------------------------------- #
def _solve_impl(xp, a, b):
    try:
        return xp.linalg.solve(a, b)
    except np.linalg.LinAlgError as e:
        raise _singular_error("solve", a, e) from None


solve_p = Primitive("solve")
solve_p.impl = _solve_impl
solve_p.impls["cupy"] = _raising(_solve_impl)
solve_p.shape_rule = _solve_shape


# y = a^-T ct;  ct_b = y,  ct_a = -y xᵀ
def _solve_vjp(out, a, b, needs):
    rx = out if needs[0] else None

    def vjp(ct):
        y = solve_p.bind(_T(a), ct)
        return (-_mm(y, _T(rx)) if needs[0] else None), (y if needs[1] else None)
    return vjp


def _solve_jvp(tangents, out, a, b):
    ta, tb = tangents
    rhs = tb if ta is None else _add(tb, -_mm(ta, out))
    return solve_p.bind(a, rhs)


solve_p.vjp = _solve_vjp
solve_p.vjp_needs = True
solve_p.jvp = _solve_jvp
solve_p.batch = _batch_solve_like(solve_p)


# --------------------------------------------------------------------------- #
# inv: d(a^-1) = -a^-1 da a^-1
# --------------------------------------------------------------------------- #
def _inv_impl(xp, a):
    try:
        return xp.linalg.inv(a)
    except np.linalg.LinAlgError as e:
        raise _singular_error("inv", a, e) from None


inv_p = Primitive("inv")
inv_p.impl = _inv_impl
inv_p.impls["cupy"] = _raising(_inv_impl)
inv_p.shape_rule = lambda a: (tuple(a.shape), _float_dtype(a.dtype))
inv_p.vjp = lambda out, a: lambda ct: (-_mm(_T(out), _mm(ct, _T(out))),)
inv_p.jvp = lambda tangents, out, a: -_mm(out, _mm(tangents[0], out))
inv_p.batch = _batch_front(inv_p)


# --------------------------------------------------------------------------- #
# det: d det = det · tr(a^-1 da);  ct_a = ct · det · a^-T
# --------------------------------------------------------------------------- #
def _expand2(v):
    return reshape(v, tuple(v.shape) + (1, 1))


det_p = Primitive("det")
det_p.impl = lambda xp, a: xp.linalg.det(a)
det_p.shape_rule = lambda a: (tuple(a.shape[:-2]), _float_dtype(a.dtype))
det_p.vjp = lambda out, a: lambda ct: (_expand2(ct * out) * _T(inv_p.bind(a)),)
det_p.jvp = lambda tangents, out, a: out * _trace(solve_p.bind(a, tangents[0]))
det_p.batch = _batch_front(det_p)


# --------------------------------------------------------------------------- #
# slogdet -> (sign, log|det|); sign is piecewise constant (zero derivative).
# --------------------------------------------------------------------------- #
def _slogdet_impl(xp, a):
    sign, logdet = xp.linalg.slogdet(a)
    return [sign, logdet]


def _slogdet_shape(a):
    aval = (tuple(a.shape[:-2]), _float_dtype(a.dtype))
    return [aval, aval]


def _slogdet_vjp(out, a):
    def vjp(cts):
        ct = cts[1]
        return (None,) if ct is None else (_expand2(ct) * _T(inv_p.bind(a)),)
    return vjp


slogdet_p = Primitive("slogdet", multiple_results=True)
slogdet_p.impl = _slogdet_impl
slogdet_p.shape_rule = _slogdet_shape
slogdet_p.vjp = _slogdet_vjp
slogdet_p.jvp = lambda tangents, out, a: [None, _trace(solve_p.bind(a, tangents[0]))]
slogdet_p.batch = _batch_front(slogdet_p)


# --------------------------------------------------------------------------- #
# cholesky: l lower with l lᵀ = (a + aᵀ)/2.
# dl = l Φ(l^-1 da_s l^-T), Φ = lower triangle with the diagonal halved;
# ct_a = sym(l^-T Φ(lᵀ ct) l^-1).
# --------------------------------------------------------------------------- #
def _cholesky_impl(xp, a):
    try:
        return xp.linalg.cholesky((a + xp.swapaxes(a, -1, -2)) * 0.5)
    except np.linalg.LinAlgError as e:
        raise np.linalg.LinAlgError(
            f"cholesky: the matrix of shape {tuple(a.shape)} (or one in the batch) is not "
            f"positive definite (LAPACK: {e}). Cholesky needs a symmetric positive "
            "definite matrix; add a small multiple of the identity if it is only "
            "semi-definite.") from None


def _phi(x):
    n = x.shape[-1]
    w = _xp_of(x).tri(n, n, dtype=x.dtype) - 0.5 * _eye(x, n)
    return x * w


def _cholesky_vjp(out, a):
    def vjp(ct):
        p = _phi(_mm(_T(out), ct))
        z = triangular_solve(out, p, lower=True, transpose_a=True)             # l^-T p
        s = _T(triangular_solve(out, _T(z), lower=True, transpose_a=True))     # z l^-1
        return (_sym(s),)
    return vjp


def _cholesky_jvp(tangents, out, a):
    x = triangular_solve(out, _sym(tangents[0]), lower=True)                   # l^-1 da
    y = _T(triangular_solve(out, _T(x), lower=True))                           # x l^-T
    return _mm(out, _phi(y))


cholesky_p = Primitive("cholesky")
cholesky_p.impl = _cholesky_impl
cholesky_p.impls["cupy"] = _raising(_cholesky_impl)
cholesky_p.shape_rule = lambda a: (tuple(a.shape), _float_dtype(a.dtype))
cholesky_p.vjp = _cholesky_vjp
cholesky_p.jvp = _cholesky_jvp
cholesky_p.batch = _batch_front(cholesky_p)


# --------------------------------------------------------------------------- #
# eigh of the symmetric part: (w ascending, v).  With m = vᵀ da_s v:
# dw = diag(m), dv = v (F ∘ m), F_ij = 1/(w_j - w_i) off the diagonal;
# ct_a = sym(v (diag(ct_w) + F ∘ (vᵀ ct_v)) vᵀ).
# --------------------------------------------------------------------------- #
def _positive_largest(xp, v):
    """Flip columns of ``v`` so each one's largest-magnitude entry is positive."""
    idx = xp.argmax(xp.abs(v), axis=-2)[..., None, :]
    flip = xp.take_along_axis(v, idx, axis=-2) < 0
    return flip, xp.where(flip, -v, v)


def _eigh_impl(xp, a):
    w, v = xp.linalg.eigh((a + xp.swapaxes(a, -1, -2)) * 0.5)
    return [w, _positive_largest(xp, v)[1]]


def _gap_inverse(d):
    """1/d off the diagonal, 0 on it (d[..., i, j] a difference of values j and i)."""
    off = ~_xp_of(d).eye(d.shape[-1], dtype=bool)
    return where(off, 1.0 / where(off, d, 1.0), 0.0)


def _eigh_f(w):
    return _gap_inverse(_insert_axis(w, -2) - _insert_axis(w, -1))


def _eigh_vjp(out, a):
    w, v = out

    def vjp(cts):
        ct_w, ct_v = cts
        inner = None if ct_v is None else _eigh_f(w) * _mm(_T(v), ct_v)
        if ct_w is not None:
            inner = _add(inner, _diag_embed(ct_w))
        if inner is None:
            return (None,)
        return (_sym(_mm(v, _mm(inner, _T(v)))),)
    return vjp


def _eigh_jvp(tangents, out, a):
    w, v = out
    m = _mm(_T(v), _mm(_sym(tangents[0]), v))
    return [_diag(m), _mm(v, _eigh_f(w) * m)]


def _eigh_shape(a):
    dt = _float_dtype(a.dtype)
    return [(tuple(a.shape[:-1]), dt), (tuple(a.shape), dt)]


eigh_p = Primitive("eigh", multiple_results=True)
eigh_p.impl = _eigh_impl
eigh_p.shape_rule = _eigh_shape
eigh_p.vjp = _eigh_vjp
eigh_p.jvp = _eigh_jvp
eigh_p.batch = _batch_front(eigh_p)


# --------------------------------------------------------------------------- #
# svd: [u, s, vh] (or [s] when compute_uv=False).  Derivatives of u and vh
# need the reduced form (full_matrices=False, or a square matrix).  With F_ij =
# 1/(s_j² − s_i²) off the diagonal (Townsend 2016, "Differentiating the SVD"):
#   ct_a = u [diag(ct_s) + (F∘(uᵀū − ūᵀu)) S + S (F∘(vᵀv̄ − v̄ᵀv))] vᵀ
#          + (I − uuᵀ) ū S⁻¹ vᵀ  (m > n)  + u S⁻¹ v̄ᵀ (I − vvᵀ)  (n > m)
# --------------------------------------------------------------------------- #
def _svd_impl(xp, a, full_matrices, compute_uv):
    if not compute_uv:
        return [xp.linalg.svd(a, compute_uv=False)]
    u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    flip, uk = _positive_largest(xp, u[..., :k])
    u[..., :k] = uk
    vh[..., :k, :] = xp.where(xp.swapaxes(flip, -1, -2), -vh[..., :k, :], vh[..., :k, :])
    return [u, s, vh]


def _svd_shape(a, full_matrices, compute_uv):
    batch = tuple(a.shape[:-2])
    m, n = a.shape[-2], a.shape[-1]
    k = min(m, n)
    dt = _float_dtype(a.dtype)
    if not compute_uv:
        return [(batch + (k,), dt)]
    if full_matrices:
        return [(batch + (m, m), dt), (batch + (k,), dt), (batch + (n, n), dt)]
    return [(batch + (m, k), dt), (batch + (k,), dt), (batch + (k, n), dt)]


def _svd_f(s):
    s2 = s * s
    return _gap_inverse(_insert_axis(s2, -2) - _insert_axis(s2, -1))


def _check_reduced(a, full_matrices):
    m, n = a.shape[-2], a.shape[-1]
    if full_matrices and m != n:
        raise NotImplementedError(
            f"svd: the derivative of the full SVD of a non-square matrix (shape "
            f"{tuple(a.shape)}) is not defined: the extra singular vectors are arbitrary "
            "(the singular values alone can be differentiated). Call "
            "fnp.linalg.svd(a, full_matrices=False).")


def _svd_vjp(out, a, full_matrices, compute_uv):
    if not compute_uv:
        def vjp_values(cts):
            u, _, vh = svd_p.bind(a, full_matrices=False, compute_uv=True)
            return (_mm(u * _insert_axis(cts[0], -2), vh),)
        return vjp_values
    u, s, vh = out
    m, n = a.shape[-2], a.shape[-1]
    if full_matrices and m != n:
        # Only the singular values have a derivative here: their cotangent
        # flows through the first k singular vectors.
        k = min(m, n)

        def vjp_full(cts):
            if cts[0] is not None or cts[2] is not None:
                _check_reduced(a, full_matrices)
            if cts[1] is None:
                return (None,)
            uk = getitem(u, (Ellipsis, slice(None), slice(0, k)))
            vhk = getitem(vh, (Ellipsis, slice(0, k), slice(None)))
            return (_mm(uk * _insert_axis(cts[1], -2), vhk),)
        return vjp_full

    def vjp(cts):
        ct_u, ct_s, ct_vh = cts
        s_row = _insert_axis(s, -2)
        inner = None if ct_s is None else _diag_embed(ct_s)
        if ct_u is not None or ct_vh is not None:
            f = _svd_f(s)
        if ct_u is not None:
            utu = _mm(_T(u), ct_u)
            inner = _add(inner, f * (utu - _T(utu)) * s_row)
        if ct_vh is not None:
            ct_v = _T(ct_vh)
            vtv = _mm(vh, ct_v)
            inner = _add(inner, _insert_axis(s, -1) * (f * (vtv - _T(vtv))))
        ct_a = None if inner is None else _mm(u, _mm(inner, vh))
        if ct_u is not None and m > n:
            ct_a = _add(ct_a, _mm((ct_u - _mm(u, utu)) / s_row, vh))
        if ct_vh is not None and n > m:
            ct_a = _add(ct_a, _mm(u / s_row, _T(ct_v - _mm(_T(vh), vtv))))
        return (ct_a,)
    return vjp


def _svd_jvp(tangents, out, a, full_matrices, compute_uv):
    t = tangents[0]
    if not compute_uv:
        u, _, vh = svd_p.bind(a, full_matrices=False, compute_uv=True)
        return [_diag(_mm(_T(u), _mm(t, _T(vh))))]
    _check_reduced(a, full_matrices)
    u, s, vh = out
    m, n = a.shape[-2], a.shape[-1]
    v = _T(vh)
    ds = _mm(_T(u), _mm(t, v))
    f = _svd_f(s)
    s_row = _insert_axis(s, -2)
    dss = ds * s_row
    sds = _insert_axis(s, -1) * ds
    du = _mm(u, f * (dss + _T(dss)))
    dv = _mm(v, f * (sds + _T(sds)))
    if m > n:
        dav = _mm(t, v)
        du = du + (dav - _mm(u, _mm(_T(u), dav))) / s_row
    if n > m:
        dau = _mm(_T(t), u)
        dv = dv + (dau - _mm(v, _mm(vh, dau))) / s_row
    return [du, _diag(ds), _T(dv)]


svd_p = Primitive("svd", multiple_results=True)
svd_p.impl = _svd_impl
svd_p.shape_rule = _svd_shape
svd_p.vjp = _svd_vjp
svd_p.jvp = _svd_jvp
svd_p.batch = _batch_front(svd_p)


# --------------------------------------------------------------------------- #
# qr (reduced), diag(r) made non-negative.  Derivatives for m >= n
# (j-towns.github.io/papers/qr-derivative.pdf).  With c = qᵀ da r^-1 and
# do = tril(c, -1) − tril(c, -1)ᵀ:  dq = q (do − c) + da r^-1,  dr = (c − do) r;
# ct_a = (q̄ + q N) r^-T with M = qᵀq̄ − r̄ rᵀ, N = tril(M − Mᵀ, −1) − M.
# --------------------------------------------------------------------------- #
def _qr_impl(xp, a):
    q, r = xp.linalg.qr(a)
    flip = xp.diagonal(r, axis1=-2, axis2=-1) < 0
    return [xp.where(flip[..., None, :], -q, q), xp.where(flip[..., :, None], -r, r)]


def _qr_shape(a):
    batch = tuple(a.shape[:-2])
    m, n = a.shape[-2], a.shape[-1]
    k = min(m, n)
    dt = _float_dtype(a.dtype)
    return [(batch + (m, k), dt), (batch + (k, n), dt)]


def _check_tall(a):
    m, n = a.shape[-2], a.shape[-1]
    if m < n:
        raise NotImplementedError(
            f"qr: derivatives are implemented for matrices with at least as many rows "
            f"as columns; got shape {tuple(a.shape)}. For a wide matrix, differentiate "
            "the QR of its transpose (an LQ decomposition) instead.")


def _qr_vjp(out, a):
    _check_tall(a)
    q, r = out

    def vjp(cts):
        ct_q, ct_r = cts
        if ct_q is None and ct_r is None:
            return (None,)
        m_ = None if ct_q is None else _mm(_T(q), ct_q)
        if ct_r is not None:
            m_ = _add(m_, -_mm(ct_r, _T(r)))
        b = _mm(q, _tri_mask(m_ - _T(m_), lower=True, strict=True) - m_)
        b = _add(ct_q, b)
        return (_T(triangular_solve(r, _T(b), lower=False)),)
    return vjp


def _qr_jvp(tangents, out, a):
    _check_tall(a)
    q, r = out
    t = tangents[0]
    b = _T(triangular_solve(r, _T(t), lower=False, transpose_a=True))           # da r^-1
    c = _mm(_T(q), b)
    low = _tri_mask(c, lower=True, strict=True)
    do = low - _T(low)
    return [_mm(q, do - c) + b, _mm(c - do, r)]


qr_p = Primitive("qr", multiple_results=True)
qr_p.impl = _qr_impl
qr_p.shape_rule = _qr_shape
qr_p.vjp = _qr_vjp
qr_p.jvp = _qr_jvp
qr_p.batch = _batch_front(qr_p)


# --------------------------------------------------------------------------- #
# pinv: p = a⁺ (singular values <= rcond · largest treated as zero).  Where the
# rank is locally constant (Golub & Pereyra 1973):
#   dp = −p da p + p pᵀ daᵀ (I − a p) + (I − p a) daᵀ pᵀ p
# --------------------------------------------------------------------------- #
pinv_p = Primitive("pinv")
pinv_p.impl = lambda xp, a, rcond: xp.linalg.pinv(a, rcond=rcond)
pinv_p.shape_rule = lambda a, rcond: (tuple(a.shape[:-2]) + (a.shape[-1], a.shape[-2]),
                                      _float_dtype(a.dtype))


def _pinv_vjp(out, a, rcond):
    p = out

    def vjp(ct):
        pt = _T(p)
        ctt = _T(ct)
        t1 = -_mm(pt, _mm(ct, pt))
        g2 = _mm(ctt, _mm(p, pt))                      # ctᵀ p pᵀ
        t2 = g2 - _mm(a, _mm(p, g2))                   # (I − a p) ctᵀ p pᵀ
        h = _mm(pt, _mm(p, ctt))                       # pᵀ p ctᵀ
        t3 = h - _mm(_mm(h, p), a)                     # pᵀ p ctᵀ (I − p a)
        return (t1 + t2 + t3,)
    return vjp


def _pinv_jvp(tangents, out, a, rcond):
    p = out
    t = tangents[0]
    tt = _T(t)
    x = _mm(p, _mm(_T(p), tt))                         # p pᵀ daᵀ
    y = _mm(tt, _mm(_T(p), p))                         # daᵀ pᵀ p
    return -_mm(p, _mm(t, p)) + (x - _mm(_mm(x, a), p)) + (y - _mm(p, _mm(a, y)))


pinv_p.vjp = _pinv_vjp
pinv_p.jvp = _pinv_jvp
pinv_p.batch = _batch_front(pinv_p)
