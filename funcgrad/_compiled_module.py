"""``funcgrad.compile(model)``: a model whose forward and backward passes are compiled programs.

Without grad, a call runs one jitted forward program.  With grad, the call
stages the forward pass together with its VJP (``funcgrad.vjp``), optimises
the program, and splits it at the forward/backward boundary
(:func:`funcgrad._compile_support.split_program`): the forward program
returns the outputs and the *residuals* the backward pass reads; the
backward program maps (residuals, output cotangents) to the gradients of the
parameters and inputs that require grad.  The outputs carry ONE node of the
autograd tape whose VJP runs the backward program, so ``loss.backward()``
accumulates ``.grad`` as usual and nothing is computed twice.
"""
from __future__ import annotations

import numpy as np

from . import ad, backends
from ._compile_support import (Feeder, ModelView, Recorder, as_array, aval_key, data_of,
                               hooked, make_draws, split_program, tracing_draws)
from .api import vjp
from .config import config
from .core import Tracer
from .ir import is_array_leaf, make_ir, stage
from .ir_passes import optimize
from .jit import jit
from .jit_codegen import generate
from .nn.module import Module
from .prims import creation
from .tensor import Tensor, is_grad_enabled, no_grad
from .tree_util import tree_flatten, tree_unflatten

__all__ = ["CompiledModule", "as_model"]


def as_model(model, who):
    """The Module behind ``model`` (a Module or a :class:`CompiledModule`), or a clear error."""
    if isinstance(model, CompiledModule):
        return model.module
    if not isinstance(model, Module):
        raise TypeError(f"{who}: expected a funcgrad.nn.Module, got {type(model).__name__}")
    return model


class _CompiledCall:
    """The primitive-like tag of the tape node that a compiled forward records."""

    __slots__ = ("name",)
    nondiff = False
    multiple_results = True

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"<{self.name}>"


class _TrainEntry:
    """One signature's forward (with residuals) and backward programs, and their replays."""

    __slots__ = ("replays", "n_out", "n_rest", "n_bufs", "out_pos", "rest_pos", "out_tree",
                 "n_leaves", "fwd_program", "bwd_program")

    def replay(self, xp):
        """``(forward, backward)``: the generated functions for the array namespace ``xp``."""
        fns = self.replays.get(xp.__name__)
        if fns is None:
            fns = self.replays[xp.__name__] = (generate(self.fwd_program, xp)[0],
                                               generate(self.bwd_program, xp)[0])
        return fns


