"""``funcgrad.numpy.linalg``: NumPy's linear algebra, differentiable.

Decompositions and solvers bind the primitives of :mod:`funcgrad.prims.linalg`
(see its docstring for the conventions: symmetric part for ``cholesky`` and
``eigh``, deterministic signs of singular/eigen vectors, non-finite vector
derivatives at degenerate eigen/singular values).  Norms, ``matrix_power``,
``multi_dot``, ``lstsq``, ``cond`` and ``matrix_rank`` are composites.

Integer inputs are computed in float64, like NumPy.  Complex inputs are not
supported yet.
"""
from __future__ import annotations

import collections

import numpy as np

from ..prims import linalg as L
from ..device import to_numpy
from ..prims.creation import _xp_of, asarray
from ..prims.elementwise import convert, stop_gradient
from ..prims.products import matmul as _matmul
from . import math as M
from . import reductions as R
from . import shapes as S

LinAlgError = np.linalg.LinAlgError

EighResult = collections.namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = collections.namedtuple("SVDResult", ["U", "S", "Vh"])
SlogdetResult = collections.namedtuple("SlogdetResult", ["sign", "logabsdet"])
QRResult = collections.namedtuple("QRResult", ["Q", "R"])

__all__ = ["LinAlgError", "inv", "solve", "solve_triangular", "det", "slogdet", "cholesky",
           "eigh", "eigvalsh", "svd", "svdvals", "qr", "norm", "pinv", "matrix_power",
           "lstsq", "cond", "multi_dot", "matrix_rank", "EighResult", "SVDResult",
           "SlogdetResult", "QRResult"]


def _float(a, op):
    a = a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a)
    if a.dtype.kind == "c":
        raise NotImplementedError(f"linalg.{op}: complex arrays are not supported yet")
    if a.dtype.kind != "f":
        a = convert(a, np.float64)
    return a


def _matrix(a, op, square=False):
    a = _float(a, op)
    if a.ndim < 2:
        raise LinAlgError(f"linalg.{op}: {a.ndim}-dimensional array given (shape "
                          f"{tuple(a.shape)}); the array must be at least two-dimensional")
    if square and a.shape[-1] != a.shape[-2]:
        raise LinAlgError(f"linalg.{op}: the last 2 dimensions of the array must be "
                          f"square; got shape {tuple(a.shape)}")
    return a


def _swap(a):
    return S.swapaxes(a, -1, -2)


# --------------------------------------------------------------------------- #
# Solvers and inverses
# --------------------------------------------------------------------------- #
def inv(a):
    """Inverse of each square matrix in ``a`` (shape (..., n, n)).

    Raises:
      LinAlgError: ``a`` is not square, or a matrix is singular.

    Examples:
        >>> fnp.linalg.inv(2.0 * fnp.eye(2))
        array([[0.5, 0. ],
               [0. , 0.5]])
    """
    return L.inv_p.bind(_matrix(a, "inv", square=True))


def _rhs(a, b, op):
    """``b`` as stacked matrices (..., n, k) and whether it was a vector (NumPy 2 rules)."""
    n = a.shape[-1]
    vector = b.ndim == 1
    rows = b.shape[0] if vector else (b.shape[-2] if b.ndim >= 2 else None)
    if b.ndim == 0 or rows != n:
        raise ValueError(
            f"linalg.{op}: a has shape {tuple(a.shape)} (matrices {n}x{n}) but b has shape "
            f"{tuple(b.shape)}; b must be a vector of length {n} or stacked matrices of "
            f"shape (..., {n}, k)")
    if not vector:
        try:
            np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
        except ValueError:
            raise ValueError(f"linalg.{op}: the batch dimensions of a {tuple(a.shape)} and b "
                             f"{tuple(b.shape)} do not broadcast together") from None
    return (S.reshape(b, (n, 1)) if vector else b), vector


def solve(a, b):
    """Solve ``a @ x = b`` for ``x``.

    Like NumPy 2: ``b`` is a vector if it is 1-D, otherwise stacked matrices
    of shape (..., n, k); batch dimensions broadcast.

    Raises:
      LinAlgError: a matrix is singular (the message says what to do).
      ValueError: the shapes do not fit (the message names them).

    Examples:
        >>> fnp.linalg.solve(2.0 * fnp.eye(2), fnp.ones(2))
        array([0.5, 0.5])
    """
    a = _matrix(a, "solve", square=True)
    b, vector = _rhs(a, _float(b, "solve"), "solve")
    x = L.solve_p.bind(a, b)
    return S.reshape(x, tuple(x.shape[:-1])) if vector else x


