"""``funcgrad.compile`` and ``funcgrad.compile_step``: the jit's speed for the PyTorch-style front.

A Module is a pytree and the optimizers' math is pure functions
(:mod:`funcgrad.optim.functional`), so a whole training step -- forward,
loss, backward and the optimizer update -- is one pure function of
(parameters, buffers, optimizer state, learning rates, random draws, batch).
:func:`compile_step` jits that function and, after each call, writes the new
values back into the model's Parameters and buffers and into
``optimizer.state``, so everything around the step (``state_dict()``,
schedulers, checkpoints, evaluation) works as with the eager loop::

    step = funcgrad.compile_step(model, optimizer, criterion)
    for x, y in loader:
        loss = step(x, y)       # zero_grad + forward + loss + backward + step
        scheduler.step()

:func:`compile` wraps a model so that its forward pass runs as a compiled
program.  With grad mode on, the forward program also returns the residuals
that the backward pass needs, and the output records ONE node on the autograd
tape whose backward is a second compiled program (the staged VJP, split at
the forward/backward boundary), so an unchanged loop -- ``loss.backward();
optimizer.step()`` -- runs both passes compiled.

Traced (a new value never retraces): parameter, buffer and optimizer-state
data, each group's ``lr`` (a 0-d float64 input: schedulers cost nothing),
the batch, and random draws (dropout masks are program inputs, drawn on the
host for every call from the same generator and in the same order as eager
code, so compiled and eager runs with one seed draw the same masks).
Static (a change retraces once): shapes and dtypes, each module's
``training`` flag, the optimizer's other hyperparameters, which parameters
are trained, and layer settings such as a dropout ``p`` (baked in at trace
time: call ``clear_cache()`` after changing one).  See docs/compile.md.
"""
from __future__ import annotations

import numpy as np

from . import backends
from ._compile_support import (Feeder, ModelView, Recorder, as_array, aval_key, data_of,
                               gather, hooked, make_draws, reachable_inputs, scalar_loss)
from ._donation import private, unshared
from ._compiled_module import CompiledModule, as_model
from .api import value_and_grad
from .config import config
from .ir import is_array_leaf, make_ir
from .jit import jit
from .jit_codegen import generate
from .nn.parameter import Parameter
from .nn.utils import clip_grad_norm_
from .optim.optimizer import Optimizer
from .tensor import Tensor, no_grad
from .tree_util import tree_flatten

__all__ = ["compile", "compile_step", "CompiledModule", "CompiledStep"]


