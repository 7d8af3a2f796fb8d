"""``funcgrad.Tensor``: PyTorch-style eager autograd on the one reverse-mode engine.

A Tensor is a :class:`~funcgrad.core.Tracer` of the *tape*, a trace of level
0 that never closes.  Every operation on Tensors binds the same primitives as
``funcgrad.numpy``; the tape evaluates them on the Tensors' data and, when an
input requires grad and grad mode is on, records the primitive's staged VJP
closure with :func:`funcgrad.ad.record` -- the same function ``funcgrad.grad``
uses.  ``loss.backward()`` runs :func:`funcgrad.ad.backward_pass`: there is no
second derivative table.

Residuals are saved as Tensors (as PyTorch saves tensors), so a backward pass
run with ``create_graph=True`` records onto the tape and can be differentiated
again.  The output residual is saved as an alias holding its node weakly, so
the graph has no reference cycle and is freed by reference counting alone.

Because a Tensor's data may itself be a traced value, Tensors work inside the
functional transforms (``funcgrad.grad``/``vmap`` over a Module): Tensor is a
pytree node whose one child is its data.
"""
from __future__ import annotations

import functools
import threading
import weakref

import numpy as np

from . import ad, backends
from .config import config
from .core import Trace, Tracer, bind, concrete, evaluate
from .prims import creation


# --------------------------------------------------------------------------- #
# Grad mode (per thread, like PyTorch's)
# --------------------------------------------------------------------------- #
class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled():
    """Whether operations on Tensors are being recorded for backward."""
    return _grad_mode.enabled


class set_grad_enabled:
    """Context manager (and function) setting grad mode on or off.

    Examples:
        >>> import funcgrad as torch
        >>> with torch.set_grad_enabled(False):
        ...     y = torch.ones(2, requires_grad=True) * 2
        >>> y.requires_grad
        False
    """

    def __init__(self, mode):
        self.prev = _grad_mode.enabled
        self.mode = bool(mode)
        _grad_mode.enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self.prev
        return False


