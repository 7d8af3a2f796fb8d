"""The stateful optimizers' fast path: one compiled, in-place update per parameter group.

``Optimizer.step()`` runs the per-parameter math of
:mod:`funcgrad.optim.functional` -- written once, as pure functions.  Eagerly,
each of its operations allocates a new array, and a model with many
parameters pays Python's per-operation cost many times over.  Once a group's
*signature* (its parameters' shapes and dtypes, which state entries exist,
the hyperparameters other than ``lr``) has been seen
``config.optimizer_compile_after`` times, the group's update -- the same pure
functions, over all of its parameters -- is traced once by ``funcgrad.jit``
and replayed as one generated function:

* ``lr`` is an input (a float64 0-d array), so learning-rate schedules never
  retrace; any other hyperparameter change is a new signature;
* parameters and state buffers that nobody else references (counted, see
  :mod:`funcgrad._donation`) are donated, so the update writes into them as
  PyTorch's in-place kernels do; an array the user still holds (``w =
  p.data``, a ``state_dict()`` snapshot) is never written;
* the results are bit-identical to the eager path (``tests/test_optim.py``).

Other backends than NumPy, ``debug_nans``, and values under a transform take
the eager path.
"""
from __future__ import annotations

import numpy as np

from .. import backends
from .._donation import _getrefcount, private, unshared
from ..config import config
from ..jit import jit
from ..jit_codegen import generate
from ..tensor import Tensor

_JITTED = {}  # OptimizerMath -> the jitted group update (its cache is shared by instances)


def _group_update_fn(math):
    fn = _JITTED.get(math)
    if fn is None:
        update = math.update

        def group_update(params, grads, states, lr, static):
            hyper_items, layout = static
            hyper = dict(hyper_items, lr=lr)
            new_params, new_states = [], []
            it = iter(states)
            for p, g, (keys, present) in zip(params, grads, layout):
                state = {k: (next(it) if here else None) for k, here in zip(keys, present)}
                p, state = update(p, g, state, **hyper)
                new_params.append(p)
                new_states.append(state)
            return new_params, new_states

        group_update.__name__ = f"{math.name}_group_update"
        fn = _JITTED[math] = jit(group_update, static_argnums=(4,))
    return fn