# --------------------------------------------------------------------------- #
# compile_step
# --------------------------------------------------------------------------- #
class CompiledStep:
    """A compiled training step of a Module and an optimizer (see :func:`compile_step`).

    Call it with a batch: ``loss = step(x, y)``.  ``cache_info()``,
    ``clear_cache()`` and ``lower(*batch)`` (the optimised program) are as
    for ``funcgrad.jit``.
    """

    def __init__(self, model, optimizer, loss_fn, num_inputs=1, return_outputs=False,
                 donate=True, clip_grad_norm=None):
        self.model = as_model(model, "compile_step")
        if clip_grad_norm is not None:
            clip = clip_grad_norm if isinstance(clip_grad_norm, tuple) else (clip_grad_norm, 2.0)
            if len(clip) != 2 or float(clip[0]) < 0:
                raise ValueError(f"compile_step: clip_grad_norm must be max_norm >= 0 or "
                                 f"(max_norm, norm_type), got {clip_grad_norm!r}")
            clip_grad_norm = (float(clip[0]), float(clip[1]))
        self.clip_grad_norm = clip_grad_norm
        if not isinstance(optimizer, Optimizer) or optimizer._math is None:
            raise TypeError(
                f"compile_step: expected a funcgrad.optim optimizer (SGD, Adam, AdamW, "
                f"RMSprop, Adagrad, ...), got {type(optimizer).__name__}")
        if type(optimizer).step is not Optimizer.step:
            raise TypeError(
                f"compile_step: {type(optimizer).__name__} overrides step(); compile_step "
                "runs the optimizer's functional math (optimizer._math) instead, which "
                "would not do what your step() does. Train this one with the eager loop.")
        if not callable(loss_fn):
            raise TypeError(f"compile_step: loss_fn must be callable, loss_fn(output, "
                            f"*targets) -> scalar; got {type(loss_fn).__name__}")
        if int(num_inputs) < 0:
            raise ValueError(f"compile_step: num_inputs must be >= 0, got {num_inputs}")
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.num_inputs = int(num_inputs)
        self.return_outputs = bool(return_outputs)
        self.donate = bool(donate)
        self._generation = 0
        self._view = ModelView(self.model, 0)
        self._layout = None
        self._specs = {}
        self._replays = {}  # donating replays: (static, tree, avals) -> (program, {donated: fn})
        self._hits = 0
        self._last_diff = ()
        self._jitted = jit(self._program, static_argnums=0)

    # -- bookkeeping -----------------------------------------------------------
    def _refresh_view(self):
        self._generation += 1
        self._view = ModelView(self.model, self._generation)
        self._layout = None

    def _group_of(self):
        """The optimizer's group index of each model parameter (-1: not optimized)."""
        groups = self.optimizer.param_groups
        sig = tuple([(id(g["params"]), len(g["params"])) for g in groups])
        layout = self._layout
        if layout is not None and layout[1] == sig:
            return layout[0]
        index = self._view.index
        group_of = [-1] * len(index)
        for gi, g in enumerate(groups):
            for p in g["params"]:
                i = index.get(id(p))
                if i is None:
                    raise ValueError(
                        f"compile_step: parameter group {gi} of the optimizer holds a tensor "
                        f"of shape {list(p.shape)} that is not a parameter of the model "
                        f"({self.model._get_name()}); compile_step computes gradients of the "
                        "model's parameters only. Build the optimizer from "
                        "model.parameters() (or a subset of them).")
                group_of[i] = gi
        self._layout = (group_of, sig)
        return group_of

    def _discover(self, params, buffers, batch):
        """Stage forward + loss once: its random draws, and the parameters it depends on."""
        view, n_in, rec = self._view, self.num_inputs, Recorder()

        def forward_loss(params, buffers, batch):
            with hooked(rec):
                out, _ = view.run(self.model, params, buffers, batch[:n_in])
                return scalar_loss(self.loss_fn(out, *batch[n_in:]), "compile_step")

        program = make_ir(forward_loss)(params, buffers, tuple(batch))
        reached = reachable_inputs(program)
        return tuple(rec.draws), tuple(v in reached for v in program.in_vars[:len(params)])

    # -- the pure step ----------------------------------------------------------
    def _program(self, static, params, buffers, states, lrs, draws, batch):
        _, _, diff, group_of, hypers, n_in, ret = static
        view, update = self._view, self.optimizer._math.update

        def loss_of(diff_vals):
            vals = list(params)
            for i, v in zip(diff, diff_vals):
                vals[i] = v
            with hooked(Feeder(draws)):
                out, new_bufs = view.run(self.model, vals, buffers, batch[:n_in])
                loss = scalar_loss(self.loss_fn(out, *batch[n_in:]), "compile_step")
            # None: unchanged (a buffer updated in place must still be rebound)
            new_bufs = [None if n is b else n for n, b in zip(new_bufs, buffers)]
            return loss, (new_bufs, out if ret else None)

        (loss, (new_bufs, out)), grads = value_and_grad(loss_of, has_aux=True)(
            [params[i] for i in diff])
        if self.clip_grad_norm is not None:
            grads = self._clipped([params[i] for i in diff], grads)
        new_params, new_states = [], []
        for k, i in enumerate(diff):
            g = group_of[k]
            p, s = update(params[i], grads[k], states[k], lr=lrs[g], **dict(hypers[g]))
            new_params.append(p)
            new_states.append(s)
        return loss, new_params, new_bufs, new_states, out

    def _clipped(self, params, grads):
        """``nn.utils.clip_grad_norm_`` itself, on the traced gradients (eager's numbers)."""
        holders = []
        for p, g in zip(params, grads):
            h = Parameter._from_leaf(p, False)
            h.grad = Tensor._wrap(g)
            holders.append(h)
        max_norm, norm_type = self.clip_grad_norm
        clip_grad_norm_(holders, max_norm, norm_type)
        return [h.grad._data for h in holders]

    def _arguments(self, batch, draw=True):
        """The jitted step's arguments for ``batch``, and which arrays it may overwrite.

        ``draw=False`` passes zeros for the random draws (the generator does not advance).
        """
        view = self._view
        if not view.valid():
            self._refresh_view()
            view = self._view
        opt, donate = self.optimizer, self.donate
        group_of = self._group_of()
        tensors = view.param_tensors
        trainable = tuple([g >= 0 and p.requires_grad for g, p in zip(group_of, tensors)])
        modes = view.modes()
        mine = set()  # ids of the arrays that only their Tensor references
        params = gather(tensors, mine if donate else None)
        buffers = gather(view.buffer_tensors, mine if donate else None)
        leaves, tree = tree_flatten(batch)
        key = (view.generation, modes, trainable, tree, aval_key(leaves), aval_key(params))
        found = self._specs.get(key)
        if found is None:
            found = self._specs[key] = self._discover(params, buffers, batch)
        spec, used = found
        diff = tuple([i for i, (t, u) in enumerate(zip(trainable, used)) if t and u])
        if not diff:
            raise RuntimeError(
                "compile_step: the loss does not depend on any parameter that the optimizer "
                "updates (eager: 'element 0 of tensors does not require grad'). Check that "
                "the optimizer holds the model's parameters and that they require grad.")
        groups = opt.param_groups
        names = opt._math.hyper_names
        static_names = [k for k in names if k != "lr"]
        hypers = tuple([tuple([(k, g[k]) for k in static_names]) for g in groups])
        # 0-d arrays on the parameters' device (a host array would not mix with CuPy's)
        xp = backends.namespace_of(params) if backends._FOREIGN_ARRAY_TYPES else np
        lrs = [xp.asarray(data_of(g["lr"]), dtype=np.float64) for g in groups]
        states = []
        state = opt.state
        for i in diff:
            p = tensors[i]
            st = state.get(p)
            if not st:  # the first step: the optimizer's own initial state
                g = groups[group_of[i]]
                states.append(opt._init_state(p, {k: data_of(g[k]) for k in names}))
                continue
            raw = {}
            for k in st:
                t = st[k]
                if isinstance(t, Tensor):
                    a = t._data
                    # Known references: the state dict and `t`; the Tensor's slot and `a`.
                    if donate and unshared(t, 2) and private(a, 2):
                        mine.add(id(a))
                    raw[k] = a
                else:
                    raw[k] = t
            states.append(raw)
        static = (view.generation, modes, diff, tuple([group_of[i] for i in diff]), hypers,
                  self.num_inputs, self.return_outputs)
        self._last_diff = diff
        draws = make_draws(spec, xp) if draw else [xp.zeros(d.shape, d.dtype) for d in spec]
        return (static, params, buffers, states, lrs, draws, batch), mine

    def _run(self, args, mine):
        """Run the compiled step on ``args``, overwriting the arrays whose ids are in ``mine``.

        The program comes from ``jit.lower`` (traced and cached by the jit);
        the replay that writes into donated arrays is generated here, per set
        of donated inputs, because the jit's own donation check compares every
        donated leaf with every other (quadratic in the number of parameters)
        while here each array's privacy is already known.
        """
        leaves, tree = tree_flatten((args[1:], {}))
        arrays = [x for x in leaves if is_array_leaf(x)]
        foreign = backends._FOREIGN_ARRAY_TYPES
        if not mine or config.debug_nans or (foreign and any(type(a) in foreign
                                                             for a in arrays)):
            return self._jitted(*args)  # jit's own paths (other backends, checks)
        rkey = (args[0], tree, aval_key(leaves))
        entry = self._replays.get(rkey)
        if entry is None:
            traces = self._jitted.cache_info()["traces"]
            program = self._jitted.lower(*args)
            entry = self._replays[rkey] = (program, {})
            if self._jitted.cache_info()["traces"] == traces:
                self._hits += 1  # compiled by an earlier (non-donating) call
        else:
            self._hits += 1
        program, fns = entry
        donated = frozenset([k for k, a in enumerate(arrays) if id(a) in mine])
        fn = fns.get(donated)
        if fn is None:
            fn = fns[donated] = generate(program, np, donated)[0]
        return program.out_tree.unflatten(fn(*arrays))

    def __call__(self, *batch):
        args, mine = self._arguments(batch)
        loss, new_params, new_bufs, new_states, out = self._run(args, mine)
        del args, mine  # the donated arrays may hold garbage now
        view, opt = self._view, self.optimizer
        tensors = view.param_tensors
        diff = self._last_diff
        with no_grad():
            for i, new in zip(diff, new_params):
                tensors[i]._assign(new)
            view.write_buffers(new_bufs)
            state = opt.state
            for i, new in zip(diff, new_states):
                if new:
                    p = tensors[i]
                    st = state.get(p)
                    if st is None:
                        st = state[p] = {}
                    for k, v in new.items():
                        # New Tensors, as eager step() makes: a state_dict() taken
                        # earlier keeps its values.
                        st[k] = None if v is None else Tensor._wrap(as_array(v))
        opt._opt_called = True  # for the schedulers' "step() before optimizer.step()" check
        loss = Tensor._wrap(as_array(loss))
        return (loss, out) if self.return_outputs else loss

    # -- inspection -------------------------------------------------------------
    def lower(self, *batch):
        """The optimised :class:`funcgrad.ir.Program` that ``step(*batch)`` runs."""
        return self._jitted.lower(*self._arguments(batch, draw=False)[0])

    def cache_info(self):
        """``{"traces", "hits", "size"}``: compilations, calls that reused one, signatures."""
        info = dict(self._jitted.cache_info())
        info["hits"] += self._hits
        return info

    def clear_cache(self):
        """Forget every compiled signature (needed after changing a layer's settings)."""
        self._jitted.clear_cache()
        self._specs.clear()
        self._replays.clear()
        self._refresh_view()

    def __repr__(self):
        return (f"<compile_step({self.model._get_name()}, {type(self.optimizer).__name__}): "
                f"{self._jitted.cache_info()['size']} signature(s) compiled>")