def solve_triangular(a, b, lower=False, trans=0, unit_diagonal=False):
    """Solve ``op(t) x = b`` where ``t`` is the lower or upper triangle of ``a``
    (funcgrad extra, with SciPy's signature; the other triangle is never read).

    Args:
      trans: 0 / ``"N"`` solves ``t x = b``; 1 / ``"T"`` solves ``tᵀ x = b``.
      unit_diagonal: take the diagonal of ``t`` as ones.
    """
    a = _matrix(a, "solve_triangular", square=True)
    if trans not in (0, 1, "N", "T"):
        raise ValueError(f"linalg.solve_triangular: trans must be 0, 1, 'N' or 'T', got "
                         f"{trans!r}")
    b, vector = _rhs(a, _float(b, "solve_triangular"), "solve_triangular")
    x = L.triangular_solve(a, b, lower=bool(lower), transpose_a=trans in (1, "T"),
                           unit_diagonal=bool(unit_diagonal))
    return S.reshape(x, tuple(x.shape[:-1])) if vector else x


def det(a):
    """Determinant of each square matrix in ``a``.

    Its gradient is ``det(a) · inv(a)ᵀ``; at an exactly singular matrix the
    backward pass raises LinAlgError (the adjugate is not formed).  Prefer
    :func:`slogdet` for log-determinants.
    """
    return L.det_p.bind(_matrix(a, "det", square=True))


def slogdet(a):
    """Sign and log of the absolute value of the determinant: ``(sign, logabsdet)``.

    ``sign`` has zero derivative; ``d logabsdet = tr(a⁻¹ da)``.
    """
    sign, logdet = L.slogdet_p.bind(_matrix(a, "slogdet", square=True))
    return SlogdetResult(sign, logdet)


def pinv(a, rcond=None, hermitian=False, *, rtol=np._NoValue):
    """Moore-Penrose pseudo-inverse via the SVD.

    Singular values at most ``rcond`` times the largest are treated as zero
    (``rcond`` defaults to 1e-15, or ``rtol`` as in NumPy 2).  The derivative
    (Golub & Pereyra) is exact where the rank does not change nearby; it does
    not go through the SVD's derivative, so repeated singular values are fine.
    """
    a = _matrix(a, "pinv")
    if rcond is None:
        if rtol is np._NoValue:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(a.shape[-2:]) * np.finfo(a.dtype).eps
        else:
            rcond = rtol
    elif rtol is not np._NoValue:
        raise ValueError("linalg.pinv: `rtol` and `rcond` can't be both set")
    if np.ndim(rcond):
        raise NotImplementedError("linalg.pinv: rcond must be a scalar")
    return L.pinv_p.bind(a, rcond=float(rcond))


def lstsq(a, b, rcond=None):
    """Least-squares solution of ``a @ x = b``: ``(x, residuals, rank, s)`` like NumPy.

    ``x = pinv(a, rcond) @ b`` (differentiable); ``residuals`` holds the squared
    residual norms when ``a`` has full column rank and more rows than columns
    (an empty array otherwise); ``rank`` is a Python int (it needs concrete
    values: not under ``vmap``).
    """
    a = _matrix(a, "lstsq")
    if a.ndim != 2:
        raise LinAlgError(f"linalg.lstsq: a must be 2-dimensional, got shape "
                          f"{tuple(a.shape)}")
    b = _float(b, "lstsq")
    m, n = a.shape
    if b.ndim not in (1, 2) or b.shape[0] != m:
        raise LinAlgError(f"linalg.lstsq: incompatible dimensions: a has shape {(m, n)} and "
                          f"b has shape {tuple(b.shape)}; b must have {m} rows")
    if rcond is None:
        rcond = np.finfo(a.dtype).eps * max(m, n)
    x = _matmul(L.pinv_p.bind(a, rcond=float(rcond)), b)
    s = svdvals(a)
    from ..core import concrete
    s_val = to_numpy(concrete(stop_gradient(s)))  # rank: a host int
    rank = int(np.sum(s_val > rcond * (s_val.max() if s_val.size else 0.0)))
    if rank == n and m > n:
        r = b - _matmul(a, x)
        residuals = R.sum(r * r, axis=0)
        if b.ndim == 1:
            residuals = S.reshape(residuals, (1,))
    else:
        residuals = _xp_of(a).zeros((0,), dtype=a.dtype)
    return x, residuals, rank, s


