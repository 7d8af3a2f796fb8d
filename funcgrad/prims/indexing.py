"""Indexing: ``x[idx]`` (gather) and functional updates ``x.at[idx].add/set/...`` (scatter).

An index is split into a hashable *template* (a parameter) and the integer
index arrays (positional values, so they can be traced and batched).  The
template holds ints, ``None``, slices as ``("s", start, stop, step)`` and
``("a", k)`` for the k-th index array.  Ellipsis is expanded and boolean masks
become integer arrays (``nonzero``) before binding, so every primitive sees one
canonical form.
"""
from __future__ import annotations

import numpy as np

from ..core import ConcretizationError, Primitive, Tracer, concrete
from ._rules import defjvp


# --------------------------------------------------------------------------- #
# Index canonicalisation
# --------------------------------------------------------------------------- #
def _as_index_array(v, op):
    if isinstance(v, Tracer):
        if v.dtype.kind == "b":
            try:
                v = concrete(v)
            except ConcretizationError:
                raise IndexError(
                    f"{op}: a boolean mask whose values are not known at trace time "
                    "(under vmap or jit) would give an array of unknown size. Use "
                    "fnp.where(mask, x, 0) to keep the shape fixed.") from None
            return np.nonzero(v)
        if v.dtype.kind not in "iu":
            raise IndexError(f"{op}: index arrays must be integers or booleans, got "
                             f"dtype {v.dtype}")
        return (v,)
    a = np.asarray(v) if not hasattr(v, "dtype") else v
    if a.dtype.kind == "b":
        return a.nonzero()
    if a.dtype.kind not in "iu":
        if a.size == 0:
            return (a.astype(np.int64),)
        raise IndexError(f"{op}: only integers, slices (`:`), ellipsis (`...`), None "
                         "and integer or boolean arrays are valid indices; got an "
                         f"array of dtype {a.dtype}")
    return (a,)


