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


def _index_shape(shape, dtype, template, arrays):
    """Result shape of indexing, computed on a zero-strided stand-in (no data)."""
    dummy = np.broadcast_to(np.zeros((), dtype), shape)
    stand_ins = [np.zeros(a.shape, dtype=np.intp) for a in arrays]
    return dummy[build_index(template, stand_ins)].shape


# --------------------------------------------------------------------------- #
# gather: out = x[idx]
# --------------------------------------------------------------------------- #
gather_p = Primitive("gather")
gather_p.impl = lambda xp, x, *arrays, template: x[build_index(template, arrays)]
gather_p.shape_rule = lambda x, *arrays, template: (
    _index_shape(x.shape, x.dtype, template, arrays), x.dtype)


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
    if all(t == ("s", None, None, None) for t in template) and not arrays:
        return x
    return gather_p.bind(x, *arrays, template=template)


def index_axis(x, i, axis):
    """``x`` indexed by the integer ``i`` along ``axis``."""
    return getitem(x, (slice(None),) * axis + (i,))


# --------------------------------------------------------------------------- #
# scatter: functional updates.  mode in {"add", "set", "multiply", "min", "max"}.
# --------------------------------------------------------------------------- #
def _scatter_impl(xp, operand, updates, *arrays, template, mode):
    out = operand.copy()
    idx = build_index(template, arrays)
    if mode == "set":
        out[idx] = updates
    elif not _has_arrays(template):
        # Basic indexing never repeats an element: in-place ufuncs are exact.
        view = out[idx]
        {"add": xp.add, "multiply": xp.multiply, "min": xp.minimum,
         "max": xp.maximum}[mode](view, updates, out=view)
    else:
        _scatter_at(xp, out, idx, updates, mode)
    return out


def _scatter_at(xp, out, idx, updates, mode):
    ufunc = {"add": xp.add, "multiply": xp.multiply, "min": xp.minimum,
             "max": xp.maximum}[mode]
    if xp is np:
        ufunc.at(out, idx, updates)
    else:  # CuPy: scatter_add/max/min live in cupyx
        import cupyx
        fn = {"add": cupyx.scatter_add, "min": cupyx.scatter_min,
              "max": cupyx.scatter_max}.get(mode)
        if fn is None:
            raise NotImplementedError("scatter multiply with index arrays on CuPy")
        fn(out, idx, updates)


scatter_p = Primitive("scatter")
scatter_p.impl = _scatter_impl
scatter_p.shape_rule = lambda operand, updates, *arrays, template, mode: (
    operand.shape, np.result_type(operand.dtype, updates.dtype))


def _scatter_vjp(out, operand, updates, *arrays, template, mode):
    none = (None,) * len(arrays)
    if mode == "add":
        # Linear in both: operand gets ct, updates get ct gathered at idx.
        return lambda ct: (ct, _fit_updates(gather_p.bind(ct, *arrays, template=template),
                                            updates)) + none
    if mode == "set":
        def vjp(ct):
            kept = scatter(ct, _zeros_upd(updates, ct, arrays, template), arrays, template,
                           "set")
            return (kept, _fit_updates(gather_p.bind(ct, *arrays, template=template),
                                       updates)) + none
        return vjp
    if mode == "multiply":
        def vjp(ct):
            # out = operand * prod(updates at idx); d operand = ct * factor.
            factor = scatter(_ones(operand), updates, arrays, template, "multiply")
            g_upd = gather_p.bind(ct * operand, *arrays, template=template)
            return (ct * factor, _fit_updates(g_upd, updates) *
                    _prod_others(factor, updates, arrays, template)) + none
        return vjp

    # min / max: the cotangent goes to whichever input attained the extreme.
    def vjp(ct):
        from .elementwise import where
        from .creation import zeros_like
        from ..numpy import equal
        g_out = gather_p.bind(out, *arrays, template=template)
        upd_wins = equal(updates, g_out)
        op_wins = equal(operand, out)
        return (where(op_wins, ct, zeros_like(ct)),
                _fit_updates(where(upd_wins, gather_p.bind(ct, *arrays, template=template),
                                   0.0), updates)) + none
    return vjp


def _ones(x):
    from .creation import ones_like
    return ones_like(x)


def _zeros_upd(updates, ct, arrays, template):
    from .creation import zeros_like
    return zeros_like(gather_p.bind(ct, *arrays, template=template))


def _prod_others(factor, updates, arrays, template):
    return gather_p.bind(factor, *arrays, template=template) / updates


def _fit_updates(g, updates):
    if not hasattr(updates, "shape"):
        return None
    from .shape_ops import sum_to
    return sum_to(g, updates.shape) if tuple(g.shape) != tuple(updates.shape) else g


def _scatter_jvp(tangents, out, operand, updates, *arrays, template, mode):
    t_op, t_upd = tangents[0], tangents[1]
    from .creation import zeros_like
    if mode in ("add", "set"):
        t_op = zeros_like(operand) if t_op is None else t_op
        t_upd = zeros_like(updates) if t_upd is None else t_upd
        return scatter_p.bind(t_op, t_upd, *arrays, template=template, mode=mode)
    raise NotImplementedError(f"jvp of scatter mode {mode!r}")


