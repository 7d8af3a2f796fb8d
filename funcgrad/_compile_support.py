"""The machinery behind :mod:`funcgrad.compile`: what a Module looks like to a program.

* :class:`ModelView` lists a model's parameters and buffers in a fixed order
  and runs the model on other (traced) values for them;
* random draws of ``funcgrad.nn`` (dropout masks, ...) become program inputs:
  :class:`Recorder` notes them in a discovery trace, :class:`Feeder` hands
  the traced inputs out in the compiling trace, :func:`make_draws` makes
  fresh ones for each call;
* :func:`gather` decides which buffers a program may overwrite (donation);
* :func:`reachable_inputs` finds the parameters a loss depends on (as the
  autograd tape would see them);
* :func:`split_program` cuts a staged forward+backward program into a
  forward program that also returns the residuals and a backward program of
  the residuals and the output cotangents (what ``compile(model)`` records as
  one node on the autograd tape).
"""
from __future__ import annotations

import numpy as np

from . import random as fr
from ._donation import private
from .core import ConcretizationError
from .ir import Var
from .nn import _random as _nn_random
from .nn._pytree import functional_call
from .nn.parameter import Parameter
from .tensor import Tensor

_DUMMY_KEY = fr.key(0)


# --------------------------------------------------------------------------- #
# Random draws become program inputs
# --------------------------------------------------------------------------- #
class DrawSpec:
    """One random draw of the model: how to make it (``sample(key)``) and its aval."""

    __slots__ = ("sample", "generator", "shape", "dtype")

    def __init__(self, sample, generator, shape, dtype):
        self.sample, self.generator, self.shape, self.dtype = sample, generator, shape, dtype


class Recorder:
    """Draw hook of the discovery trace: notes each draw (no generator advances)."""

    def __init__(self):
        self.draws = []

    def __call__(self, sample, generator):
        value = np.asarray(sample(_DUMMY_KEY))
        self.draws.append(DrawSpec(sample, generator, value.shape, value.dtype))
        return value


class Feeder:
    """Draw hook of the compiling trace: hands out the traced draw inputs in order."""

    def __init__(self, traced):
        self.traced = traced
        self.i = 0

    def __call__(self, sample, generator):
        i = self.i
        aval = np.asarray(sample(_DUMMY_KEY))
        if i >= len(self.traced) or tuple(self.traced[i].shape) != aval.shape or \
                self.traced[i].dtype != aval.dtype:
            raise RuntimeError(
                "funcgrad.compile: the model drew different random numbers (count, shape or "
                "dtype) in two traces of the same signature; its randomness must depend "
                "only on shapes, training modes and layer settings")
        self.i = i + 1
        return self.traced[i]


class hooked:
    """Route ``funcgrad.nn``'s random draws through ``hook`` (this thread only)."""

    def __init__(self, hook):
        self.hook = hook

    def __enter__(self):
        state = _nn_random._draw_hook
        self.prev, state.hook = state.hook, self.hook

    def __exit__(self, *exc):
        _nn_random._draw_hook.hook = self.prev


def tracing_draws():
    """Is a compile trace routing draws right now (on this thread)?"""
    return _nn_random._draw_hook.hook is not None


def make_draws(spec, xp=np):
    """Fresh draws for one call: the same generators, order and samplers as eager code.

    (Drawn on the host, as eagerly; moved to ``xp``'s device when that is not NumPy.)
    """
    draws = [d.sample(fr.next_key(d.generator)) for d in spec]
    return draws if xp is np else [xp.asarray(d) for d in draws]