class _GradModeContext:
    mode = True

    def __enter__(self):
        self.prev = _grad_mode.enabled
        _grad_mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Disable recording (context manager or decorator), as ``torch.no_grad``."""
    mode = False


class enable_grad(_GradModeContext):
    """Enable recording (context manager or decorator), as ``torch.enable_grad``."""
    mode = True


inference_mode = no_grad


# --------------------------------------------------------------------------- #
# The tape
# --------------------------------------------------------------------------- #
class _TapeTrace(Trace):
    kind = "the autograd tape (funcgrad.Tensor)"

    def __init__(self):
        super().__init__()
        self.level = 0  # below every transform: transforms see Tensor ops' data

    def process_primitive(self, prim, args, params):
        # One pass over the arguments collects what recording needs: values to
        # compute on, parent nodes, the inputs that require grad (kept for
        # create_graph) and their versions (for the in-place check).
        values = []
        parents = []
        noted = []
        traced = False
        grad_on = _grad_mode.enabled
        for a in args:
            if isinstance(a, Tensor):
                v = a._data
                if grad_on and a.requires_grad:
                    node = a.node
                    parents.append(node if node is not None else a._graph_node())
                    noted.append((a, a._version))
                else:
                    parents.append(None)
            else:
                v = a
                parents.append(None)
            values.append(v)
            if not traced and isinstance(v, Tracer):
                traced = True
        staged = None
        if traced:
            out = bind(prim, values, params)
        elif noted and prim.fwd_vjp is not None and not _FOREIGN and not config.debug_nans:
            # evaluated and its rule staged together (see Primitive.fwd_vjp)
            out, staged = ad.fwd_and_vjp(prim, values, tuple([p is not None for p in parents]),
                                         params)
        else:
            fast = prim.np_fn  # evaluate's fast path, inlined (the hot path)
            if fast is not None and not params and not _FOREIGN and not config.debug_nans:
                try:
                    out = fast(*values)
                except (ValueError, TypeError, IndexError):
                    out = evaluate(prim, values, params)  # re-raises with context
            else:
                out = evaluate(prim, values, params)
        if prim.multiple_results:
            outs = [Tensor._wrap(o) for o in out]
            if noted and not prim.nondiff:
                node = _record(prim, out, outs, args, values, parents, params, noted)
                for t, n in zip(outs, ad.projection_nodes(node, out)):
                    if n is not None:
                        t.node = n
                        t.requires_grad = True
            return outs
        result = Tensor._wrap(out)
        if not noted or prim.nondiff or out.dtype.kind not in "fc":
            return result
        rule = prim.vjp
        if rule is None:  # (the error is raised if the backward pass reaches it)
            result.node = _record(prim, out, result, args, values, parents, params, noted)
        else:  # _record, inlined: the rule staged on the arrays, what create_graph needs
            parents = tuple(parents)
            if staged is not None:
                vjp = staged
            elif prim.vjp_needs:
                needs = tuple([p is not None for p in parents])
                vjp = rule(out, *values, needs=needs, **params) if params else \
                    rule(out, *values, needs=needs)
            else:
                vjp = rule(out, *values, **params) if params else rule(out, *values)
            node = result.node = _new(_Node)  # ad.Node(...) without the __init__ call
            node.vjp = vjp
            node.res = None
            node.parents = parents
            node.shape = out.shape
            node.dtype = out.dtype
            node.prim = prim
            node.seq = _next_seq()
            out_ref = _weakref(out) if out.__class__ is np.ndarray else _weak_or_strong(out)
            node.lazy = (args, values, (_weakref(result), out_ref), params, noted)
        result.requires_grad = True
        return result

    def process_custom_vjp(self, cv, args):
        """A custom_vjp function called on Tensors: its own rule goes on the tape."""
        from .prims.creation import zeros_like
        from .tree_util import tree_flatten, tree_unflatten
        is_tensor = lambda x: isinstance(x, Tensor)  # noqa: E731
        flat, tree = tree_flatten(args, is_leaf=is_tensor)
        grad_on = _grad_mode.enabled
        parents = tuple(t._graph_node() if is_tensor(t) and grad_on and t.requires_grad
                        else None for t in flat)
        values = tree_unflatten(tree, [t._data if is_tensor(t) else t for t in flat])
        if getattr(cv, "is_remat", False):
            # checkpoint on Tensors: recorded as usual (so parameters the function
            # closes over get their gradients), then its saved values are dropped
            # and recomputed in the backward pass (see _tape_checkpoint).  Tensors
            # holding traced values: the functional transform's checkpoint applies.
            if any(isinstance(v, Tracer) for v in tree_flatten(values)[0]):
                return cv.fun(*args)
            from ._tape_checkpoint import checkpoint_on_tape
            return checkpoint_on_tape(cv.fun, args)
        if not any(p is not None for p in parents) or cv.fwd is None:
            with no_grad():
                return cv.fun(*args)
        with no_grad():
            out, res = cv.fwd(*values)
        out_flat, out_tree = tree_flatten(out, is_leaf=is_tensor)
        out_vals = [o._data if is_tensor(o) else o for o in out_flat]

        wrapped = [is_tensor(o) for o in out_flat]

        def vjp_fn(cts):
            cts = [zeros_like(o) if c is None else c for c, o in zip(cts, out_vals)]
            # the cotangent has the output's structure: Tensor where fwd returned one
            cts = [Tensor._wrap(c) if w and not is_tensor(c) else c
                   for c, w in zip(cts, wrapped)]
            in_cts = cv.bwd(res, tree_unflatten(out_tree, cts))
            in_flat, _ = tree_flatten(in_cts, is_leaf=lambda x: x is None)
            if len(in_flat) != len(flat):
                raise ValueError(
                    f"the bwd rule of custom_vjp function '{cv.name}' returned "
                    f"{len(in_flat)} cotangent leaves for {len(flat)} argument leaves")
            return tuple(in_flat)

        node = ad.Node(vjp_fn, parents, None, None, cv)
        outs = []
        for v, n in zip(out_vals, ad.projection_nodes(node, out_vals)):
            t = Tensor._wrap(v)
            if n is not None:
                t.node = n
                t.requires_grad = True
            outs.append(t)
        return tree_unflatten(out_tree, outs)


TAPE = _TapeTrace()


def _saved_tensors(fn):
    """The Tensors a staged VJP closure actually captured (its saved tensors).

    Rules keep only the residuals they need (``needs`` drops the others), so
    the closure's cells are exactly what PyTorch would call saved tensors.
    Output aliases are skipped: they keep the output's old buffer, which an
    in-place op (always a rebinding of the array here) cannot change.
    """
    saved = []
    stack = [fn]
    seen = set()
    while stack:
        f = stack.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        for cell in getattr(f, "__closure__", None) or ():
            try:
                v = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            items = v if isinstance(v, (tuple, list)) else (v,)
            for item in items:
                if isinstance(item, Tensor) and not isinstance(item, _AliasTensor):
                    saved.append(item)
                elif callable(item) and getattr(item, "__closure__", None):
                    stack.append(item)
    return saved


def _record(prim, out, result, args, values, parents, params, noted):
    """Record ``prim`` on the tape: the rule staged on plain arrays (fast backward).

    What ``backward(create_graph=True)`` needs -- the rule staged on Tensors so
    that the backward pass is itself recorded -- is kept in ``node.lazy`` and
    built only then (:func:`_restage_on_tensors`).
    """
    node = ad.record(prim, out, values, tuple(parents), params)
    if isinstance(result, list):
        outs = [(weakref.ref(r), _weak_or_strong(o)) for r, o in zip(result, out)]
    else:
        outs = (weakref.ref(result), _weak_or_strong(out))
    # (the versions in ``noted`` are checked by the backward pass: _check_versions)
    node.lazy = (args, values, outs, params, noted)
    return node


_weakref = weakref.ref
_new = object.__new__
_Node = ad.Node
_next_seq = ad._next_seq
_FOREIGN = backends._FOREIGN_ARRAY_TYPES  # non-empty once a non-NumPy backend is in use


def _weak_or_strong(value):
    """A weak reference to an output array (kept alive by the rule if it needs it)."""
    if isinstance(value, np.generic):  # (a full reduction's NumPy scalar, e.g. a loss)
        return lambda: value  # scalars cannot be weakly referenced; they are tiny
    try:
        return weakref.ref(value)
    except TypeError:  # other values that cannot be weakly referenced
        return lambda: value


def _tensor_rule(node):
    """``node``'s VJP rule staged on Tensors (inputs that require grad, its output)."""
    args, values, outs, params, _ = node.lazy
    residuals = tuple(a if p is not None else v for a, v, p in zip(args, values, node.parents))
    prim = node.prim
    if isinstance(outs, list):
        out = [_output_alias(r, o, node) for r, o in outs]
    else:
        out = _output_alias(*outs, node)
    if prim.vjp_needs:
        needs = tuple(isinstance(r, Tensor) for r in residuals)
        return prim.vjp(out, *residuals, needs=needs, **params)
    return prim.vjp(out, *residuals, **params)


