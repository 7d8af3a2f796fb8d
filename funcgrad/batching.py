"""Vectorising map: the batching interpreter behind ``funcgrad.vmap``.

A :class:`BatchTracer` carries a value and the position of its batch axis
(``bdim``), or ``None`` when the value is the same for every example.  Each
primitive's batching rule maps ``(args, dims)`` to ``(out, out_dim)``.

A primitive without a batching rule follows ``funcgrad.config.vmap_fallback``:
``"error"`` (the default) names the primitive; ``"loop"`` runs it once per
example and stacks the results, warning once per primitive.
"""
from __future__ import annotations

import warnings

import numpy as np

from .core import ConcretizationError, FuncgradError, Trace, Tracer, bind, user_frame_summary
from .config import config

_ops = None  # primitives the interpreter needs, installed by funcgrad.prims


def _install_ops(ops):
    global _ops
    _ops = ops


class BatchingError(FuncgradError, ValueError):
    """vmap was given inconsistent axes or sizes."""


class BatchTracer(Tracer):
    __slots__ = ("val", "bdim")

    def __init__(self, trace, val, bdim):
        self._trace = trace
        self.val = val
        self.bdim = bdim

    @property
    def shape(self):
        s = self.val.shape
        if self.bdim is None:
            return s
        return s[:self.bdim] + s[self.bdim + 1:]

    @property
    def dtype(self):
        return self.val.dtype

    def concrete_value(self):
        raise ConcretizationError(
            self._concretization_message("The Python value (bool/int/float/index)") +
            " Under vmap, one traced value stands for a whole batch whose examples "
            "may differ, so Python control flow cannot branch on it. Use "
            "fnp.where(cond, x, y) to select per example, or move the decision "
            "out of the vmapped function.")


_warned_loop = set()


class BatchTrace(Trace):
    kind = "vmap"

    def __init__(self, axis_size):
        super().__init__()
        self.axis_size = axis_size

    def lower(self, x):
        if isinstance(x, BatchTracer) and x._trace is self:
            return x.val, x.bdim
        return x, None

    def wrap(self, val, bdim):
        return val if bdim is None else BatchTracer(self, val, bdim)

    def process_primitive(self, prim, args, params):
        vals = []
        dims = []
        for a in args:
            if isinstance(a, BatchTracer) and a._trace is self:
                vals.append(a.val)
                dims.append(a.bdim)
            else:
                vals.append(a)
                dims.append(None)
        rule = prim.batch
        if rule is None:
            out, out_dim = self._fallback(prim, vals, dims, params)
        else:
            out, out_dim = rule(vals, dims, **params)
        if prim.multiple_results:
            return [self.wrap(o, d) for o, d in zip(out, out_dim)]
        return self.wrap(out, out_dim)

    def _fallback(self, prim, vals, dims, params):
        if config.vmap_fallback != "loop":
            raise FuncgradError(
                f"vmap: primitive '{prim.name}' has no batching rule (used at "
                f"{user_frame_summary()}). Set funcgrad.config.update('vmap_fallback', "
                "'loop') to run it once per example (slow), or add a batching rule "
                "in its block. `python -m funcgrad.primitives` lists rule coverage.")
        if prim.name not in _warned_loop:
            _warned_loop.add(prim.name)
            warnings.warn(f"vmap: primitive '{prim.name}' has no batching rule; running "
                          "it in a Python loop over the batch", stacklevel=4)
        outs = []
        for i in range(self.axis_size):
            ex = [v if d is None else _ops.index_axis(v, i, d) for v, d in zip(vals, dims)]
            outs.append(bind(prim, ex, params))
        if prim.multiple_results:
            stacked = [_ops.stack([o[k] for o in outs]) for k in range(len(outs[0]))]
            return stacked, [0] * len(stacked)
        return _ops.stack(outs), 0

    def process_custom_vjp(self, cv, args):
        from .api import vmap
        from .custom import custom_vjp
        from .tree_util import tree_flatten, tree_unflatten
        flat, tree = tree_flatten(args)
        pairs = [self.lower(x) for x in flat]
        vals = tree_unflatten(tree, [v for v, _ in pairs])
        in_axes = tuple(tree_unflatten(tree, [d for _, d in pairs]))
        n = self.axis_size

        def fun_b(*a):
            return vmap(cv.fun, in_axes=in_axes, axis_size=n)(*a)

        batched = custom_vjp(fun_b, name=cv.name)
        if cv.fwd is not None:
            batched.defvjp(lambda *a: vmap(cv.fwd, in_axes=in_axes, axis_size=n)(*a),
                           lambda res, ct: vmap(cv.bwd, axis_size=n)(res, ct))
        if cv.jvp_rule is not None:
            batched.defjvp(lambda primals, tangents: vmap(
                cv.jvp_rule, in_axes=(in_axes, in_axes), axis_size=n)(primals, tangents))
        out = batched(*vals)
        out_flat, out_tree = tree_flatten(out)
        return tree_unflatten(out_tree, [BatchTracer(self, o, 0) for o in out_flat])


# --------------------------------------------------------------------------- #
# Helpers for batching rules
# --------------------------------------------------------------------------- #
def move_to_front(x, d):
    """Move batch axis ``d`` of ``x`` to position 0 (no-op when already there)."""
    if d == 0 or d is None:
        return x
    return _ops.moveaxis(x, d, 0)


def bdim_at_front(x, d, size):
    """``x`` with its batch axis at 0, broadcasting an unbatched value to ``size``."""
    if d is None:
        return _ops.broadcast_to(_ops.expand_dims(x, 0), (size,) + tuple(x.shape))
    return move_to_front(x, d)


def elementwise_batch(prim):
    """Batching rule for a NumPy-broadcasting elementwise primitive."""
    def rule(vals, dims, **params):
        rank = max((v.ndim - (d is not None)) for v, d in zip(vals, dims)
                   if hasattr(v, "ndim"))
        new = []
        for v, d in zip(vals, dims):
            if d is None:
                new.append(v)
                continue
            v = move_to_front(v, d)
            pad = rank - (v.ndim - 1)
            if pad:
                v = _ops.reshape(v, (v.shape[0],) + (1,) * pad + tuple(v.shape[1:]))
            new.append(v)
        return bind(prim, new, params), 0
    return rule


def check_axis_size(sizes, axis_size=None):
    """The common batch size of ``sizes`` [(description, size)], or a clear error."""
    distinct = {s for _, s in sizes}
    if axis_size is not None:
        distinct.add(axis_size)
    if len(distinct) > 1:
        detail = "\n".join(f"  {name}: batch size {s}" for name, s in sizes)
        extra = f"\n  axis_size: {axis_size}" if axis_size is not None else ""
        raise BatchingError(f"vmap got inconsistent batch sizes:\n{detail}{extra}\n"
                            "Every batched argument must have the same size along its "
                            "in_axes axis.")
    return distinct.pop() if distinct else None


__all__ = ["BatchTrace", "BatchTracer", "BatchingError", "elementwise_batch",
           "move_to_front", "bdim_at_front", "check_axis_size"]
