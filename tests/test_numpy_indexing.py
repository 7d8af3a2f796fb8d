"""Indexing in funcgrad.numpy vs NumPy: ``x[idx]``, ``x.at[idx].*``, take & co.

Functional updates are compared with NumPy's in-place equivalents, repeated
indices included (``np.add.at`` & co.); gradients with finite differences.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.testing import check_grads
from funcgrad.testing import strategies as fst
from tests.specs.indexing import index_exprs
from tests.specs.reductions import distinct

_UFUNC = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}


def _close(got, want, **kw):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, **kw)


def _numpy_update(x, idx, v, mode):
    out = x.copy()
    if mode == "set":
        out[idx] = v
    else:
        _UFUNC[mode].at(out, idx, v)
    return out


@st.composite
def indexed(draw, kinds=("slice", "int", "array"), values=None):
    x = draw(values if values is not None else
             fst.arrays(shape=fst.shapes(min_dims=1, max_dims=3)))
    idx = draw(index_exprs(x.shape, kinds=kinds))
    if draw(st.booleans()):
        idx = idx + (Ellipsis,)
    return x, idx


@given(indexed(kinds=("slice", "int", "array")))
def test_getitem_matches_numpy_and_differentiates(case):
    x, idx = case
    _close(fnp.getitem(x, idx), x[idx])
    check_grads(lambda v: v[idx], (x,), order=2, eps=1e-3)


@pytest.mark.parametrize("mode", ["set", "add", "multiply", "min", "max"])
def test_at_updates_match_numpy_in_place(mode):
    values = distinct(fst.shapes(min_dims=1, max_dims=3))

    @given(indexed(values=values), st.data())
    def check(case, data):
        x, idx = case
        target = x[idx].shape
        ushape = target[data.draw(st.integers(0, len(target))):]
        # distinct values, away from x's: no ties for min/max
        u = data.draw(distinct(st.just(ushape))) + 100.0
        want = _numpy_update(x, idx, u, mode)
        got = getattr(fnp.at(x)[idx], mode)(u)
        if mode == "set" and not _unique_positions(x.shape, idx):
            return  # NumPy leaves the winner of repeated writes unspecified
        _close(got, want)
        check_grads(lambda a, b: getattr(fnp.at(a)[idx], mode)(b), (x, u), order=1)
    check()


def _unique_positions(shape, idx):
    ids = np.arange(int(np.prod(shape))).reshape(shape)
    hit = np.broadcast_to(ids[idx], ids[idx].shape).ravel()
    return len(np.unique(hit)) == hit.size


def test_repeated_indices_accumulate_like_ufunc_at():
    x = np.arange(5.0)
    idx = np.array([0, 2, 2, -1, 2])
    u = np.array([1.0, 2.0, 3.0, 4.0, 0.5])
    for mode in ("add", "multiply", "min", "max"):
        _close(getattr(fnp.at(x)[idx], mode)(u), _numpy_update(x, idx, u, mode))
    # add: every repeat gets the full cotangent; multiply: the product of the others.
    g = fg.grad(lambda w: fnp.sum(fnp.at(x)[idx].add(w) ** 2))(u)
    _close(g, 2 * _numpy_update(x, idx, u, "add")[idx])
    g = fg.grad(lambda w: fnp.sum(fnp.at(x + 1)[idx].multiply(w)))(u)
    _close(g, [1.0, 3 * 3.0 * 0.5, 3 * 2.0 * 0.5, 5.0, 3 * 2.0 * 3.0])
    # a zero among the repeated factors: still exact (no division by the update)
    uz = np.array([1.0, 0.0, 3.0, 4.0, 0.5])
    g = fg.grad(lambda w: fnp.sum(fnp.at(x + 1)[idx].multiply(w)))(uz)
    _close(g, [1.0, 3 * 3.0 * 0.5, 0.0, 5.0, 0.0])
    # set: the last write wins, and only it gets a derivative
    g = fg.grad(lambda w: fnp.sum(fnp.at(x)[np.array([1, 1])].set(w) * 3.0))(u[:2])
    _close(g, [0.0, 3.0])


def test_at_is_functional_and_works_on_tracers():
    x = np.zeros(3)
    y = fnp.at(x)[1].set(5.0)
    _close(x, np.zeros(3))
    _close(y, [0.0, 5.0, 0.0])
    _close(fg.grad(lambda v: fnp.sum(v.at[1:].multiply(v[:2])))(np.array([1.0, 2.0, 3.0])),
           [1.0 + 2.0, 1.0 + 3.0, 2.0])
    assert fg.grad(lambda v: v.at[0].get() * 2.0)(np.ones(2))[0] == 2.0


def test_boolean_mask_indexing():
    x = np.arange(12.0).reshape(3, 4)
    m = x % 3 == 0
    _close(fnp.getitem(x, m), x[m])
    _close(fnp.getitem(x, (m[:, 0], slice(1, None))), x[m[:, 0], 1:])
    check_grads(lambda v: v[m] * v[m], (x,), order=1)
    check_grads(lambda v: v[v > 5.5], (x,), order=1)  # a mask computed from the input
    _close(fnp.at(x)[m].set(-1.0), np.where(m, -1.0, x))
    with pytest.raises(IndexError, match="boolean mask"):
        fg.vmap(lambda v: v[v > 2])(x)


def test_out_of_bounds_errors_name_the_axis_and_size():
    x = np.ones((2, 3))
    with pytest.raises(IndexError, match=r"index 3 is out of bounds for axis 1 with size 3"):
        fnp.getitem(x, (0, 3))
    with pytest.raises(IndexError, match=r"index -3 is out of bounds for axis 0 with size 2"):
        fnp.getitem(x, np.array([0, -3]))
    with pytest.raises(IndexError, match=r"axis 1 with size 3"):
        fnp.at(x)[:, np.array([5])].add(1.0)
    with pytest.raises(IndexError, match=r"axis 0 with size 2"):
        fnp.take_along_axis(x, np.array([[2, 0, 0]]), 0)
    with pytest.raises(IndexError, match=r"axis 1 with size 3"):
        fnp.take(x, [7], axis=1)
    with pytest.raises(IndexError, match="too many indices"):
        fnp.getitem(x, (0, 0, 0))
    with pytest.raises(IndexError, match=r"gather: index 9 is out of bounds"):
        fg.vmap(lambda i: fnp.getitem(np.arange(3.0), i))(np.array([[0], [9]]))
    with pytest.raises(ValueError, match=r"cannot be broadcast to the indexed shape \(2,\)"):
        fnp.at(np.ones(3))[:2].set(np.ones(3))


@given(st.data())
def test_vmap_with_per_example_indices_matches_a_loop(data):
    x = data.draw(fst.arrays(shape=fst.shapes(min_dims=2, max_dims=3, min_side=2)))
    b = data.draw(st.integers(1, 3))
    i0 = data.draw(fst.index_arrays(x.shape[0], shape=st.just((b, 2))))
    i1 = data.draw(fst.index_arrays(x.shape[1], shape=st.just((b, 3))))
    xs = np.stack([x * (k + 1) for k in range(b)])
    # basic and advanced, adjacent and separated (the int makes the last one separated)
    for make, ids in ((lambda i: (i,), i0), (lambda i: (slice(None), i), i1),
                      (lambda i: (i, slice(None), 0) if x.ndim == 3 else (i, 0), i0)):
        want = np.stack([v[make(i)] for v, i in zip(xs, ids)])
        _close(fg.vmap(lambda v, i: v[make(i)])(xs, ids), want)
        _close(fg.vmap(lambda i: fnp.getitem(x, make(i)))(ids),
               np.stack([x[make(i)] for i in ids]))
        us = data.draw(distinct(st.just(want.shape))) + 100.0
        for mode in ("add", "max", "set"):
            if mode == "set" and not all(_unique_positions(x.shape, make(i)) for i in ids):
                continue
            got = fg.vmap(lambda v, i, u: getattr(fnp.at(v)[make(i)], mode)(u))(xs, ids, us)
            _close(got, np.stack([_numpy_update(v, make(i), u, mode)
                                  for v, i, u in zip(xs, ids, us)]))


def test_take_and_take_along_axis():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 2))
    for axis in (None, 0, -2):
        idx = np.array([[0, 2], [1, 1]])
        _close(fnp.take(x, idx, axis=axis), np.take(x, idx, axis=axis))
        check_grads(lambda v: fnp.take(v, idx, axis=axis), (x,), order=1)
    _close(fnp.take(x, [5, -9], axis=1, mode="wrap"), np.take(x, [5, -9], axis=1, mode="wrap"))
    _close(fnp.take(x, [5, -9], axis=1, mode="clip"), np.take(x, [5, -9], axis=1, mode="clip"))
    order = np.argsort(x, axis=1)
    _close(fnp.take_along_axis(x, order, 1), np.take_along_axis(x, order, 1))
    short = order[:, :2, :1]  # broadcasts against x on the last axis
    _close(fnp.take_along_axis(x, short, 1), np.take_along_axis(x, short, 1))
    check_grads(lambda v: fnp.take_along_axis(v, short, 1), (x,), order=2)
    _close(fnp.take_along_axis(x, np.array([3, 0]), None),
           np.take_along_axis(x, np.array([3, 0]), None))
    with pytest.raises(ValueError, match="same number of dimensions"):
        fnp.take_along_axis(x, np.array([0]), 1)


def test_put_along_axis_and_put_return_new_arrays():
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0], [3], [1]])
    want = x.copy()
    np.put_along_axis(want, idx, -1.0, 1)
    _close(fnp.put_along_axis(x, idx, -1.0, 1), want)
    _close(fnp.put_along_axis(x, idx, 2.0, 1, mode="add"), x + np.where(
        np.arange(4)[None] == idx, 2.0, 0.0))
    check_grads(lambda v, w: fnp.put_along_axis(v, idx, w, 1), (x, np.ones((3, 1))), order=1)
    want = x.copy()
    np.put(want, [0, 5, 7], [9.0, 8.0])
    _close(fnp.put(x, [0, 5, 7], [9.0, 8.0]), want)


def test_choose_select_compress_extract_piecewise():
    x = np.linspace(-2.0, 2.0, 7)
    a = np.array([0, 1, 2, 1, 0, 2, 1])
    choices = [x, x * x, -x]
    _close(fnp.choose(a, choices), np.choose(a, choices))
    check_grads(lambda *c: fnp.choose(a, c), tuple(choices), order=1)
    conds = [x < -1, x > 1]
    _close(fnp.select(conds, [x, x * x], 9.0), np.select(conds, [x, x * x], 9.0))
    check_grads(lambda v: fnp.select([v < -1.1, v > 1.1], [v, v * v], 0.5), (x,), order=1)
    _close(fnp.compress([True, False, True], x), np.compress([True, False, True], x))
    m = np.arange(12.0).reshape(3, 4)
    _close(fnp.compress([False, True, True], m, axis=0),
           np.compress([False, True, True], m, axis=0))
    _close(fnp.extract(m > 6, m), np.extract(m > 6, m))
    fns = [lambda v: fnp.log(-v), lambda v: v * v]  # log only ever sees negative values
    _close(fnp.piecewise(x, [x < 0, x >= 0], fns), np.piecewise(x, [x < 0, x >= 0], [
        lambda v: np.log(-v), lambda v: v * v]))
    check_grads(lambda v: fnp.piecewise(v, [x < 0, x >= 0], fns), (x + 0.1,), order=1)
    _close(fnp.piecewise(x, x < 0, [-1.0, lambda v: v]), np.piecewise(x, x < 0, [-1.0,
                                                                                lambda v: v]))
    xs = np.stack([x, -x])
    _close(fg.vmap(lambda v: fnp.piecewise(v, v < 0, [0.0, lambda u: u * 2]))(xs),
           np.stack([np.piecewise(v, v < 0, [0.0, lambda u: u * 2]) for v in xs]))


def test_nonzero_family_needs_concrete_values():
    x = np.array([[0.0, 2.0], [3.0, 0.0]])
    for name in ("nonzero", "argwhere", "flatnonzero"):
        got, want = getattr(fnp, name)(x), getattr(np, name)(x)
        for g, w in zip(got if isinstance(got, tuple) else [got],
                        want if isinstance(want, tuple) else [want]):
            np.testing.assert_array_equal(g, w)
        with pytest.raises(fg.ConcretizationError, match=f"{name}: the size of the result"):
            fg.vmap(getattr(fnp, name))(x)
    np.testing.assert_array_equal(fnp.where(x > 1)[1], np.where(x > 1)[1])
    assert fg.grad(lambda v: fnp.sum(v[fnp.nonzero(v)]))(x).tolist() == [[0, 1], [1, 0]]


def test_bincount_index_helpers():
    x = np.array([0, 2, 2, 5])
    w = np.array([0.5, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(fnp.bincount(x), np.bincount(x))
    _close(fnp.bincount(x, w, minlength=8), np.bincount(x, w, minlength=8))
    check_grads(lambda v: fnp.bincount(x, v), (w,), order=2)
    xs = np.array([[0, 1, 1, 2], [2, 2, 2, 0]])
    _close(fg.vmap(lambda i: fnp.bincount(i, length=4))(xs),
           np.stack([np.bincount(i, minlength=4) for i in xs]))
    with pytest.raises(fg.ConcretizationError, match="length="):
        fg.vmap(fnp.bincount)(xs)
    with pytest.raises(ValueError, match="non-negative"):
        fnp.bincount(np.array([1, -1]))
    assert fnp.unravel_index(7, (3, 4)) == np.unravel_index(7, (3, 4))
    ij = fg.vmap(lambda i: fnp.stack(fnp.unravel_index(i, (3, 4))))(np.array([7, 11]))
    np.testing.assert_array_equal(ij, [[1, 3], [2, 3]])
    np.testing.assert_array_equal(
        fnp.ravel_multi_index((np.array([1, 2]), np.array([3, 0])), (3, 4)), [7, 8])
    for name in ("tril_indices", "triu_indices"):
        for g, w in zip(getattr(fnp, name)(4, 1), getattr(np, name)(4, 1)):
            np.testing.assert_array_equal(g, w)
    m = np.arange(9.0).reshape(3, 3)
    _close(fnp.at(m)[fnp.diag_indices_from(m)].set(0.0), m * (1 - np.eye(3)))
