"""funcgrad.numpy shape functions vs NumPy: values, gradients, vmap and error messages."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.testing import check_grads
from funcgrad.testing import strategies as fst


def _close(got, want, **kw):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, **kw)


def _same(fn, np_fn, *args, grad=True, **kw):
    """fnp and NumPy agree on ``args``; ``fn``'s gradient matches finite differences."""
    got = fn(*args, **kw)
    want = np_fn(*args, **kw)
    if isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _close(g, w)
    else:
        _close(got, want)
    if grad:
        check_grads(lambda *a: fn(*a, **kw), args, order=1, eps=1e-3)


arrays = fst.arrays(shape=fst.shapes(min_dims=1, max_dims=3))


@st.composite
def reshape_targets(draw):
    x = draw(arrays)
    dims = list(x.shape)
    draw(st.randoms()).shuffle(dims)
    shape = dims + [1] * draw(st.integers(0, 1))
    shape[draw(st.integers(0, len(shape) - 1))] = -1
    return x, tuple(shape)


@given(reshape_targets())
def test_reshape_with_minus_one(case):
    x, shape = case
    _same(fnp.reshape, np.reshape, x, shape)
    _same(fnp.ravel, np.ravel, x)


def test_reshape_to_an_impossible_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"size 6 \(shape \(2, 3\)\) into shape \(4, -1\)"):
        fnp.reshape(np.ones((2, 3)), (4, -1))
    with pytest.raises(ValueError, match=r"shape \(2, 3\)\) into shape \(5,\)"):
        fnp.reshape(np.ones((2, 3)), 5)


@given(fst.arrays(shape=fst.shapes(max_dims=3, max_side=3).map(lambda s: s + (1,))),
       st.data())
def test_squeeze_expand_dims_moveaxis(x, data):
    _same(fnp.squeeze, np.squeeze, x)
    _same(fnp.squeeze, np.squeeze, x, x.ndim - 1)
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    _same(fnp.expand_dims, np.expand_dims, x, axis)
    perm = tuple(data.draw(st.permutations(range(x.ndim))))
    _same(fnp.transpose, np.transpose, x, perm)
    _same(fnp.moveaxis, np.moveaxis, x, 0, -1)
    _same(fnp.swapaxes, np.swapaxes, x, 0, -1)
    _same(fnp.rollaxis, np.rollaxis, x, -1)


@st.composite
def concat_case(draw):
    shape = draw(fst.shapes(min_dims=1, max_dims=3, max_side=3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    xs = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shape)
        s[axis] = draw(st.integers(0, 3))
        xs.append(draw(fst.arrays(shape=tuple(s))))
    return xs, axis


@given(concat_case())
def test_concatenate_append(case):
    xs, axis = case
    _close(fnp.concatenate(xs, axis), np.concatenate(xs, axis))
    _close(fnp.concatenate(xs, axis=None), np.concatenate(xs, axis=None))
    check_grads(lambda *a: fnp.concatenate(a, axis), tuple(xs), order=1, eps=1e-3)
    _close(fnp.append(xs[0], xs[-1], axis), np.append(xs[0], xs[-1], axis))


@given(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=2, max_side=3)),
       st.integers(1, 3), st.data())
def test_stack_family(x, n, data):
    xs = [x * (k + 1) for k in range(n)]
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    _same(lambda *a: fnp.stack(a, axis), lambda *a: np.stack(a, axis), *xs)
    for name in ("vstack", "hstack", "dstack", "column_stack"):
        _same(lambda *a: getattr(fnp, name)(a), lambda *a: getattr(np, name)(a), *xs,
              grad=name == "hstack")
    _same(lambda v: fnp.unstack(v, axis=-1), lambda v: np.unstack(v, axis=-1), x)