def compile_step(model, optimizer, loss_fn, *, num_inputs=1, return_outputs=False,
                 donate=True, clip_grad_norm=None):
    """Compile a whole training step of ``model`` and ``optimizer`` into one program.

    ``step(*batch)`` does what the eager loop does --
    ``optimizer.zero_grad(); loss = loss_fn(model(*inputs), *targets);
    loss.backward(); optimizer.step()`` -- in one jitted function: forward,
    loss, backward (``value_and_grad``) and the optimizer's functional update,
    with parameters, buffers and optimizer state passed as pytrees and the
    new values written back into the Parameters, buffers and
    ``optimizer.state`` after each call.  The parameters, buffers and
    optimizer state after N steps are bit-identical to the eager loop's (same
    primitives, same rules, same update math).

    ``.grad`` is not filled (the gradients live inside the program).  A
    parameter that the loss does not depend on is skipped, as eager
    ``step()`` skips a parameter whose ``.grad`` is None.

    Args:
      model: a ``funcgrad.nn.Module`` (or a :func:`compile`-d one).
      optimizer: a ``funcgrad.optim`` optimizer over (some of) the model's
        parameters; parameters it does not hold are not trained.
      loss_fn: ``loss_fn(output, *targets) -> scalar``, e.g. ``nn.CrossEntropyLoss()``.
      num_inputs: how many leading batch arguments go to the model; the rest
        go to ``loss_fn`` after the output.
      return_outputs: return ``(loss, output)`` instead of the loss.
      clip_grad_norm: ``max_norm`` or ``(max_norm, norm_type)``: clip the
        gradients as ``nn.utils.clip_grad_norm_(trained_params, max_norm)``
        between backward and the update (the norm is over the gradients of the
        parameters the optimizer trains).
      donate: let the program write new values into the old parameter, buffer
        and state arrays (in-place updates, less allocation).  Only arrays no
        one else references are overwritten; a reference you hold (``w =
        p.data``, a ``state_dict()`` snapshot) keeps its values.

    Returns:
      A :class:`CompiledStep`; ``step(*batch)`` returns the loss as a 0-d Tensor.

    Raises:
      TypeError: not a Module or not a funcgrad optimizer; an optimizer that
        overrides ``step()``; a loss that is not a scalar.
      ValueError: the optimizer holds a tensor that is not a model parameter.
      RuntimeError: the loss depends on no parameter that is being trained.

    Example:
        >>> import funcgrad as fg
        >>> model = fg.nn.Linear(3, 1)
        >>> opt = fg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> step = compile_step(model, opt, fg.nn.MSELoss())
        >>> loss = step(fg.ones(4, 3), fg.zeros(4, 1))
        >>> loss.shape
        torch.Size([])
    """
    return CompiledStep(model, optimizer, loss_fn, num_inputs, return_outputs, donate,
                        clip_grad_norm)