def canonical_index(idx, shape, op="getitem"):
    """Split ``idx`` into (template, index arrays) for an array of ``shape``."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    ndim = len(shape)
    # How many array dims the index consumes (booleans consume their ndim).
    consumed = 0
    for e in idx:
        if e is None or e is Ellipsis:
            continue
        if hasattr(e, "dtype") and getattr(e, "dtype").kind == "b":
            consumed += max(e.ndim, 1) if hasattr(e, "ndim") else 1
        elif isinstance(e, (list,)) and np.asarray(e).dtype.kind == "b":
            consumed += np.asarray(e).ndim
        else:
            consumed += 1
    if consumed > ndim:
        raise IndexError(f"{op}: too many indices for an array of shape {tuple(shape)}: "
                         f"the index {idx!r} indexes {consumed} dimensions but the array "
                         f"has {ndim}")
    template = []
    arrays = []
    dim = 0
    seen_ellipsis = False
    for e in idx:
        if e is Ellipsis:
            if seen_ellipsis:
                raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
            seen_ellipsis = True
            n = ndim - consumed
            template.extend([("s", None, None, None)] * n)
            dim += n
        elif e is None:
            template.append(None)
        elif isinstance(e, slice):
            template.append(("s", _int_or_none(e.start), _int_or_none(e.stop),
                             _int_or_none(e.step)))
            dim += 1
        elif isinstance(e, (int, np.integer)) and not isinstance(e, bool):
            size = shape[dim]
            if not -size <= int(e) < size:
                raise IndexError(f"{op}: index {int(e)} is out of bounds for axis {dim} "
                                 f"with size {size} (array shape {tuple(shape)})")
            template.append(int(e) % size)
            dim += 1
        else:
            parts = _as_index_array(e, op)
            for p in parts:
                if not isinstance(p, Tracer) and p.size:
                    size = shape[dim]
                    if p.max() >= size or p.min() < -size:
                        bad = p.max() if p.max() >= size else p.min()
                        raise IndexError(f"{op}: index {int(bad)} is out of bounds for "
                                         f"axis {dim} with size {size} (array shape "
                                         f"{tuple(shape)})")
                template.append(("a", len(arrays)))
                arrays.append(p)
                dim += 1
    return tuple(template), arrays


def _int_or_none(v):
    if v is None:
        return None
    if isinstance(v, Tracer):
        v = concrete(v)
    return int(v)


def build_index(template, arrays):
    out = []
    for t in template:
        if t is None or isinstance(t, int):
            out.append(t)
        elif t[0] == "s":
            out.append(slice(t[1], t[2], t[3]))
        else:
            out.append(arrays[t[1]])
    return tuple(out)


def _has_arrays(template):
    return any(isinstance(t, tuple) and t[0] == "a" for t in template)


def _is_array_entry(t):
    return isinstance(t, tuple) and t[0] == "a"


def _is_basic_entry(t):
    return t is None or (isinstance(t, tuple) and t[0] == "s")


def _advanced_layout(template):
    """Where NumPy puts the advanced-index dimensions: (adjacent, p), or None.

    Integers count as advanced indices once an index array is present.  When
    the advanced entries are adjacent their dimensions replace them in place,
    after the ``p`` dimensions of the basic entries before them; otherwise
    they go first.
    """
    if not _has_arrays(template):
        return None
    adv = [k for k, t in enumerate(template) if not _is_basic_entry(t)]
    adjacent = adv[-1] - adv[0] + 1 == len(adv)
    return adjacent, sum(1 for t in template[:adv[0]] if _is_basic_entry(t))


def _index_shape(shape, template, arrays):
    """Result shape of ``x[index]`` for ``x`` of ``shape`` (pure shape arithmetic)."""
    basic = []
    dim = 0
    for t in template:
        if t is None:
            basic.append(1)
            continue
        if isinstance(t, tuple) and t[0] == "s":
            basic.append(len(range(*slice(t[1], t[2], t[3]).indices(shape[dim]))))
        dim += 1
    basic.extend(shape[dim:])
    layout = _advanced_layout(template)
    if layout is None:
        return tuple(basic)
    bshape = np.broadcast_shapes(*[tuple(a.shape) for a in arrays])
    adjacent, p = layout
    if adjacent:
        return tuple(basic[:p]) + bshape + tuple(basic[p:])
    return bshape + tuple(basic)


def _index_error(op, x, template, err):
    return IndexError(f"{op}: {err} (indexing an array of shape {tuple(x.shape)}; index "
                      f"arrays must lie in [-size, size) of the axis they index)")


# --------------------------------------------------------------------------- #
# gather: out = x[idx]
# --------------------------------------------------------------------------- #
def _gather_impl(xp, x, *arrays, template):
    try:
        return x[build_index(template, arrays)]
    except IndexError as e:  # index arrays only known at run time (vmap, grad)
        raise _index_error("gather", x, template, e) from None


gather_p = Primitive("gather")
gather_p.impl = _gather_impl
gather_p.shape_rule = lambda x, *arrays, template: (
    _index_shape(tuple(x.shape), template, arrays), x.dtype)


def _gather_vjp(out, x, *arrays, template):
    shape, dtype = x.shape, x.dtype
    return lambda ct: (scatter(None, ct, arrays, template, "add", shape=shape, dtype=dtype),
                       ) + (None,) * len(arrays)


gather_p.vjp = _gather_vjp
defjvp(gather_p, lambda t, out, x, *arrays, template: gather_p.bind(t, *arrays,
                                                                     template=template))


def getitem(x, idx):
    """``x[idx]`` with NumPy semantics (basic and advanced indexing)."""
    template, arrays = canonical_index(idx, tuple(x.shape))
    arrays = _on_device_of(x, arrays)
    if all(t == ("s", None, None, None) for t in template) and not arrays:
        return x
    return gather_p.bind(x, *arrays, template=template)


def index_axis(x, i, axis):
    """``x`` indexed by the integer ``i`` along ``axis``."""
    return getitem(x, (slice(None),) * axis + (i,))


def along_axis_index(shape, idx, axis):
    """(template, arrays) picking ``idx`` along ``axis``, like ``np.take_along_axis``.

    Every other axis gets an ``arange`` index, so ``idx`` broadcasts against
    the array on them (``idx.ndim == len(shape)``).
    """
    nd = len(shape)
    arrays = []
    for k in range(nd):
        if k == axis:
            arrays.append(idx)
        else:
            # On idx's device: a host index next to GPU arrays would be a mixed-device op.
            iota = _xp(idx).arange(shape[k])
            arrays.append(iota.reshape((1,) * k + (-1,) + (1,) * (nd - k - 1)))
    return tuple(("a", k) for k in range(nd)), arrays


def take_along_axis(x, idx, axis):
    """``np.take_along_axis(x, idx, axis)`` as one gather (``axis`` non-negative)."""
    template, arrays = along_axis_index(tuple(x.shape), idx, axis)
    arrays = _on_device_of(x, arrays)
    return gather_p.bind(x, *arrays, template=template)


# --------------------------------------------------------------------------- #
# scatter: functional updates.  mode in {"add", "set", "multiply", "min", "max"}.
# The result has the operand's dtype (updates are cast, as NumPy's x[i] += v).
# --------------------------------------------------------------------------- #
_UFUNC_NAMES = {"add": "add", "multiply": "multiply", "min": "minimum", "max": "maximum"}


def _scatter_impl(xp, operand, updates, *arrays, template, mode):
    out = operand.copy()
    idx = build_index(template, arrays)
    try:
        if mode == "set":
            out[idx] = updates
        elif not arrays:
            # Basic indexing never repeats an element: in-place ufuncs are exact.
            # (The Ellipsis keeps a 0-d view where integers pick one element.)
            view = out[idx + (Ellipsis,)]
            getattr(xp, _UFUNC_NAMES[mode])(view, updates, out=view)
        else:
            if getattr(updates, "ndim", 0):
                # NumPy 2.4's ufunc.at misreads values of lower rank than the
                # index result (wrong sums): broadcast them explicitly.
                updates = xp.broadcast_to(updates, _index_shape(out.shape, template, arrays))
            getattr(xp, _UFUNC_NAMES[mode]).at(out, idx, updates)
    except IndexError as e:
        raise _index_error(f"scatter ({mode})", operand, template, e) from None
    return out


def _scatter_impl_cupy(xp, operand, updates, *arrays, template, mode):
    if not arrays:
        return _scatter_impl(xp, operand, updates, template=template, mode=mode)
    # cupyx's atomics where they apply, else an ordered segmented scan: repeated
    # indices combine as NumPy's ufunc.at does, for every mode (the backend's scatter).
    from .. import backends
    return backends.get_backend("cupy").scatter(operand.copy(), build_index(template, arrays),
                                                updates, mode)


scatter_p = Primitive("scatter")
scatter_p.impl = _scatter_impl
scatter_p.impls["cupy"] = _scatter_impl_cupy
scatter_p.shape_rule = lambda operand, updates, *arrays, template, mode: (
    operand.shape, operand.dtype)


def _gathered(v, arrays, template):
    return gather_p.bind(v, *arrays, template=template)


def _bind_scatter(operand, updates, arrays, template, mode):
    from .elementwise import convert
    if hasattr(updates, "dtype") and updates.dtype != operand.dtype:
        updates = convert(updates, operand.dtype)
    return scatter_p.bind(operand, updates, *arrays, template=template, mode=mode)


def _zero(x):
    return _xp(x).zeros((), dtype=x.dtype)


def _set_winners(operand, arrays, template):
    """Mask over the updates: which one a position keeps when indices repeat.

    The same scatter, run on update numbers, says which write each position
    kept; an update gets a cotangent only where it was kept.
    """
    from .creation import full_like
    target = _index_shape(tuple(operand.shape), template, arrays)
    ids = _xp(operand).arange(int(np.prod(target, dtype=np.int64))).reshape(target)
    marks = scatter_p.bind(full_like(operand, -1, dtype=np.int64), ids, *arrays,
                           template=template, mode="set")
    return _gathered(marks, arrays, template) == ids


def _others_product(operand, updates, arrays, template):
    """For each update, the product of the *other* updates landing on its position.

    Zeros are counted apart so nothing is divided by zero: with no zero the
    product is (all nonzero) / u; with exactly one zero it is the product of
    the nonzero ones for the zero update and 0 for the rest; with more, 0.
    """
    from .creation import ones_like, zeros_like
    from .elementwise import convert, where
    from .shape_ops import broadcast_to
    u = broadcast_to(updates, _index_shape(tuple(operand.shape), template, arrays))
    is0 = u == 0
    safe = where(is0, 1.0, u)
    nonzero_prod = _gathered(_bind_scatter(ones_like(operand), safe, arrays, template,
                                           "multiply"), arrays, template)
    zero_count = _gathered(scatter_p.bind(zeros_like(operand), convert(is0, operand.dtype),
                                          *arrays, template=template, mode="add"),
                           arrays, template)
    return where(zero_count == 0, nonzero_prod / safe,
                 where(is0 & (zero_count == 1), nonzero_prod, 0.0))


def _extreme_weights(out, operand, updates, arrays, template):
    """Shares of the cotangent for the operand and each update (ties split evenly)."""
    from .elementwise import convert
    dt = out.dtype
    op_wins = convert(operand == out, dt)
    upd_wins = convert(updates == _gathered(out, arrays, template), dt)
    count = scatter_p.bind(op_wins, upd_wins, *arrays, template=template, mode="add")
    return op_wins / count, upd_wins / _gathered(count, arrays, template)


def _scatter_vjp(out, operand, updates, *arrays, template, mode, needs):
    need_op, need_upd = needs[0], needs[1]
    none = (None,) * len(arrays)
    if mode == "add":
        return lambda ct: (ct if need_op else None,
                           _gathered(ct, arrays, template) if need_upd else None) + none
    if mode == "set":
        def vjp_set(ct):
            ct_op = _bind_scatter(ct, _zero(ct), arrays, template, "set") if need_op else None
            ct_upd = None
            if need_upd:
                from .elementwise import where
                ct_upd = _gathered(ct, arrays, template)
                if arrays:
                    ct_upd = where(_set_winners(operand, arrays, template), ct_upd, 0.0)
            return (ct_op, ct_upd) + none
        return vjp_set
    if mode == "multiply":
        # out = operand * prod(updates landing on each position).
        def vjp_mul(ct):
            from .creation import ones_like
            ct_op = ct_upd = None
            if need_op:
                ct_op = ct * _bind_scatter(ones_like(operand), updates, arrays, template,
                                           "multiply")
            if need_upd:
                ct_upd = _gathered(ct * operand, arrays, template)
                if arrays:  # index arrays may repeat a position
                    ct_upd = ct_upd * _others_product(operand, updates, arrays, template)
            return (ct_op, ct_upd) + none
        return vjp_mul

    # min / max: the cotangent goes to whichever input attains the extreme.
    def vjp_extreme(ct):
        w_op, w_upd = _extreme_weights(out, operand, updates, arrays, template)
        return (ct * w_op if need_op else None,
                _gathered(ct, arrays, template) * w_upd if need_upd else None) + none
    return vjp_extreme


def _scatter_jvp(tangents, out, operand, updates, *arrays, template, mode):
    from .creation import ones_like, zeros_like
    t_op, t_upd = tangents[0], tangents[1]
    if mode == "add":
        if t_upd is None:
            return t_op
        return _bind_scatter(zeros_like(operand) if t_op is None else t_op, t_upd, arrays,
                             template, "add")
    if mode == "set":
        return _bind_scatter(zeros_like(operand) if t_op is None else t_op,
                             _zero(operand) if t_upd is None else t_upd, arrays, template,
                             "set")
    if mode == "multiply":
        # d out = d operand * prod(u) + operand * sum_m d u_m * prod_{m' != m} u_m'
        acc = None
        if t_op is not None:
            acc = t_op * _bind_scatter(ones_like(operand), updates, arrays, template,
                                       "multiply")
        if t_upd is not None:
            if arrays:
                t_upd = t_upd * _others_product(operand, updates, arrays, template)
            r = operand * _bind_scatter(zeros_like(operand), t_upd, arrays, template, "add")
            acc = r if acc is None else acc + r
        return acc
    w_op, w_upd = _extreme_weights(out, operand, updates, arrays, template)
    acc = None if t_op is None else t_op * w_op
    if t_upd is not None:
        base = zeros_like(operand) if acc is None else acc
        acc = _bind_scatter(base, t_upd * w_upd, arrays, template, "add")
    return acc


scatter_p.vjp = _scatter_vjp
scatter_p.vjp_needs = True
scatter_p.jvp = _scatter_jvp


def scatter(operand, updates, arrays, template, mode, shape=None, dtype=None):
    """Bind ``scatter``; ``operand=None`` means zeros of ``shape``/``dtype``."""
    if operand is None:
        from .creation import zeros_like
        operand = zeros_like(updates, dtype=dtype, shape=shape)
    if not hasattr(updates, "dtype"):
        updates = _xp(operand).asarray(updates, dtype=operand.dtype)
    return _bind_scatter(operand, updates, _on_device_of(operand, arrays), template, mode)


class _IndexUpdateRef:
    """``x.at[idx]``: ``.set(v)``, ``.add(v)``, ``.multiply(v)``, ``.min(v)``, ``.max(v)``, ``.get()``.

    Functional: each returns a new array; ``x`` is unchanged.  Repeated
    indices accumulate for add/multiply/min/max (like ``np.add.at``); for
    ``set`` the last write wins and only it gets a derivative.
    """

    __slots__ = ("x", "idx")

    def __init__(self, x, idx):
        self.x = x
        self.idx = idx

    def _apply(self, v, mode):
        template, arrays = canonical_index(self.idx, tuple(self.x.shape), f"at[].{mode}")
        arrays = _on_device_of(self.x, arrays)
        target = _index_shape(tuple(self.x.shape), template, arrays)
        vshape = tuple(getattr(v, "shape", np.shape(v)))
        try:
            np.broadcast_shapes(vshape, target)
            if len(vshape) > len(target) and any(s != 1 for s in vshape[:-len(target) or None]):
                raise ValueError
        except ValueError:
            raise ValueError(f"at[].{mode}: values of shape {vshape} cannot be broadcast to "
                             f"the indexed shape {target} (array shape "
                             f"{tuple(self.x.shape)})") from None
        if len(vshape) > len(target):
            from .shape_ops import reshape
            v = reshape(v, vshape[len(vshape) - len(target):])
        return scatter(self.x, v, arrays, template, mode)

    def get(self):
        return getitem(self.x, self.idx)

    def set(self, v):
        return self._apply(v, "set")

    def add(self, v):
        return self._apply(v, "add")

    def multiply(self, v):
        return self._apply(v, "multiply")

    mul = multiply

    def min(self, v):
        return self._apply(v, "min")

    def max(self, v):
        return self._apply(v, "max")


class _IndexUpdateHelper:
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x

    def __getitem__(self, idx):
        return _IndexUpdateRef(self.x, idx)


def at(x):
    """``at(x)[idx].add(v)``: functional index updates for plain arrays too."""
    return _IndexUpdateHelper(x)


# --------------------------------------------------------------------------- #
# Batching rules for gather and scatter
# --------------------------------------------------------------------------- #
_FULL = ("s", None, None, None)


def _lead(a, d, size, k):
    """Index array ``a`` with its batch axis first, padded to broadcast over ``k`` dims."""
    from .shape_ops import moveaxis, reshape
    a = moveaxis(a, d, 0) if d != 0 else a
    return reshape(a, (size,) + (1,) * (k - (a.ndim - 1)) + tuple(a.shape[1:]))


def _per_example_k(arrays, dims):
    return len(np.broadcast_shapes(*[
        tuple(a.shape) if d is None else tuple(a.shape[:d]) + tuple(a.shape[d + 1:])
        for a, d in zip(arrays, dims)]))


def _batched_index(template, arrays, dims, size, xp):
    """Index a batch-first operand example by example.

    Returns (template, arrays, layout).  ``layout`` says how the raw result
    relates to the wanted one, (batch,) + per-example result: None (it is
    that), ("dim", k) (the batch axis sits at k, the rest in order), or
    ("perm", p, k) (the k advanced dims must move after p basic ones: see
    :func:`_block_perm`).
    """
    layout = _advanced_layout(template)
    if all(d is None for d in dims):
        # The batch axis is one more full slice in front.
        t = (_FULL,) + template
        if layout is None or layout[0]:
            return t, list(arrays), None
        # Separated advanced indices: NumPy puts their dimensions first.
        k = len(np.broadcast_shapes(*[tuple(a.shape) for a in arrays]))
        return t, list(arrays), ("dim", k)
    # Batched index arrays: an arange over the batch joins the advanced indices,
    # so each example gathers from its own slice of the operand.
    k = _per_example_k(arrays, dims)
    new = [xp.arange(size).reshape((size,) + (1,) * k)]
    new += [a if d is None else _lead(a, d, size, k) for a, d in zip(arrays, dims)]
    t = (("a", 0),) + tuple(("a", e[1] + 1) if _is_array_entry(e) else e for e in template)
    adjacent, p = layout
    if adjacent and p:
        # Per example the advanced block sits after p basic dims; here it came first.
        return t, new, ("perm", p, k)
    return t, new, None


def _gather_batch(vals, dims, template):
    from ..batching import move_to_front
    from .shape_ops import transpose
    x, xd = vals[0], dims[0]
    arrays, adims = vals[1:], dims[1:]
    size = next(v.shape[d] for v, d in zip(vals, dims) if d is not None)
    if xd is None:
        # Only the indices vary: their batch axis joins the advanced dimensions.
        k = _per_example_k(arrays, adims)
        new = [a if d is None else _lead(a, d, size, k) for a, d in zip(arrays, adims)]
        adjacent, p = _advanced_layout(template)
        return gather_p.bind(x, *new, template=template), (p if adjacent else 0)
    x = move_to_front(x, xd)
    t, new, layout = _batched_index(template, arrays, adims, size, _xp(x))
    out = gather_p.bind(x, *new, template=t)
    if layout is None:
        return out, 0
    if layout[0] == "dim":
        return out, layout[1]
    return transpose(out, _block_perm(layout, out.ndim)), 0


def _block_perm(layout, ndim):
    """Permutation of (batch, advanced(k), basic...) into (batch, basic[:p], advanced, ...)."""
    _, p, k = layout
    n = ndim - 1 - k
    return ((0,) + tuple(1 + k + i for i in range(p)) + tuple(1 + j for j in range(k))
            + tuple(1 + k + i for i in range(p, n)))


def _xp(x):
    from .creation import _xp_of
    return _xp_of(x)


def _on_device_of(x, arrays):
    """Host (NumPy) index arrays moved to ``x``'s device, as CuPy does for ``x[idx]``."""
    from .. import backends
    if not backends._FOREIGN_ARRAY_TYPES:  # CPU only: nothing to move
        return arrays
    xp = _xp(x)
    if xp is np:
        return arrays
    return [xp.asarray(a) if type(a) is np.ndarray else a for a in arrays]