@given(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=3, max_side=6)), st.data())
def test_split_and_array_split(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[axis]
    k = data.draw(st.integers(1, 4))
    _same(fnp.array_split, np.array_split, x, k, axis)
    cuts = sorted(data.draw(st.lists(st.integers(0, n + 1), max_size=3)))
    _same(fnp.split, np.split, x, cuts, axis)
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    _same(fnp.split, np.split, x, data.draw(st.sampled_from(divisors)), axis)


def test_split_errors():
    with pytest.raises(ValueError, match="equal division"):
        fnp.split(np.ones(5), 2)
    with pytest.raises(np.exceptions.AxisError, match="dimension 1"):
        fnp.split(np.ones(4), 2, axis=1)


@given(fst.arrays(shape=fst.shapes(max_dims=2, max_side=3)),
       st.one_of(st.integers(0, 3), st.lists(st.integers(0, 2), min_size=1, max_size=3)),
       st.integers(0, 3))
def test_tile_and_repeat(x, reps, r):
    _same(fnp.tile, np.tile, x, reps if isinstance(reps, int) else tuple(reps))
    _same(fnp.repeat, np.repeat, x, r)
    if x.ndim:
        _same(fnp.repeat, np.repeat, x, r, -1)
        counts = np.arange(x.shape[0]) % 3
        _same(fnp.repeat, np.repeat, x, counts, 0)


PAD_MODES = [("constant", {}), ("constant", {"constant_values": 1.5}),
             ("constant", {"constant_values": ((1.0, 2.0),)}), ("edge", {}),
             ("reflect", {}), ("symmetric", {}), ("wrap", {}),
             ("linear_ramp", {"end_values": (1.0, -2.0)}), ("maximum", {}),
             ("minimum", {"stat_length": 2}), ("mean", {}), ("median", {}), ("empty", {})]


@pytest.mark.parametrize("mode,kw", PAD_MODES, ids=[f"{m}{i}" for i, (m, _) in
                                                    enumerate(PAD_MODES)])
def test_pad_modes(mode, kw):
    @given(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=3, max_side=3)), st.data())
    def check(x, data):
        width = data.draw(st.one_of(
            st.integers(0, 4), st.tuples(st.integers(0, 4), st.integers(0, 4)),
            st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=x.ndim,
                     max_size=x.ndim)))
        got = fnp.pad(x, width, mode, **kw)
        if mode == "empty":
            assert got.shape == np.pad(x, width, mode).shape
            return
        _close(got, np.pad(x, width, mode, **kw))
        if mode not in ("maximum", "minimum", "median"):  # kinks: ties in the statistic
            check_grads(lambda v: fnp.pad(v, width, mode, **kw), (x,), order=1, eps=1e-3)
    check()


def test_pad_traced_fill_value_and_errors():
    x = np.arange(6.0).reshape(2, 3)
    check_grads(lambda v, c: fnp.pad(v, 1, constant_values=c), (x, np.asarray(0.5)), order=2)
    xs = np.stack([x, 2 * x])
    got = fg.vmap(lambda v, c: fnp.pad(v, ((1, 0), (0, 2)), constant_values=c))(
        xs, np.array([7.0, 8.0]))
    _close(got, np.stack([np.pad(x, ((1, 0), (0, 2)), constant_values=7.0),
                          np.pad(2 * x, ((1, 0), (0, 2)), constant_values=8.0)]))
    with pytest.raises(ValueError, match="negative"):
        fnp.pad(x, -1)
    with pytest.raises(ValueError, match="mode 'bogus'"):
        fnp.pad(x, 1, "bogus")
    with pytest.raises(ValueError, match="empty axis 0"):
        fnp.pad(np.ones((0, 2)), 1, "edge")