class FusedUpdates:
    """Per-optimizer bookkeeping of the compiled group updates."""

    __slots__ = ("seen", "compiled", "plans")

    def __init__(self):
        self.seen = {}      # signature -> eager steps taken with it
        self.compiled = {}  # signature -> _Compiled
        self.plans = {}     # id(group) -> _SteadyPlan of its last fully donated step

    def step(self, opt, group, hyper, init_state):
        """Update ``group`` compiled; return False to let the caller run it eagerly.

        One pass over the parameters collects the signature, the flat inputs
        and which of them may be overwritten (refcounts: see _donation).  The
        steady state of a training loop -- the same parameter and state arrays,
        all overwritable, new gradients of the same shapes -- is recognised by
        the group's :class:`_SteadyPlan` instead, which checks exactly that.
        """
        after = config.optimizer_compile_after
        if after is None or backends._FOREIGN_ARRAY_TYPES or config.debug_nans:
            return False
        hyper_items = tuple([(k, v) for k, v in hyper.items() if k != "lr"])
        plan = self.plans.get(id(group))
        if plan is not None:
            if plan.group is group and plan.hyper_items == hyper_items and \
                    plan.run(opt.state, hyper["lr"]):
                return True
            # Something changed: the general path below.  (Dropping the plan first:
            # its references would keep the arrays from being overwritten.)
            del self.plans[id(group)]
            plan = None
        try:
            hash(hyper_items)
        except TypeError:
            return False  # an unhashable hyperparameter value: nothing to key a cache on
        opt_state = opt.state
        ndarray = np.ndarray
        params, datas, grads, states, sig, stores = [], [], [], [], [], []
        mine = set()  # ids of the arrays that only their Tensor (or state dict) references
        for p in group["params"]:
            gt = p.grad
            if gt is None:
                continue
            a, g = p._data, gt._data
            if type(a) is not ndarray or type(g) is not ndarray:
                return False  # a traced value or another array type: the eager path
            if private(a, 2):  # known references: the Tensor's slot and `a`
                mine.add(id(a))
            params.append(p)
            datas.append(a)
            grads.append(g)
            sig.append((a.shape, a.dtype, g.shape, g.dtype))
            st = opt_state.get(p)
            if not st:  # the first step: the optimizer's own initial state (not shared)
                st = init_state(p, hyper)
            stores.append(st)
            for k in st:  # (not .items(): its iterator keeps the last pair referenced)
                t = st[k]
                if t is None:
                    sig.append((k, None))
                    continue
                v = t._data if isinstance(t, Tensor) else t
                if type(v) is not ndarray:
                    return False
                # Known references: the state dict and `t`; the Tensor's slot and `v`.
                if unshared(t, 2) and private(v, 2):
                    mine.add(id(v))
                sig.append((k, v.shape, v.dtype))
                states.append(v)
            t = v = None  # no stray references: they would keep a buffer from being donated
        a = g = None
        if not params:
            return True
        signature = (hyper_items, tuple(sig))
        entry = self.compiled.get(signature)
        if entry is None:
            seen = self.seen.get(signature, 0)
            if seen < after:
                self.seen[signature] = seen + 1
                return False
            entry = self.compiled[signature] = _Compiled(opt._math, datas, grads, states,
                                                         hyper_items, stores)
        flat = datas + grads + states
        flat.append(np.asarray(hyper["lr"], dtype=np.float64))
        all_donated = len(mine) == len(datas) + len(states)
        state_layout = _state_layout(stores) if all_donated else None
        grad_meta = [(g.shape, g.dtype) for g in grads]
        del datas, grads, states  # the donated buffers now belong to the replay
        outs = entry.replay([i for i, x in enumerate(flat) if id(x) in mine])(*flat)
        del flat
        for p, st, (i_param, state_out) in zip(params, stores, entry.layout):
            p._assign(outs[i_param])
            if state_out:
                if opt_state.get(p) is not st:
                    st = opt_state[p] = dict(st)  # a first step: store it
                for k, j in state_out:
                    if j is None:
                        st[k] = None
                        continue
                    new = outs[j]
                    cur = st.get(k)
                    # Written in place into a buffer only this Tensor held: keep the Tensor.
                    if cur is None or cur.__class__ is not Tensor or cur._data is not new:
                        st[k] = Tensor._wrap(_as_array(new))
        # Plan the next step when this one donated everything and left the state
        # with the structure it had (not a first step, which creates buffers).
        if all_donated and _state_layout([opt_state.get(p) for p in params]) == state_layout:
            self.plans[id(group)] = _SteadyPlan(group, hyper_items, entry, params, grad_meta,
                                                opt_state)
        return True


def _state_layout(stores):
    """Each state dict's keys and which entries are set: the program's state inputs."""
    return [(tuple(st), tuple([st[k] is not None for k in st])) if st else ((), ())
            for st in stores]