# --------------------------------------------------------------------------- #
# The model's tensors, in a fixed order
# --------------------------------------------------------------------------- #
class ModelView:
    """Every parameter (tied ones once) and buffer of a model, and where each lives.

    ``valid()`` notices a Parameter or buffer replaced by assignment (the
    common way a model changes after compiling); ``generation`` numbers the
    views of one compiled object, so programs traced for an older view are
    never reused.
    """

    def __init__(self, model, generation):
        self.generation = generation
        self.modules = [m for _, m in model.named_modules()]
        self.params, self.buffers = [], []   # (dotted name, owner module, local name, tensor)
        seen = set()
        for prefix, m in model.named_modules():
            pre = prefix + "." if prefix else ""
            for local, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    self.params.append((pre + local, m, local, p))
            for local, b in m._buffers.items():
                if b is not None and id(b) not in seen:
                    seen.add(id(b))
                    self.buffers.append((pre + local, m, local, b))
        self.param_tensors = [e[3] for e in self.params]
        self.buffer_tensors = [e[3] for e in self.buffers]
        self.index = {id(p): i for i, p in enumerate(self.param_tensors)}

    def valid(self):
        for _, m, local, t in self.params:
            if m._parameters.get(local) is not t:
                return False
        for _, m, local, t in self.buffers:
            if m._buffers.get(local) is not t:
                return False
        return True

    def modes(self):
        return tuple([m.training for m in self.modules])

    def run(self, model, param_vals, buffer_vals, args, kwargs=None):
        """``model(*args, **kwargs)`` with these (traced) parameter and buffer values.

        Returns the output and the buffers' values after the call (BatchNorm
        updates its running statistics in place: the new values come out here).
        """
        values = {}
        for (name, _, _, _), v in zip(self.params, param_vals):
            values[name] = Parameter._from_leaf(v, False)
        bufs = []
        for (name, _, _, _), v in zip(self.buffers, buffer_vals):
            t = values[name] = Tensor._wrap(v)
            bufs.append(t)
        try:
            out = functional_call(model, values, tuple(args), kwargs)
        except ConcretizationError as e:
            e.add_note("funcgrad.compile traces the model's forward pass once per signature, "
                       "so Python code in it cannot depend on array values (e.g. BatchNorm "
                       "with momentum=None reads num_batches_tracked). Keep such a model "
                       "eager, or write that part with funcgrad.numpy operations.")
            raise
        return out, [t._data for t in bufs]

    def write_buffers(self, new_values):
        """Rebind each buffer to its new value (None: unchanged), as an in-place op would."""
        for t, new in zip(self.buffer_tensors, new_values):
            if new is not None:
                t._assign(as_array(new))


def data_of(x):
    """A Tensor's data; anything else as it is."""
    return x._data if isinstance(x, Tensor) else x


def as_array(v):
    """Programs may return NumPy scalars for 0-d results; Tensors hold 0-d arrays."""
    return np.asarray(v) if isinstance(v, np.generic) else v


# --------------------------------------------------------------------------- #
# Donation: which buffers may a program overwrite?
# --------------------------------------------------------------------------- #
def gather(tensors, mine=None):
    """The data of ``tensors``; the ids of those that nobody else sees are added to ``mine``.

    A program may write intermediates into such an array (in-place updates,
    fewer allocations): it is referenced only by its Tensor, which is about
    to be rebound to the result.  An array also held elsewhere (a user
    variable, a ``state_dict()`` snapshot, a view of it) is never written.
    """
    out = []
    for t in tensors:
        a = t._data
        if mine is not None and private(a, 2):  # known: the Tensor's slot and `a`
            mine.add(id(a))
        out.append(a)
    return out


# --------------------------------------------------------------------------- #
# Program analyses
# --------------------------------------------------------------------------- #
def reachable_inputs(program):
    """Vars of ``program`` that its outputs depend on differentiably.

    Equations of non-differentiable primitives (comparisons, ``stop_gradient``,
    ...) and integer/boolean results cut the dependence, as on the autograd
    tape: a parameter reached only through them gets no ``.grad`` in eager
    mode (and the optimizer skips it).
    """
    needed = {v for v in program.out_vars if type(v) is Var}
    for e in reversed(program.equations):
        if not any(o in needed for o in e.outputs):
            continue
        if getattr(e.prim, "nondiff", False) or \
                not any(o.dtype.kind in "fc" for o in e.outputs):
            continue
        needed.update(x for x in e.inputs if type(x) is Var)
    return needed