# --------------------------------------------------------------------------- #
# Decompositions
# --------------------------------------------------------------------------- #
def _from_triangle(a, lower):
    """The symmetric matrix that one triangle of ``a`` describes (NumPy's reading)."""
    if lower:
        t = S.tril(a)
        return t + _swap(S.tril(a, -1))
    t = S.triu(a)
    return t + _swap(S.triu(a, 1))


def cholesky(a, *, upper=False, symmetrize_input=True):
    """Cholesky factor of each symmetric positive definite matrix in ``a``.

    Returns the lower factor ``l`` with ``l @ lᵀ = a`` (``upper=True``: its
    transpose).  With ``symmetrize_input`` (default, as in JAX) the symmetric
    part ``(a + aᵀ)/2`` is factored, which equals NumPy's result for symmetric
    ``a`` and gives a symmetric gradient; ``False`` reads one triangle, as NumPy.

    Raises:
      LinAlgError: a matrix is not positive definite.
    """
    a = _matrix(a, "cholesky", square=True)
    if not symmetrize_input:
        a = _from_triangle(a, lower=not upper)
    low = L.cholesky_p.bind(a)
    return _swap(low) if upper else low


def eigh(a, UPLO="L", *, symmetrize_input=True):  # noqa: N803 - NumPy's name
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices.

    Returns ``EighResult(eigenvalues, eigenvectors)``; column ``i`` of
    ``eigenvectors`` belongs to ``eigenvalues[..., i]`` and its largest-
    magnitude entry is positive (a deterministic sign).  With
    ``symmetrize_input`` (default) the symmetric part of ``a`` is used and
    ``UPLO`` is irrelevant; ``False`` reads the triangle ``UPLO`` names, as NumPy.

    Derivatives of the eigenvectors are non-finite where eigenvalues repeat
    (they contain ``1 / (λ_j − λ_i)``), as in JAX and PyTorch; derivatives of
    functions of the eigenvalues alone stay finite.
    """
    a = _matrix(a, "eigh", square=True)
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    if not symmetrize_input:
        a = _from_triangle(a, lower=UPLO == "L")
    w, v = L.eigh_p.bind(a)
    return EighResult(w, v)


def eigvalsh(a, UPLO="L", *, symmetrize_input=True):  # noqa: N803
    """Eigenvalues (ascending) of symmetric matrices (see :func:`eigh`)."""
    return eigh(a, UPLO, symmetrize_input=symmetrize_input).eigenvalues


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """Singular value decomposition ``a = U @ diag(S) @ Vh``.

    Returns ``SVDResult(U, S, Vh)`` (or ``S`` alone if not ``compute_uv``).
    Each column of ``U`` has its largest-magnitude entry positive (``Vh``'s
    rows flipped to match).  ``hermitian`` is accepted and ignored (the
    general algorithm is used).

    For a non-square ``a``, derivatives of ``U`` and ``Vh`` need
    ``full_matrices=False`` (the extra vectors are arbitrary); ``S`` alone can
    always be differentiated in reverse mode.  The vectors' derivatives are
    non-finite at repeated singular values, and for non-square ``a`` also at
    zero ones.
    """
    a = _matrix(a, "svd")
    full = bool(full_matrices) and a.shape[-1] != a.shape[-2] and bool(compute_uv)
    out = L.svd_p.bind(a, full_matrices=full, compute_uv=bool(compute_uv))
    return SVDResult(*out) if compute_uv else out[0]


def svdvals(x):
    """Singular values, descending (NumPy 2's ``linalg.svdvals``)."""
    return svd(x, compute_uv=False)


def qr(a, mode="reduced"):
    """QR decomposition with ``diag(R) >= 0``: ``QRResult(Q, R)`` (``mode='r'``: ``R``).

    Derivatives are implemented for matrices with at least as many rows as
    columns.  ``mode='complete'`` is supported where it equals the reduced form
    (rows <= columns); ``'raw'`` is not supported.
    """
    a = _matrix(a, "qr")
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"linalg.qr: unrecognized mode {mode!r}")
    if mode == "raw" or (mode == "complete" and a.shape[-2] > a.shape[-1]):
        raise NotImplementedError(
            f"linalg.qr: mode={mode!r} is not supported for shape {tuple(a.shape)}; use "
            "mode='reduced'")
    q, r = L.qr_p.bind(a)
    return r if mode == "r" else QRResult(q, r)