class _SteadyPlan:
    """A group's last step, fully donated, to recognise the next one cheaply.

    The next step may replay the same program into the same buffers when:
    the group has the same parameters, the same ones have gradients, and
    those are NumPy arrays of the same shapes and dtypes; every parameter
    and state entry is still the same array (so shapes and dtypes hold) and
    still referenced by nobody but its Tensor and this plan (so it may be
    overwritten, as in the step that made the plan); the hyperparameters
    other than ``lr`` are equal.  Anything else makes :meth:`run` return
    False and the general path runs (and re-plans).
    """

    __slots__ = ("group", "hyper_items", "entries", "fn", "layout")

    def __init__(self, group, hyper_items, entry, params, grad_meta, opt_state):
        self.group = group
        self.hyper_items = hyper_items
        self.layout = entry.layout
        meta = iter(grad_meta)
        entries = []
        n_flat = 0
        for p in group["params"]:
            if p.grad is None:
                entries.append(None)
                continue
            st = opt_state.get(p)  # (None for a stateless optimizer: `state` is a defaultdict)
            items = tuple((k, t, t._data) for k, t in st.items() if t is not None) if st else ()
            entries.append((p, p._data, *next(meta), st, len(st) if st else 0, items))
            n_flat += 1 + len(items)
        self.entries = tuple(entries)
        n_params = len(params)
        donated = list(range(n_params)) + list(range(2 * n_params, n_params + n_flat))
        self.fn = entry.replay(donated)

    def run(self, opt_state, lr):
        """Replay the program if this step is the planned one; else return False."""
        ps = self.group["params"]
        entries = self.entries
        if len(ps) != len(entries):
            return False
        datas, grads, states = [], [], []
        ndarray = np.ndarray
        for p, e in zip(ps, entries):
            gt = p.grad
            if e is None:
                if gt is not None:
                    return False
                continue
            p0, a, gshape, gdtype, st, n_keys, items = e
            if p is not p0 or gt is None or p._data is not a or opt_state.get(p) is not st \
                    or (st is not None and len(st) != n_keys):
                return False
            g = gt._data
            # References to a: the Tensor's slot, this plan, `a`, getrefcount's argument.
            if g.__class__ is not ndarray or g.shape != gshape or g.dtype != gdtype or \
                    _getrefcount(a) > 4 or not a.flags.writeable:
                return False
            datas.append(a)
            grads.append(g)
            for k, t, v in items:
                # t: the state dict, this plan, `t`, the argument; v: t's slot, this
                # plan, `v`, the argument.
                if st.get(k) is not t or t._data is not v or _getrefcount(t) > 4 or \
                        _getrefcount(v) > 4 or not v.flags.writeable:
                    return False
                states.append(v)
        a = g = t = v = e = None  # no stray references
        flat = datas + grads + states
        flat.append(np.asarray(lr, dtype=np.float64))
        del datas, grads, states
        outs = self.fn(*flat)
        del flat
        planned = [e for e in entries if e is not None]
        for e, (i_param, state_out) in zip(planned, self.layout):
            p, a = e[0], e[1]
            new = outs[i_param]
            p._assign(new)
            if new is not a:  # (not written in place: nothing to plan on any more)
                self.group = None
            if state_out:
                st = e[4]
                for k, j in state_out:
                    new = outs[j]
                    cur = st.get(k)
                    if j is None or cur is None or cur._data is not new:
                        st[k] = None if j is None else Tensor._wrap(_as_array(new))
                        self.group = None
        return True


class _Compiled:
    """One signature's program, its replays per donated set, and its output layout."""

    __slots__ = ("program", "replays", "layout")

    def __init__(self, math, datas, grads, states, hyper_items, stores):
        layout = tuple((tuple(st), tuple(st[k] is not None for k in st)) for st in stores)
        lr = np.asarray(0.0, dtype=np.float64)  # a traced input: its value is not used
        self.program = _group_update_fn(math).lower(datas, grads, states, lr,
                                                    (hyper_items, layout))
        self.replays = {}
        # Which flat output is each parameter and each state entry (None: a None state).
        new_params, new_states = self.program.out_tree.unflatten(
            list(range(len(self.program.out_vars))))
        self.layout = tuple((i, tuple(new.items())) for i, new in zip(new_params, new_states))

    def replay(self, donated):
        donated = frozenset(donated)
        fn = self.replays.get(donated)
        if fn is None:
            fn = self.replays[donated] = generate(self.program, np, donated)[0]
        return fn


def _as_array(v):
    # A 0-d result (Adam's "step") may come back as a NumPy scalar; the state holds arrays.
    return np.asarray(v) if isinstance(v, np.generic) else v