@given(fst.arrays(shape=fst.shapes(min_dims=2, max_dims=3, max_side=4)), st.data())
def test_flip_roll_rot90(x, data):
    axis = data.draw(fst.axes(x.ndim))
    _same(fnp.flip, np.flip, x, axis)
    _same(fnp.fliplr, np.fliplr, x)
    _same(fnp.flipud, np.flipud, x)
    shift = data.draw(st.integers(-5, 5))
    _same(fnp.roll, np.roll, x, shift)
    _same(fnp.roll, np.roll, x, shift, -1)
    _same(fnp.roll, np.roll, x, (shift, 1), (0, 1))
    k = data.draw(st.integers(-3, 4))
    _same(fnp.rot90, np.rot90, x, k)
    _same(fnp.rot90, np.rot90, x, k, (1, 0))


@given(fst.arrays(shape=fst.shapes(min_dims=2, max_dims=3, max_side=4)), st.integers(-3, 3))
def test_diag_diagonal_trace_tri(x, k):
    m = x.reshape(-1, x.shape[-1])
    _same(fnp.diagonal, np.diagonal, x, k)
    _same(fnp.diagonal, np.diagonal, x, k, -1, 0)
    _same(fnp.trace, np.trace, x, k)
    _same(fnp.diag, np.diag, m, k)
    _same(fnp.diag, np.diag, m[0], k)
    _same(fnp.diagflat, np.diagflat, m[:2], k)
    _same(fnp.triu, np.triu, x, k)
    _same(fnp.tril, np.tril, x, k)


def test_meshgrid_block_insert_delete_resize():
    a, b, c = np.arange(3.0), np.arange(2.0) + 5, np.arange(4.0)
    for indexing in ("xy", "ij"):
        for sparse in (False, True):
            _same(lambda *v: fnp.meshgrid(*v, indexing=indexing, sparse=sparse),
                  lambda *v: np.meshgrid(*v, indexing=indexing, sparse=sparse), a, b, c,
                  grad=False)
    check_grads(lambda u, v: fnp.meshgrid(u, v)[0] * fnp.meshgrid(u, v)[1], (a, b), order=1)
    blocks = lambda p, q: [[p, q], [q, p]]  # noqa: E731
    p, q = np.eye(2), np.arange(4.0).reshape(2, 2)
    _same(lambda u, v: fnp.block(blocks(u, v)), lambda u, v: np.block(blocks(u, v)), p, q)
    x = np.arange(24.0).reshape(2, 3, 4)
    for obj, vals, axis in [(1, 9.0, 1), ([0, 2, 2], [7.0, 8, 9], 2), (slice(0, 2), -1.0, 0),
                            (-1, [[1.0, 2, 3, 4]], 1), (3, [5.0, 6], None)]:
        _same(lambda v, w: fnp.insert(v, obj, w, axis),
              lambda v, w: np.insert(v, obj, w, axis), x, np.asarray(vals))
        _same(lambda v: fnp.delete(v, obj, axis), lambda v: np.delete(v, obj, axis), x)
    _same(fnp.resize, np.resize, np.arange(3.0), (2, 4))
    _close(fnp.trim_zeros(np.array([0, 0, 1, 2, 0])), np.trim_zeros(np.array([0, 0, 1, 2, 0])))


def test_apply_along_axis_under_grad_and_vmap():
    x = np.arange(24.0).reshape(2, 3, 4)

    def f(v):
        return fnp.stack([fnp.sum(v * v), fnp.max(v)])
    _close(fnp.apply_along_axis(f, 1, x), np.apply_along_axis(f, 1, x))
    check_grads(lambda v: fnp.apply_along_axis(f, 1, v), (x,), order=1)
    _close(fg.vmap(lambda v: fnp.apply_along_axis(f, 0, v))(x),
           np.stack([np.apply_along_axis(f, 0, v) for v in x]))
    _close(fnp.apply_over_axes(fnp.sum, x, [0, 2]), np.apply_over_axes(np.sum, x, [0, 2]))