def _scatter_batch(vals, dims, template, mode):
    from ..batching import bdim_at_front
    from .shape_ops import broadcast_to, moveaxis, reshape, transpose
    size = next(v.shape[d] for v, d in zip(vals, dims) if d is not None)
    operand = bdim_at_front(vals[0], dims[0], size)
    t, arrays, layout = _batched_index(template, vals[2:], dims[2:], size, _xp(operand))
    raw = _index_shape(tuple(operand.shape), t, arrays)
    if layout is None:
        want = raw
    elif layout[0] == "dim":
        k = layout[1]
        want = (raw[k],) + raw[:k] + raw[k + 1:]
    else:
        perm = _block_perm(layout, len(raw))
        want = tuple(raw[i] for i in perm)
    # Updates, shaped (batch,) + per-example target, then laid out like ``raw``.
    upd, ud = vals[1], dims[1]
    if ud is None:
        if getattr(upd, "ndim", 0) == 0:
            return scatter_p.bind(operand, upd, *arrays, template=t, mode=mode), 0
        upd = broadcast_to(upd, want)
    else:
        upd = moveaxis(upd, ud, 0) if ud != 0 else upd
        upd = reshape(upd, (size,) + (1,) * (len(want) - upd.ndim) + tuple(upd.shape[1:]))
        upd = broadcast_to(upd, want)
    if layout is not None:
        if layout[0] == "dim":
            upd = moveaxis(upd, 0, layout[1])
        else:
            upd = transpose(upd, tuple(np.argsort(_block_perm(layout, len(raw))).tolist()))
    return scatter_p.bind(operand, upd, *arrays, template=t, mode=mode), 0


gather_p.batch = _gather_batch
scatter_p.batch = _scatter_batch