scatter_p.vjp = _scatter_vjp
scatter_p.jvp = _scatter_jvp


def scatter(operand, updates, arrays, template, mode, shape=None, dtype=None):
    """Bind ``scatter``; ``operand=None`` means zeros of ``shape``/``dtype``."""
    if operand is None:
        from .creation import zeros_like
        operand = zeros_like(updates, dtype=dtype, shape=shape)
    if not hasattr(updates, "dtype"):
        updates = np.asarray(updates, dtype=operand.dtype)
    return scatter_p.bind(operand, updates, *arrays, template=template, mode=mode)


class _IndexUpdateRef:
    """``x.at[idx]``: ``.set(v)``, ``.add(v)``, ``.multiply(v)``, ``.min(v)``, ``.max(v)``, ``.get()``.

    Functional: each returns a new array; ``x`` is unchanged.
    """

    __slots__ = ("x", "idx")

    def __init__(self, x, idx):
        self.x = x
        self.idx = idx

    def _apply(self, v, mode):
        template, arrays = canonical_index(self.idx, tuple(self.x.shape), f"at[].{mode}")
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
def _batched_index(template, arrays, dims, size):
    """Template and arrays indexing a batch-first operand, and the output batch axis.

    Unbatched index arrays: a leading full slice is prepended.  With batched
    index arrays, an ``arange(size)`` joins the advanced indices so that each
    example gathers from its own slice; NumPy then puts the broadcast
    advanced dimensions (batch first) at the front.
    """
    from .shape_ops import moveaxis, reshape
    full = ("s", None, None, None)
    if all(d is None for d in dims):
        new_t = (full,) + template
        adv = [k for k, t in enumerate(new_t) if isinstance(t, tuple) and t[0] == "a"]
        # Advanced indices separated by a slice/None/int move to the front.
        separated = adv and any(not (isinstance(new_t[k], tuple) and new_t[k][0] == "a")
                                for k in range(adv[0], adv[-1] + 1))
        if separated:
            bshape = np.broadcast_shapes(*[tuple(a.shape) for a in arrays])
            return new_t, list(arrays), len(bshape)
        return new_t, list(arrays), 0
    per_ex = np.broadcast_shapes(*[
        tuple(a.shape) if d is None else tuple(a.shape[:d]) + tuple(a.shape[d + 1:])
        for a, d in zip(arrays, dims)])
    k = len(per_ex)
    new_arrays = [reshape(np.arange(size), (size,) + (1,) * k)]
    for a, d in zip(arrays, dims):
        if d is not None:
            a = moveaxis(a, d, 0) if d != 0 else a
            a = reshape(a, (size,) + (1,) * (k - (a.ndim - 1)) + tuple(a.shape[1:]))
        new_arrays.append(a)
    shifted = tuple(("a", t[1] + 1) if isinstance(t, tuple) and t[0] == "a" else t
                    for t in template)
    return (("a", 0),) + shifted, new_arrays, 0


def _gather_batch(vals, dims, template):
    from ..batching import bdim_at_front
    x, xd = vals[0], dims[0]
    size = next(v.shape[d] for v, d in zip(vals, dims) if d is not None)
    x = bdim_at_front(x, xd, size)
    t, arrays, out_dim = _batched_index(template, vals[1:], dims[1:], size)
    return gather_p.bind(x, *arrays, template=t), out_dim


gather_p.batch = _gather_batch


def _scatter_batch(vals, dims, template, mode):
    from ..batching import bdim_at_front
    from .shape_ops import moveaxis
    size = next(v.shape[d] for v, d in zip(vals, dims) if d is not None)
    operand = bdim_at_front(vals[0], dims[0], size)
    t, arrays, upd_dim = _batched_index(template, vals[2:], dims[2:], size)
    # Updates must be shaped like operand[new_index] with its batch axis at upd_dim.
    upd, ud = vals[1], dims[1]
    target = _index_shape(tuple(operand.shape), operand.dtype, t, arrays)
    if ud is None:
        from .shape_ops import broadcast_to
        upd = broadcast_to(upd, target) if hasattr(upd, "shape") else upd
    else:
        upd = moveaxis(upd, ud, 0) if ud != 0 else upd
        per = tuple(target[:upd_dim]) + tuple(target[upd_dim + 1:])
        from .shape_ops import broadcast_to, reshape
        # broadcast the per-example part, then put the batch axis where NumPy wants it
        pe_shape = tuple(upd.shape[1:])
        pad = len(per) - len(pe_shape)
        upd = reshape(upd, (size,) + (1,) * pad + pe_shape)
        upd = broadcast_to(upd, (size,) + per)
        if upd_dim != 0:
            upd = moveaxis(upd, 0, upd_dim)
    return scatter_p.bind(operand, upd, *arrays, template=t, mode=mode), 0


scatter_p.batch = _scatter_batch