# --------------------------------------------------------------------------- #
# Norms
# --------------------------------------------------------------------------- #
def _safe_root(s, p=2):
    """``s ** (1/p)`` with derivative 0 where ``s == 0`` (the minimum-norm subgradient)."""
    zero = s == 0
    safe = M.where(zero, 1.0, s)
    root = M.sqrt(safe) if p == 2 else safe ** (1.0 / p)
    return M.where(zero, 0.0, root)


def _vector_norm(x, ord, axis, keepdims):
    ax = (axis,)
    if ord is None or ord == 2:
        return _safe_root(R.sum(x * x, ax, keepdims=keepdims))
    if isinstance(ord, str):
        raise ValueError(f"linalg.norm: invalid norm order {ord!r} for vectors")
    if ord == np.inf:
        return R.max(M.absolute(x), ax, keepdims=keepdims)
    if ord == -np.inf:
        return R.min(M.absolute(x), ax, keepdims=keepdims)
    if ord == 0:
        return R.sum(convert(x != 0, x.dtype), ax, keepdims=keepdims)
    if ord == 1:
        return R.sum(M.absolute(x), ax, keepdims=keepdims)
    return _safe_root(R.sum(M.absolute(x) ** float(ord), ax, keepdims=keepdims), float(ord))


def _matrix_norm(x, ord, axis, keepdims):
    r, c = axis
    if ord is None or ord == "fro":
        out = _safe_root(R.sum(x * x, (r, c)))
    elif ord in ("nuc", 2, -2):
        s = svdvals(S.moveaxis(x, (r, c), (-2, -1)))
        out = (R.sum(s, -1) if ord == "nuc" else
               R.max(s, -1) if ord == 2 else R.min(s, -1))
    elif ord in (1, -1, np.inf, -np.inf):
        red, keep = (r, c) if ord in (1, -1) else (c, r)
        col = R.sum(M.absolute(x), red)
        keep -= keep > red
        out = R.max(col, keep) if ord > 0 else R.min(col, keep)
    else:
        raise ValueError(f"linalg.norm: invalid norm order {ord!r} for matrices")
    if keepdims:
        out = S.reshape(out, tuple(1 if i in (r, c) else n for i, n in enumerate(x.shape)))
    return out


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - NumPy's name
    """Vector or matrix norm, with NumPy's ``ord``/``axis``/``keepdims`` rules.

    Vector orders: None/2, 1, inf, -inf, 0 (count of non-zeros), any p.
    Matrix orders: None/'fro', 'nuc', 1, -1, 2, -2, inf, -inf.

    At the zero vector (or matrix) the 2-norm, the p-norms and 'fro' have
    derivative 0 -- the subgradient of minimum norm -- instead of NaN.

    Examples:
        >>> fnp.linalg.norm(fnp.asarray([3.0, 4.0]))
        5.0
    """
    x = _float(x, "norm")
    nd = x.ndim
    if axis is None:
        if ord is None:
            out = _safe_root(R.sum(x * x))
            return S.reshape(out, (1,) * nd) if keepdims else out
        if nd == 1:
            axis = 0
        elif nd == 2:
            axis = (0, 1)
        else:
            raise ValueError(f"linalg.norm: improper number of dimensions to norm (array of "
                             f"shape {tuple(x.shape)} with ord={ord!r}; pass axis=)")
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    axis = tuple(int(a) for a in axis)
    for a in axis:
        if not -nd <= a < nd:
            raise np.exceptions.AxisError(f"linalg.norm: axis {a} is out of bounds for an "
                                          f"array of dimension {nd}")
    axis = tuple(a % nd for a in axis)
    if len(axis) == 1:
        return _vector_norm(x, ord, axis[0], keepdims)
    if len(axis) == 2:
        if axis[0] == axis[1]:
            raise ValueError("linalg.norm: duplicate axes given")
        return _matrix_norm(x, ord, axis, keepdims)
    raise ValueError(f"linalg.norm: improper number of dimensions to norm (axis={axis})")