class CompiledModule:
    """A model whose forward (and backward) passes run as compiled programs.

    Made by :func:`compile`.  Calls like the model; every other attribute is
    the model's (``parameters()``, ``train()``, ``eval()``, ``state_dict()``,
    ...: they act on the model itself; methods that return the model return
    this wrapper).  ``module`` is the model.
    """

    def __init__(self, model):
        model = as_model(model, "compile")
        d = self.__dict__
        d["module"] = model
        d["_generation"] = 0
        d["_view"] = ModelView(model, 0)
        d["_specs"] = {}
        d["_train"] = {}
        d["_traces"] = 0
        d["_hits"] = 0
        d["_jitted"] = jit(self._forward_program, static_argnums=0)

    @property
    def _orig_mod(self):  # torch.compile's name for the wrapped model
        return self.module

    # -- inference: one jitted forward -----------------------------------------
    def _forward_program(self, static, params, buffers, draws, args, kwargs):
        with hooked(Feeder(draws)):
            out, new_bufs = self._view.run(self.module, params, buffers, args, kwargs)
        return out, [None if n is b else n for n, b in zip(new_bufs, buffers)]

    def _discover(self, params, buffers, args, kwargs):
        rec, view = Recorder(), self._view

        def forward(params, buffers, args, kwargs):
            with hooked(rec):
                return view.run(self.module, params, buffers, args, kwargs)[0]

        program = make_ir(forward)(params, buffers, args, kwargs)
        return tuple(rec.draws), program.out_tree, [(v.shape, v.dtype) for v in
                                                     program.out_vars]

    def __call__(self, *args, **kwargs):
        model = self.module
        items, tree = tree_flatten((args, kwargs), is_leaf=lambda x: isinstance(x, Tensor))
        if tracing_draws() or config.debug_nans or any(isinstance(data_of(x), Tracer)
                                                       for x in items):
            # Inside a transform (it should see the model's operations), or checking
            # every primitive for NaNs: run the model itself.
            return model(*args, **kwargs)
        view = self._view
        if not view.valid():
            self.__dict__["_generation"] += 1
            view = self.__dict__["_view"] = ModelView(model, self._generation)
        modes = view.modes()
        params = [p._data for p in view.param_tensors]
        buffers = [b._data for b in view.buffer_tensors]
        leaves = [data_of(x) for x in items]
        key = (view.generation, modes, tree, aval_key(leaves), aval_key(params))
        found = self._specs.get(key)
        if found is None:
            found = self._specs[key] = self._discover(params, buffers, args, kwargs)
        spec = found[0]
        if is_grad_enabled() and any(np.dtype(dt).kind in "fc" for _, dt in found[2]):
            diff_p = tuple([i for i, p in enumerate(view.param_tensors) if p.requires_grad])
            diff_a = tuple([i for i, x in enumerate(items)
                            if isinstance(x, Tensor) and x.requires_grad])
            if diff_p or diff_a:
                return self._call_recorded(key + (diff_p, diff_a), found, view, params,
                                           buffers, items, tree, diff_p, diff_a)
        out, new_bufs = self._jitted((view.generation, modes), params, buffers,
                                     make_draws(spec, _namespace(params)), args, kwargs)
        with no_grad():
            view.write_buffers(new_bufs)
        return out

    # -- training: a forward program with residuals, a backward program ----------
    def _build_train(self, found, params, buffers, draws, leaves, tree, diff_p, diff_a):
        _, out_tree, out_avals = found
        out_pos = [k for k, (_, dt) in enumerate(out_avals) if np.dtype(dt).kind in "fc"]
        rest_pos = [k for k in range(len(out_avals)) if k not in set(out_pos)]
        view, model = self._view, self.module
        n_p, n_b, n_d, n_l = len(params), len(buffers), len(draws), len(leaves)
        is_tensor = [isinstance(x, Tensor) for x in leaves]

        def fun(*flat):
            ps, bs = list(flat[:n_p]), flat[n_p:n_p + n_b]
            ds, xs = flat[n_p + n_b:n_p + n_b + n_d], list(flat[n_p + n_b + n_d:][:n_l])
            cts = flat[n_p + n_b + n_d + n_l:]

            def f(dvals):
                ps2, xs2 = list(ps), list(xs)
                for i, v in zip(diff_p, dvals):
                    ps2[i] = v
                for i, v in zip(diff_a, dvals[len(diff_p):]):
                    xs2[i] = v
                args, kwargs = tree_unflatten(tree, [Tensor._wrap(v) if t else v
                                                     for v, t in zip(xs2, is_tensor)])
                with hooked(Feeder(ds)):
                    out, new_bufs = view.run(model, ps2, bs, args, kwargs)
                out_leaves = tree_flatten(out)[0]
                return ([out_leaves[k] for k in out_pos],
                        ([out_leaves[k] for k in rest_pos], new_bufs))

            primals = [ps[i] for i in diff_p] + [xs[i] for i in diff_a]
            outs, pullback, (rest, new_bufs) = vjp(f, primals, has_aux=True)
            (grads,) = pullback(list(cts))
            return list(outs) + list(rest) + list(new_bufs) + list(grads)

        raw = [data_of(x) for x in leaves]
        cts = [np.zeros(s, dt) for k, (s, dt) in enumerate(out_avals) if k in set(out_pos)]
        staged = stage(fun, list(params) + list(buffers) + list(draws) + raw + cts,
                       name=f"compile({model._get_name()})", kind="compile")
        self.__dict__["_traces"] += 1
        program = optimize(staged.program)
        n_fwd = len(out_pos) + len(rest_pos) + n_b
        fwd, bwd, _ = split_program(program, n_fwd, len(cts))
        e = _TrainEntry()
        e.fwd_program, e.bwd_program, e.replays = fwd, bwd, {}
        e.n_out, e.n_rest, e.n_bufs = len(out_pos), len(rest_pos), n_b
        e.out_pos, e.rest_pos, e.out_tree = out_pos, rest_pos, out_tree
        e.n_leaves = len(out_avals)
        return e

    def _call_recorded(self, key, found, view, params, buffers, items, tree, diff_p, diff_a):
        entry = self._train.get(key)
        xp = _namespace(params)
        draws = make_draws(found[0], xp)
        leaves = [data_of(x) for x in items]
        if entry is None:
            entry = self._train[key] = self._build_train(found, params, buffers, draws, items,
                                                          tree, diff_p, diff_a)
        else:
            self.__dict__["_hits"] += 1
        arrays = [x for x in params + buffers + draws + leaves if is_array_leaf(x)]
        forward, backward = entry.replay(xp)
        outs = forward(*arrays)
        n_o, n_r, n_b = entry.n_out, entry.n_rest, entry.n_bufs
        diff_outs = [as_array(o) for o in outs[:n_o]]
        residuals = outs[n_o + n_r + n_b:]
        with no_grad():
            view.write_buffers([None if n is b else n for n, b in
                                zip(outs[n_o + n_r:n_o + n_r + n_b], buffers)])
        flat = [None] * entry.n_leaves
        for k, o in zip(entry.out_pos, diff_outs):
            flat[k] = o
        for k, o in zip(entry.rest_pos, outs[n_o:n_o + n_r]):
            flat[k] = as_array(o)
        result = entry.out_tree.unflatten(flat)
        targets = [t for t in tree_flatten(result, is_leaf=lambda x: isinstance(x, Tensor))[0]]
        inputs = [view.param_tensors[i] for i in diff_p] + [items[i] for i in diff_a]
        node = ad.Node(_backward_fn(backward, residuals, diff_outs, inputs), tuple(
            t._graph_node() for t in inputs), None, None,
            _CompiledCall(f"compiled {self.module._get_name()}"))
        for k, n in zip(entry.out_pos, ad.projection_nodes(node, diff_outs)):
            t = targets[k] if k < len(targets) else None
            if isinstance(t, Tensor) and n is not None:
                t.node = n
                t.requires_grad = True
        return result

    # -- the model's API ---------------------------------------------------------
    def __getattr__(self, name):
        module = self.__dict__["module"]
        value = getattr(module, name)
        if callable(value) and getattr(value, "__self__", None) is module:
            method = value

            def call(*args, **kwargs):
                res = method(*args, **kwargs)
                return self if res is module else res
            call.__name__ = name
            call.__doc__ = method.__doc__
            return call
        return value

    def __setattr__(self, name, value):
        setattr(self.__dict__["module"], name, value)

    def __delattr__(self, name):
        delattr(self.__dict__["module"], name)

    def __dir__(self):
        return sorted(set(dir(self.module)) | {"module", "cache_info", "clear_cache"})

    def cache_info(self):
        """``{"traces", "hits", "size"}``: compilations of the inference and training programs."""
        info = dict(self._jitted.cache_info())
        info["traces"] += self._traces
        info["hits"] += self._hits
        info["size"] += len(self._train)
        return info

    def clear_cache(self):
        """Forget every compiled signature (needed after changing a layer's settings)."""
        self._jitted.clear_cache()
        self._specs.clear()
        self._train.clear()

    def __repr__(self):
        return f"compile({self.module!r})"


def _namespace(arrays):
    """NumPy, or CuPy for device arrays (host draws and scalars must follow them)."""
    return backends.namespace_of(arrays) if backends._FOREIGN_ARRAY_TYPES else np


def _backward_fn(backward, residuals, outs, inputs):
    """The VJP closure of a compiled call's tape node: runs the backward program."""
    versions = [(t, t._version) for t in inputs]

    def vjp_fn(cts):
        # backward() runs the rules with grad mode = create_graph
        if is_grad_enabled() or any(isinstance(c, Tensor) for c in cts):
            raise NotImplementedError(
                    "backward(create_graph=True) through a funcgrad.compile(model) call is "
                    "not supported: the backward pass is a compiled program, not recorded. "
                    "Differentiate the uncompiled model (compiled.module) for higher order.")
        for t, v in versions:
            if t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{t.dtype} {list(t.shape)}] is at version "
                    f"{t._version}; expected version {v} instead (saved by a compiled "
                    "forward). Hint: call backward() before optimizer.step().")
        cts = [creation.zeros_like(o) if c is None else c for c, o in zip(cts, outs)]
        return tuple(as_array(g) for g in backward(*residuals, *cts))
    return vjp_fn