def _output_alias(result_ref, out_ref, node):
    """The output as a Tensor linked to ``node`` (or None if no rule needs it)."""
    t = result_ref()
    if t is not None:
        return _saved_alias(t)
    value = out_ref()
    if value is None:
        return None  # neither the user nor the rule kept it: the rule does not use it
    t = Tensor._wrap(value)
    t.node = node
    t.requires_grad = True
    return t


def _restage_on_tensors(node):
    """backward_pass hook for create_graph: run this node's rule on Tensors."""
    _check_versions(node)
    if node.lazy is not None and node.prim is not None:
        if node.vjp is ad._freed:
            ad._freed(None)  # the graph was already walked and freed
        node.vjp = _tensor_rule(node)


def _check_versions(node):
    """backward_pass hook: fail, PyTorch-style, if a saved tensor was modified in place.

    Versions of the inputs that require grad are noted when recording (cheap).
    The rule runs on the values it saved then, so it could not give a wrong
    gradient -- but PyTorch raises here, and code ported from it relies on
    that, so when a version changed, the rule staged on Tensors is inspected
    and the error raised if that tensor is one the rule saves.
    """
    lazy = node.lazy
    if lazy is None:
        return
    for t, v in lazy[4]:
        if t._version != v and any(s is t for s in _saved_tensors(_tensor_rule(node))):
            raise RuntimeError(
                "one of the variables needed for gradient computation has been "
                f"modified by an inplace operation: [{t.dtype} {list(t.shape)}] is at "
                f"version {t._version}; expected version {v} instead (saved by "
                f"'{node.prim.name}'). Hint: avoid the in-place operation (use out = x * 2 "
                "instead of x.mul_(2)), or .clone() the tensor before modifying it.")