def split_program(program, n_forward_outputs, n_cotangents):
    """Split a forward+backward program into a forward and a backward program.

    ``program`` takes (primal inputs..., cotangents...) and returns (forward
    outputs..., gradients...), the cotangents being its last
    ``n_cotangents`` inputs.  Every equation the forward outputs need goes to
    the forward program, which also returns the *residuals*: the values the
    rest (the backward program) reads.  The backward program takes
    (residuals..., cotangents...) and returns the gradients.  Nothing is
    computed twice.

    Returns:
      ``(forward, backward, n_residuals)``, two :class:`funcgrad.ir.Program`.
    """
    ins = program.in_vars
    primal_ins, ct_vars = ins[:len(ins) - n_cotangents], ins[len(ins) - n_cotangents:]
    fwd_outs = program.out_vars[:n_forward_outputs]
    grad_outs = program.out_vars[n_forward_outputs:]
    eqns = program.equations
    need = {v for v in fwd_outs if type(v) is Var}
    in_fwd = [False] * len(eqns)
    for i in range(len(eqns) - 1, -1, -1):
        e = eqns[i]
        if any(o in need for o in e.outputs):
            in_fwd[i] = True
            need.update(x for x in e.inputs if type(x) is Var)
    need = {v for v in grad_outs if type(v) is Var}
    in_bwd = [False] * len(eqns)
    for i in range(len(eqns) - 1, -1, -1):
        e = eqns[i]
        if not in_fwd[i] and any(o in need for o in e.outputs):
            in_bwd[i] = True
            need.update(x for x in e.inputs if type(x) is Var)
    bwd_eqns = [e for e, b in zip(eqns, in_bwd) if b]
    made = {o for e in bwd_eqns for o in e.outputs}
    skip = made | set(ct_vars) | set(program.constants)
    residuals = {}
    for x in [x for e in bwd_eqns for x in e.inputs] + list(grad_outs):
        if type(x) is Var and x not in skip:
            residuals[x] = None
    residuals = list(residuals)
    forward = program.replace(in_vars=primal_ins,
                              equations=[e for e, f in zip(eqns, in_fwd) if f],
                              out_vars=list(fwd_outs) + residuals, in_tree=None,
                              out_tree=None, name=program.name + "_forward")
    backward = program.replace(in_vars=residuals + list(ct_vars), equations=bwd_eqns,
                               out_vars=list(grad_outs), in_tree=None, out_tree=None,
                               name=program.name + "_backward")
    return forward, backward, len(residuals)


def scalar_loss(loss, who):
    """The loss's array, checked to be a 0-d float (what ``value_and_grad`` needs)."""
    loss = loss._data if isinstance(loss, Tensor) else loss
    if not hasattr(loss, "dtype") or tuple(loss.shape) != () or loss.dtype.kind not in "fc":
        shape = tuple(getattr(loss, "shape", ()))
        raise TypeError(f"{who}: loss_fn must return a scalar floating-point loss (a 0-d "
                        f"Tensor); got {type(loss).__name__} of shape {shape}. Reduce it, "
                        "e.g. criterion(out, y).mean(), or use reduction='mean'.")
    return loss


def aval_key(leaves):
    """The part of a signature that the leaves' shapes, dtypes and static values make."""
    return tuple([(x.shape, x.dtype) if hasattr(x, "dtype") and hasattr(x, "shape")
                  else (type(x), x) for x in leaves])


__all__ = ["ModelView", "Recorder", "Feeder", "hooked", "make_draws", "gather",
           "reachable_inputs", "split_program", "scalar_loss", "aval_key",
           "as_array", "data_of", "tracing_draws"]