def test_shape_errors_name_the_axis_and_ndim():
    x = np.ones((2, 3))
    with pytest.raises(np.exceptions.AxisError, match="out of bounds for an array of "
                                                      "dimension 2"):
        fnp.flip(x, 2)
    with pytest.raises(np.exceptions.AxisError, match="dimension 2"):
        fnp.moveaxis(x, 0, 5)
    with pytest.raises(np.exceptions.AxisError, match="dimension 3"):
        fnp.expand_dims(x, 3)
    with pytest.raises(ValueError, match=r"axis 1 of shape \(2, 3\)"):
        fnp.squeeze(x, 1)
    with pytest.raises(ValueError, match=r"array 1 has shape \(2, 2\)"):
        fnp.concatenate([x, np.ones((2, 2))], 0)
    with pytest.raises(ValueError, match=r"cannot broadcast an array of shape \(2, 3\)"):
        fnp.broadcast_to(x, (3, 3))
    with pytest.raises(ValueError, match="axes must be different"):
        fnp.rot90(x, axes=(1, 1))


@given(fst.arrays(shape=fst.shapes(min_dims=1, max_dims=2, max_side=3)), st.integers(1, 3))
def test_composites_under_vmap_match_a_loop(x, n):
    xs = np.stack([x * (1 + k) for k in range(n)])
    for f in (lambda v: fnp.pad(v, 2, mode="reflect"), lambda v: fnp.roll(v, 1, 0),
              lambda v: fnp.tile(v, 2), lambda v: fnp.flip(v), lambda v: fnp.repeat(v, 2),
              lambda v: fnp.insert(v, 1, 0.5, 0)):
        _close(fg.vmap(f)(xs), np.stack([f(v) for v in xs]))
    assume(x.ndim == 2)
    _close(fg.vmap(fnp.trace)(xs), np.stack([np.trace(v) for v in xs]))


def test_small_helpers_match_numpy():
    x = np.arange(24.0).reshape(2, 3, 4)
    for name, args in [("atleast_1d", (2.0,)), ("atleast_2d", (np.arange(3.0),)),
                       ("atleast_3d", (np.arange(3.0),)), ("hsplit", (x, 3)),
                       ("vsplit", (x, 2)), ("dsplit", (x, [1, 3])),
                       ("broadcast_arrays", (x, np.arange(4.0))),
                       ("permute_dims", (x, (2, 0, 1))), ("matrix_transpose", (x,))]:
        _same(getattr(fnp, name), getattr(np, name), *args, grad=False)
    assert fnp.broadcast_shapes((2, 1), (3,)) == (2, 3)
    assert (fnp.shape(x), fnp.ndim(x), fnp.size(x), fnp.size(x, 1)) == (x.shape, 3, 24, 3)


def test_array_methods_on_traced_values():
    """``v.sort()``, ``v.cumsum()``, ... on tracers are the fnp functions (and return values)."""
    x = np.array([[3.0, 1.0, 2.0], [0.5, 4.0, 1.5]])

    def methods(v):
        return (v.sort().sum() + v.cumsum()[-1] + v.prod(axis=1).sum() + v.take([0, 5]).sum()
                + v.repeat(2).sum() + v.trace() + v.diagonal().sum()
                + v.cumprod(axis=1)[:, -1].sum() + v[v.argsort(axis=1) == 0].sum())

    def functions(v):
        return (fnp.sum(fnp.sort(v)) + fnp.cumsum(v)[-1] + fnp.sum(fnp.prod(v, axis=1))
                + fnp.sum(fnp.take(v, [0, 5])) + fnp.sum(fnp.repeat(v, 2)) + fnp.trace(v)
                + fnp.sum(fnp.diagonal(v)) + fnp.sum(fnp.cumprod(v, axis=1)[:, -1])
                + fnp.sum(v[fnp.argsort(v, axis=1) == 0]))
    value, grad = fg.value_and_grad(methods)(x)
    _close(value, functions(x))
    _close(grad, fg.grad(functions)(x))
    check_grads(functions, (x,), order=1)