# --------------------------------------------------------------------------- #
# Graph nodes of leaves (hold their tensor weakly, to accumulate .grad)
# --------------------------------------------------------------------------- #
class _LeafNode(ad.Node):
    __slots__ = ("tensor",)

    def __init__(self, tensor):
        super().__init__(None, (), tuple(tensor._data.shape), tensor._data.dtype, None)
        self.tensor = weakref.ref(tensor)


def _saved_alias(t):
    """A Tensor sharing ``t``'s data whose node is held weakly (no reference cycle)."""
    alias = _AliasTensor.__new__(_AliasTensor)
    alias._data = t._data
    alias.requires_grad = True
    alias.grad = None
    alias._version = 0
    alias._target = weakref.ref(t)
    alias._retains_grad = False
    return alias


# --------------------------------------------------------------------------- #
# Tensor
# --------------------------------------------------------------------------- #
class Tensor(Tracer):
    """An array with PyTorch's autograd: ``requires_grad``, ``backward()``, ``.grad``.

    Create Tensors with :func:`funcgrad.tensor` and the other factories
    (``zeros``, ``randn``, ...).  Arithmetic, indexing and the math methods
    record onto the tape when an input requires grad.

    Examples:
        >>> import funcgrad as torch
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
    """

    # ``_data`` is the array itself (NumPy, CuPy, or a traced value under a
    # transform); ``data`` is PyTorch's view of it (below).
    # ``_owner``: set only on what ``.data`` returns (the tensor it writes back to).
    __slots__ = ("_data", "node", "requires_grad", "grad", "_version", "_retains_grad",
                 "_owner", "__weakref__")
    __array_priority__ = 2000

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data._data
        elif not hasattr(data, "dtype") or not hasattr(data, "shape"):
            # torch.Tensor([1, 2]) is the legacy constructor: always the default float.
            data = np.asarray(data, dtype=np.float32)
        self._data = data
        self.node = None
        self.requires_grad = False
        self.grad = None
        self._version = 0
        self._retains_grad = False
        self._owner = None
        if requires_grad:
            self.requires_grad_(True)

    _trace = TAPE  # every Tensor belongs to the tape

    @property
    def data(self):
        """This tensor's values as a Tensor outside autograd (PyTorch's ``.data``).

        It shares this tensor's array; an in-place operation on it
        (``p.data.normal_(0, 0.02)``, ``p.data.add_(...)``, ``p.data.zero_()``)
        replaces this tensor's values too, without a version bump or a graph
        node, as in PyTorch.  Assigning ``p.data = t`` (a Tensor or an array)
        replaces the values, shape and dtype included.  For the array itself
        use ``p.numpy()`` (or ``funcgrad.to_numpy(p)`` for a device copy).
        """
        alias = Tensor._wrap(self._data)
        alias._owner = self
        return alias

    @data.setter
    def data(self, value):
        if isinstance(value, Tensor):
            value = value._data
        elif not (hasattr(value, "shape") and hasattr(value, "dtype")):
            raise TypeError(f"Tensor.data must be set to a Tensor or an array, got "
                            f"{type(value).__name__}")
        self._set_values(value)

    def _set_values(self, value):
        """Replace the array outside autograd; what ``.data`` gave writes through.

        (funcgrad's in-place operations replace a tensor's array rather than
        write into it, so ``p.data.fill_(...)`` reaches ``p`` this way.)
        """
        self._data = value
        owner = getattr(self, "_owner", None)  # (None, or unset, on every other tensor)
        if owner is not None:
            owner._set_values(value)

    @classmethod
    def _wrap(cls, data):
        """A new ``cls`` around ``data`` with no graph (the fast constructor)."""
        t = cls.__new__(cls)
        t._data = data
        t.node = None
        t.requires_grad = False
        t.grad = None
        t._version = 0
        t._retains_grad = False
        t._owner = None
        return t

    # -- abstract value (the engine reads these) ------------------------------
    @property
    def shape(self):
        from .torch_api import Size
        return Size(self._data.shape)

    @property
    def dtype(self):
        return self._data.dtype

    def concrete_value(self):
        return concrete(self._data)

    # -- autograd --------------------------------------------------------------
    @property
    def is_leaf(self):
        """True for tensors created by the user (not by a recorded operation)."""
        return self.node is None or self.node.prim is None

    @property
    def grad_fn(self):
        """The node that produced this tensor (None for leaves)."""
        n = self.node
        return None if n is None or n.prim is None else n

    def _graph_node(self):
        node = self.node
        if node is None:
            node = self.node = _LeafNode(self)
        return node

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place (only on leaves, like PyTorch)."""
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. "
                               "If you want to use a computed variable in a subgraph that "
                               "doesn't require differentiation use var_no_grad = var.detach().")
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point and complex dtype can require "
                               f"gradients (this one is {self._data.dtype})")
        self.requires_grad = bool(requires_grad)
        if not requires_grad:
            self.node = None
        return self

    def retain_grad(self):
        """Populate ``.grad`` for this non-leaf tensor during ``backward()``."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        self._retains_grad = True
        if not self.is_leaf:
            _retained[self.node] = self

    def detach(self):
        """A new Tensor sharing this data, cut from the graph."""
        return Tensor._wrap(self._data)

    def detach_(self):
        self.node = None
        self.requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the ``.grad`` of the leaves.

        Args:
          gradient: the output cotangent; required unless this tensor has one
            element.
          retain_graph: keep the graph's saved values for another backward
            (defaults to ``create_graph``).
          create_graph: record the backward pass itself, for higher-order
            derivatives.
          inputs: accumulate only into these tensors.

        Raises:
          RuntimeError: the tensor does not require grad; a non-scalar output
            without ``gradient``; a second backward through a freed graph.
        """
        backward([self], [gradient] if gradient is not None else None, retain_graph,
                 create_graph, inputs)

    # -- in-place bookkeeping (used by the torch-style API) --------------------
    def _bump_version(self):
        self._version += 1

    def _assign(self, new_data):
        """Replace the data in place (an in-place op): bumps the version counter."""
        if _grad_mode.enabled and self.requires_grad and self.is_leaf:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation. Wrap it in `with torch.no_grad():` (as "
                               "optimizers do) or use an out-of-place operation.")
        self._set_values(new_data)  # (a ``.data`` alias writes through to its tensor)
        self._version += 1
        return self

    def __repr__(self):
        from .torch_api import format_tensor
        return format_tensor(self)

    # Identity hash (as torch.Tensor's), the C slot: Tensors key optimizer state dicts.
    __hash__ = object.__hash__

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is "
                               f"ambiguous (shape {tuple(self._data.shape)})")
        return bool(concrete(self._data))


class _AliasTensor(Tensor):
    """A saved output: shares data; resolves its node through a weak reference."""

    __slots__ = ("_target",)

    @property
    def node(self):  # type: ignore[override]
        t = self._target()
        return None if t is None else t.node

    @node.setter
    def node(self, value):
        pass


# Non-leaf tensors that called retain_grad(), by node (weakly held).
_retained = weakref.WeakValueDictionary()


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """``torch.autograd.backward``: accumulate gradients of ``tensors`` into leaves."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, Tensor) or not isinstance(grad_tensors, (list, tuple)):
        grad_tensors = [grad_tensors]
    retain = create_graph if retain_graph is None else retain_graph
    seeds = _seeds(tensors, grad_tensors, create_graph)
    wanted = None
    capture = set(_retained.keys()) if len(_retained) else None
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        wanted = {t._graph_node(): t for t in inputs}
        capture = set(wanted) if capture is None else capture | set(wanted)
    prev = _grad_mode.enabled  # (set_grad_enabled(create_graph), without the object)
    _grad_mode.enabled = create_graph
    try:
        cts = ad.backward_pass(seeds, retain_graph=retain, capture=capture,
                               on_node=_restage_on_tensors if create_graph else _check_versions)
        for node, ct in cts.items():
            if wanted is not None:
                t = wanted.get(node)
            elif isinstance(node, _LeafNode):
                t = node.tensor()
            else:
                t = _retained.get(node)
            if t is not None:
                _accumulate(t, ct, create_graph)
    finally:
        _grad_mode.enabled = prev