def cond(x, p=None):
    """Condition number of each matrix: ``norm(x, p) * norm(inv(x), p)``.

    For ``p`` None, 2 or -2 it is the ratio of extreme singular values.
    """
    x = _matrix(x, "cond")
    if p in (None, 2, -2):
        s = svdvals(x)
        hi, lo = s[..., 0], s[..., -1]
        return hi / lo if p != -2 else lo / hi
    x = _matrix(x, "cond", square=True)
    return norm(x, p, axis=(-2, -1)) * norm(inv(x), p, axis=(-2, -1))


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):  # noqa: N803 - NumPy's name
    """Number of singular values above ``tol`` (an integer: no derivative)."""
    A = stop_gradient(_float(A, "matrix_rank"))
    if tol is not None and rtol is not None:
        raise ValueError("linalg.matrix_rank: `tol` and `rtol` can't be both set")
    if A.ndim < 2:
        return convert(R.any(A != 0), np.int64)
    s = svdvals(A)
    if tol is None:
        rtol = max(A.shape[-2:]) * np.finfo(s.dtype).eps if rtol is None else rtol
        tol = R.max(s, -1, keepdims=True) * rtol
    else:
        tol = S.expand_dims(asarray(tol), -1)
    return R.count_nonzero(s > tol, axis=-1)


# --------------------------------------------------------------------------- #
# Products of several matrices
# --------------------------------------------------------------------------- #
def matrix_power(a, n):
    """``a`` multiplied by itself ``n`` times (by repeated squaring); ``n < 0`` inverts.

    ``n = 0`` gives identity matrices, a constant.
    """
    a = a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise LinAlgError(f"linalg.matrix_power: the last 2 dimensions of the array must be "
                          f"square; got shape {tuple(a.shape)}")
    if not isinstance(n, (int, np.integer)):
        raise TypeError("linalg.matrix_power: exponent must be an integer")
    n = int(n)
    if n == 0:
        xp = _xp_of(a)  # a constant on a's device
        eye = xp.eye(a.shape[-1], dtype=a.dtype)
        return xp.broadcast_to(eye, tuple(a.shape)).copy()
    if n < 0:
        a = inv(a)
        n = -n
    result = None
    base = a
    while n:
        if n & 1:
            result = base if result is None else _matmul(result, base)
        n >>= 1
        if n:
            base = _matmul(base, base)
    return result


def _chain_order(dims):
    """Optimal parenthesisation of a matrix chain: split[i][j] (dynamic programming)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j] = c
                    split[i][j] = k
    return split


def multi_dot(arrays, *, out=None):
    """Product of two or more matrices in the cheapest order (NumPy's ``multi_dot``).

    The first array may be 1-D (a row vector) and the last 1-D (a column).
    """
    if out is not None:
        raise TypeError("linalg.multi_dot: out= is not supported (arrays are values)")
    arrs = [a if hasattr(a, "shape") and hasattr(a, "dtype") else asarray(a) for a in arrays]
    if len(arrs) < 2:
        raise ValueError("linalg.multi_dot: expecting at least two arrays")
    if len(arrs) == 2:
        return _matmul(arrs[0], arrs[1])
    first_1d, last_1d = arrs[0].ndim == 1, arrs[-1].ndim == 1
    if first_1d:
        arrs[0] = S.reshape(arrs[0], (1, -1))
    if last_1d:
        arrs[-1] = S.reshape(arrs[-1], (-1, 1))
    for i, a in enumerate(arrs):
        if a.ndim != 2:
            raise ValueError(f"linalg.multi_dot: array {i} has shape {tuple(a.shape)}; only "
                             "the first and last may be 1-D, the others must be 2-D")
    dims = [arrs[0].shape[0]] + [a.shape[1] for a in arrs]
    split = _chain_order(dims)

    def prod(i, j):
        if i == j:
            return arrs[i]
        k = split[i][j]
        return _matmul(prod(i, k), prod(k + 1, j))
    res = prod(0, len(arrs) - 1)
    if first_1d and last_1d:
        return S.reshape(res, ())
    if first_1d:
        return S.reshape(res, (res.shape[-1],))
    if last_1d:
        return S.reshape(res, (res.shape[0],))
    return res