# --------------------------------------------------------------------------- #
# compile(model)
# --------------------------------------------------------------------------- #
def compile(model):  # noqa: A001 - the PyTorch name
    """Run ``model``'s forward and backward passes as compiled programs (``torch.compile``).

    ``compiled = funcgrad.compile(model)`` calls like the model.  Without
    grad (``no_grad()``, or no parameter requires grad) it runs one jitted
    forward program.  With grad, the forward program also returns the values
    the backward pass needs, and the output carries one node of the autograd
    tape whose backward runs a second compiled program; so the usual loop
    (``loss = criterion(compiled(x), y); loss.backward(); opt.step()``) is
    compiled without other changes.  For the whole step in one program (the
    fastest), use :func:`compile_step`.

    Everything else (``parameters()``, ``train()``, ``eval()``,
    ``state_dict()``, ...) acts on ``model`` itself; a program is compiled
    once per signature (shapes, dtypes, training modes, which tensors require
    grad).  Random draws (dropout) and BatchNorm's running statistics behave
    as in eager mode.

    Args:
      model: a ``funcgrad.nn.Module``.

    Returns:
      A :class:`CompiledModule` wrapping ``model`` (``compiled.module``).

    Raises:
      TypeError: ``model`` is not a Module.

    Example:
        >>> import funcgrad as fg
        >>> model = compile(fg.nn.Linear(3, 2))
        >>> model(fg.ones(4, 3)).shape
        torch.Size([4, 2])
    """
    return CompiledModule(model)