def _seeds(tensors, grads, create_graph):
    seeds = []
    for t, g in zip(tensors, grads):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not "
                               "have a grad_fn")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs "
                                   f"(this output has shape {list(t.shape)}); pass "
                                   "gradient=torch.ones_like(out) or reduce it with .sum()")
            g = creation.ones_like(t._data)  # on the output's device
        elif isinstance(g, Tensor):
            if tuple(g.shape) != tuple(t.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                                   f"{list(g.shape)} and output[0] has a shape of "
                                   f"{list(t.shape)}.")
            g = g if create_graph else g._data
        else:
            g = creation._xp_of(t._data).asarray(g, dtype=t._data.dtype)
        seeds.append((t._graph_node(), g))
    return seeds


def _accumulate(t, ct, create_graph):
    if ct.__class__ is np.ndarray and t.grad is None and not create_graph and \
            ct.shape == t._data.shape:
        t.grad = Tensor._wrap(ct)  # the common case: a first gradient of the right shape
        return
    if not isinstance(ct, Tensor):
        ct = Tensor._wrap(ct)
    elif not create_graph:
        ct = ct.detach()
    if tuple(ct._data.shape) != tuple(t._data.shape):
        from .prims.shape_ops import sum_to
        ct = Tensor._wrap(sum_to(ct._data, tuple(t._data.shape)))
    if t.grad is None:
        t.grad = ct
    else:
        t.grad = t.grad + ct if create_graph else Tensor._wrap(t.grad._data + ct._data)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """``torch.autograd.grad``: gradients of ``outputs`` with respect to ``inputs``.

    Returns a tuple with one Tensor per input (``None`` for an unused input
    when ``allow_unused``).  Nothing is accumulated into ``.grad``.

    Examples:
        >>> import funcgrad as torch
        >>> x = torch.tensor(3.0, requires_grad=True)
        >>> (g,) = torch.autograd.grad(x ** 3, x, create_graph=True)
        >>> torch.autograd.grad(g, x)[0]
        tensor(18.)
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    retain = create_graph if retain_graph is None else retain_graph
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not "
                               "require grad")
    seeds = _seeds(outputs, grad_outputs, create_graph)
    nodes = [t._graph_node() for t in inputs]
    with set_grad_enabled(create_graph):
        cts = ad.backward_pass(seeds, retain_graph=retain, capture=set(nodes),
                               on_node=_restage_on_tensors if create_graph else _check_versions)
    result = []
    for i, (t, n) in enumerate(zip(inputs, nodes)):
        ct = cts.get(n)
        if ct is None:
            if not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears "
                                   "to not have been used in the graph. Set allow_unused=True "
                                   "if this is the desired behavior.")
            result.append(None)
            continue
        if not isinstance(ct, Tensor):
            ct = Tensor._wrap(ct)
        elif not create_graph:
            ct = ct.detach()
        result.append(ct)
    return tuple(result)


# --------------------------------------------------------------------------- #
# Pytree registration: a Tensor's one child is its data.
# --------------------------------------------------------------------------- #
def _flatten_tensor(t):
    return (t._data,), (type(t), t.requires_grad)


def _unflatten_tensor(aux, children):
    cls, requires_grad = aux
    t = cls.__new__(cls)
    Tensor.__init__(t, children[0])
    if requires_grad and not isinstance(children[0], Tracer) and \
            getattr(children[0], "dtype", np.dtype(object)).kind in "fc":
        t.requires_grad = True
    return t


def register_tensor_pytree(cls):
    from .tree_util import register_pytree_node
    register_pytree_node(cls, _flatten_tensor, _unflatten_tensor)


register_tensor_pytree(Tensor)

