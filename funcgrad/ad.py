"""Automatic differentiation: reverse mode (nodes + backward pass) and forward mode.

Reverse mode records, for each primitive applied to a traced value, a
:class:`Node` holding the primitive's *staged* VJP closure -- a function of the
output cotangent that keeps only the residuals the rule needs -- and the nodes
of its differentiable inputs.  :func:`backward_pass` walks the graph once in
reverse topological order, summing cotangents per node and freeing each node's
closure as soon as it has run.

Broadcasting is handled in one place: primitives broadcast like NumPy, and the
backward pass sums a cotangent back to its input's shape (``_fit``) instead of
every binary rule doing so.

Forward mode pushes tangents through each primitive's JVP rule, with ``None``
as the symbolic zero: a primitive whose inputs all have zero tangents costs
nothing beyond its own evaluation.

The same :func:`record` and :func:`backward_pass` serve ``funcgrad.grad`` and
``funcgrad.Tensor.backward``: there is one derivative table.
"""
from __future__ import annotations

import heapq
import itertools

import numpy as np

from . import backends
from .config import config
from .core import (EMPTY_PARAMS, ConcretizationError, MissingRuleError, Trace, Tracer,
                   _evaluate_impl, bind, concrete, evaluate, user_frame_summary)

# Primitives the engine itself needs; installed by funcgrad.prims at import.
_ops = None
# Creation numbers of graph nodes (atomic under the GIL: threads may record at once).
_next_seq = itertools.count().__next__


def _install_ops(ops):
    global _ops
    _ops = ops
    _install_vjp_operators()


# --------------------------------------------------------------------------- #
# Graph nodes
# --------------------------------------------------------------------------- #
class Node:
    """One recorded primitive application (or a leaf, when ``prim`` is None).

    ``shape``/``dtype`` describe the node's output, so the backward pass can fit
    incoming cotangents to it without storing per-edge metadata.
    """

    # ``seq`` and ``lazy`` belong to the Tensor front's tape.  ``lazy`` keeps what
    # it needs to rebuild the rule on Tensors for backward(create_graph=True) and
    # to check versions.  ``seq`` numbers nodes in creation order -- a
    # topological order, since a node is made after its parents -- so the tape's
    # backward pass needs no graph sort.  A functional trace orders its nodes by
    # its own list instead, and its hot paths (``_emit``) leave both unset.
    # ``res``: None, or the one residual of a node whose ``vjp`` is a shared
    # ``bwd(ct, res)`` (unary elementwise primitives recorded by the functional
    # trace: no closure is built per operation).  Call ``pull(node, ct)``.
    __slots__ = ("vjp", "res", "parents", "shape", "dtype", "prim", "seq", "lazy",
                 "__weakref__")

    def __init__(self, vjp, parents, shape, dtype, prim):
        self.vjp = vjp
        self.res = None
        self.parents = parents
        self.shape = shape
        self.dtype = dtype
        self.prim = prim
        self.seq = _next_seq()
        self.lazy = None

    def __repr__(self):
        name = self.prim.name if self.prim is not None else "leaf"
        return f"<Node {name} {self.dtype}{list(self.shape)}>"


def pull(node, ct):
    """``node``'s input cotangents for ``ct`` (its staged VJP, or its shared one)."""
    res = node.res
    return node.vjp(ct) if res is None else node.vjp(ct, res)


def leaf_node(value):
    return Node(None, (), value.shape, value.dtype, None)


class _Projection:
    """Primitive-like tag for the node selecting output ``i`` of a multi-output node."""

    __slots__ = ("name", "nondiff")

    def __init__(self, name):
        self.name = name
        self.nondiff = False


def _freed(ct):
    raise RuntimeError(
        "Trying to backward through the graph a second time (or directly access "
        "saved values after they have already been freed). Saved intermediate "
        "values of the graph are freed when you call .backward() or "
        "autograd.grad(). Specify retain_graph=True if you need to backward "
        "through the graph a second time.")


def _missing_vjp(prim, where):
    def raise_missing(ct):
        raise MissingRuleError(f"no VJP rule for primitive '{prim.name}' (used at {where})")
    return raise_missing


def is_differentiable_dtype(dtype):
    return dtype.kind in "fc"


def record(prim, out, primals, parents, params, missing=None):
    """Make the reverse-mode node for ``out = prim(*primals)``; return it (or None).

    ``parents`` holds the input nodes (``None`` for inputs that are constants).
    A missing VJP rule is appended to ``missing`` (so the transform can report
    every missing rule at once before any backward work) instead of raising.
    """
    rule = prim.vjp
    if rule is None:
        where = user_frame_summary()
        if missing is not None:
            missing.append((prim.name, "vjp", where))
        vjp_fn = _missing_vjp(prim, where)
    elif prim.vjp_needs:
        vjp_fn = rule(out, *primals, needs=tuple([p is not None for p in parents]), **params)
    else:
        vjp_fn = rule(out, *primals, **params)
    if prim.multiple_results:
        return Node(vjp_fn, parents, None, None, prim)
    return Node(vjp_fn, parents, out.shape, out.dtype, prim)


def fwd_and_vjp(prim, primals, needs, params):
    """``(out, staged vjp)`` of ``prim`` on concrete NumPy primals via ``prim.fwd_vjp``."""
    try:
        if prim.vjp_needs:
            return prim.fwd_vjp(*primals, needs=needs, **params)
        return prim.fwd_vjp(*primals, **params)
    except (ValueError, TypeError, IndexError):
        _evaluate_impl(prim, primals, params)  # the impl re-raises with context
        raise


def projection_nodes(multi_node, outs):
    """Per-output nodes for a multi-output node: ct_i becomes (None,..,ct_i,..,None)."""
    n = len(outs)
    nodes = []
    for i, o in enumerate(outs):
        if not is_differentiable_dtype(o.dtype):
            nodes.append(None)
            continue

        def select(ct, i=i):
            cts = [None] * n
            cts[i] = ct
            return (tuple(cts),)
        nodes.append(Node(select, (multi_node,), o.shape, o.dtype, _Projection(f"out[{i}]")))
    return nodes


# --------------------------------------------------------------------------- #
# Backward pass
# --------------------------------------------------------------------------- #
def _add_cts(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, tuple):
        return tuple(_add_cts(x, y) for x, y in zip(a, b))
    return _ops.add(a, b)


def _fit(ct, node):
    """Sum ``ct`` back to ``node``'s shape (undo broadcasting) and match its dtype."""
    shape = node.shape
    if ct.shape != shape:
        ct = _ops.sum_to(ct, shape)
    if ct.dtype != node.dtype:
        ct = _ops.convert(ct, node.dtype)
    return ct


def backward_pass(seeds, retain_graph=False, on_node=None, order=None, capture=None):
    """Propagate cotangents from ``seeds`` (pairs of node and cotangent).

    Nodes are visited in reverse creation order, which puts every consumer
    before its producers: ``order``, when given, lists the graph's nodes in
    creation order (a trace records it as it goes); otherwise the reached
    nodes go through a heap keyed by their creation number ``seq``.

    Returns a dict mapping each reached leaf node (``prim is None``) -- and
    each node in ``capture`` -- to its summed cotangent.  Unless
    ``retain_graph``, each node's VJP closure (and so its residuals) is
    released right after it runs.
    """
    cts = {}
    for node, ct in seeds:
        cts[node] = _add_cts(cts.get(node), ct)
    leaf_cts = {}
    if config.debug_nans:
        from .debug import check_cotangents
        if on_node is None:
            on_node = check_cotangents
        else:
            first = on_node

            def on_node(node):  # the caller's hook first (it may restage node.vjp)
                first(node)
                check_cotangents(node)
    pop = cts.pop
    get = cts.get
    add = _ops.add
    heap = None
    if order is None:  # a max-heap of reached nodes by creation number
        heap = [(-node.seq, node) for node in cts]
        heapq.heapify(heap)
    for node in (reversed(order) if order is not None else _drain(heap)):
        ct = pop(node, None)
        if ct is None:
            continue
        if node.prim is None:  # a seed that is a leaf
            prev = leaf_cts.get(node)
            leaf_cts[node] = ct if prev is None else add(prev, ct)
            continue
        if capture is not None and node in capture:
            leaf_cts[node] = ct
        if on_node is not None:
            on_node(node)  # e.g. debug_nans wraps node.vjp with a check
        res = node.res  # (pull(node, ct), inline)
        in_cts = node.vjp(ct) if res is None else node.vjp(ct, res)
        if not retain_graph:
            node.vjp = _freed
            node.res = None
            node.lazy = None  # the Tensor front's saved inputs go too, as PyTorch frees them
        parents = node.parents
        # (unrolled for the common single input; the loop body is the same)
        for parent, ict in ((parents[0], in_cts[0]),) if len(parents) == 1 else \
                zip(parents, in_cts):
            if parent is None or ict is None:
                continue
            shape = parent.shape
            if shape is not None and (ict.shape != shape or ict.dtype != parent.dtype):
                ict = _fit(ict, parent)  # undo broadcasting / match dtype
            if parent.prim is None:  # a leaf: summed here, never visited
                prev = leaf_cts.get(parent)
                leaf_cts[parent] = ict if prev is None else add(prev, ict)
                continue
            prev = get(parent)
            if prev is None:
                cts[parent] = ict
                if heap is not None:
                    heappush(heap, (-parent.seq, parent))
            else:  # tuples are the cotangents of multi-output nodes
                cts[parent] = _add_cts(prev, ict) if type(prev) is tuple else add(prev, ict)
    return leaf_cts


heappush = heapq.heappush


def _drain(heap):
    """Pop ``heap``'s nodes, latest-created first (it grows while being drained)."""
    pop = heapq.heappop
    while heap:
        yield pop(heap)[1]


def raise_missing(missing, transform):
    """Raise one error naming every missing rule (primitive, rule, source line)."""
    seen = []
    for item in missing:
        if item not in seen:
            seen.append(item)
    lines = "\n".join(f"  - primitive '{p}' has no {rule} rule (used at {where})"
                      for p, rule, where in seen)
    raise MissingRuleError(
        f"{transform} cannot differentiate this function; missing rules:\n{lines}\n"
        "Define the rule in the primitive's block (see docs/adding_a_primitive.md), "
        "or wrap the computation in funcgrad.custom_vjp with your own rule.")


# --------------------------------------------------------------------------- #
# Reverse-mode trace
# --------------------------------------------------------------------------- #
class VJPTracer(Tracer):
    """A value recorded by a reverse-mode trace: its primal and its graph node.

    Made by :func:`_tracer` (no ``__init__``: ``VJPTracer()`` then three stores is
    the cheapest object Python builds, and recording makes one per operation).
    """

    __slots__ = ("primal", "node")

    @property
    def shape(self):
        return self.primal.shape

    @property
    def dtype(self):
        return self.primal.dtype

    def concrete_value(self):
        # Python control flow on values works under grad/vjp, as in autograd.
        return concrete(self.primal)


_new = object.__new__
_ndarray = np.ndarray
_FOREIGN = backends._FOREIGN_ARRAY_TYPES  # non-empty once a non-NumPy backend is in use
# ``needs`` tuples of the VJP rules that take them, shared instead of built per op.
_NEEDS_1 = (True,)
_NEEDS_TT = (True, True)
_NEEDS_TF = (True, False)
_NEEDS_FT = (False, True)


def _emit(trace, prim, out, vjp, parents, shape, res=None):
    """Append the node of ``out = prim(...)`` (``shape``: ``out.shape``) to ``trace``.

    Returns the output's tracer.  Node and tracer are built without a
    Python-level ``__init__`` call, and the node's tape-only fields (``seq``,
    ``lazy``) are left unset: this runs once per recorded operation.  (A unary
    elementwise caller passes its input's shape tuple: no new tuple.)
    """
    node = _new(Node)
    node.vjp = vjp
    node.res = res
    node.parents = parents
    node.shape = shape
    node.dtype = out.dtype
    node.prim = prim
    trace.nodes.append(node)
    t = VJPTracer()  # (_tracer(trace, out, node), inline)
    t._trace = trace
    t.primal = out
    t.node = node
    return t


def _tracer(trace, primal, node):
    """A new VJPTracer (the class has no ``__init__``: see its docstring)."""
    t = VJPTracer()
    t._trace = trace
    t.primal = primal
    t.node = node
    return t


def unary_function(prim):
    """The function applying the unary elementwise primitive ``prim``, e.g. ``fnp.sin``.

    Semantically ``bind(prim, (x,))``.  The common case -- ``x`` a tracer of a
    live reverse-mode trace holding a NumPy array -- is handled right here:
    with one argument, ``x``'s trace is the innermost one bind would pick, so
    the ufunc runs and the node is recorded without bind's scan or a
    ``process_primitive`` call (the per-op cost of recording is issue 2's W1
    benchmark).  Everything else -- other traces, nesting, other backends,
    debug_nans, errors -- goes through ``bind`` unchanged.
    """
    ufunc = prim.np_fn
    # (unary() primitives: the shared ``bwd(ct, residual)`` and whether the residual
    # is the output: the node keeps the residual, no closure is built per call)
    bwd, res_is_out = prim.bwd_res if prim.bwd_res is not None else (None, False)
    inline = not (ufunc is None or prim.nondiff or prim.multiple_results or prim.vjp_needs)

    def apply(x):
        if inline and x.__class__ is VJPTracer:
            trace = x._trace
            pa = x.primal
            if pa.__class__ is _ndarray and trace.alive and prim.vjp is not None \
                    and not _FOREIGN and not config.debug_nans:
                try:
                    out = ufunc(pa)
                except (ValueError, TypeError, IndexError):
                    return bind(prim, (x,), EMPTY_PARAMS)  # re-raises with context
                # (a reverse-mode tracer's primal is float or complex, and so is a
                # differentiable unary function of it: no dtype check needed)
                parent = x.node
                if bwd is not None:
                    return _emit(trace, prim, out, bwd, (parent,), parent.shape,
                                 out if res_is_out else pa)
                return _emit(trace, prim, out, prim.vjp(out, pa), (parent,), parent.shape)
        return bind(prim, (x,), EMPTY_PARAMS)
    apply.__name__ = apply.__qualname__ = prim.name
    return apply


def _install_vjp_operators():
    """Arithmetic operators of VJPTracer with reverse mode's hot path inline.

    Same semantics as Tracer's operators (``bind(prim, (a, b))``): when the
    other operand is not a tracer of another trace, bind would pick this
    tracer's trace, so the common case (NumPy arrays or scalars, a live trace)
    runs the ufunc and records the node right here.  Only the plain-``bind``
    operators are specialised; everything else stays with Tracer's
    (funcgrad.numpy's).
    """
    from .prims import elementwise as P

    def direct(prim, swap):
        ufunc = prim.np_fn
        needs_fn = prim.vjp_needs

        def op(self, other):
            trace = self._trace
            if other.__class__ is VJPTracer and other._trace is trace:
                po, no = other.primal, other.node
                if po.__class__ is not _ndarray:
                    return bind(prim, (other, self) if swap else (self, other), EMPTY_PARAMS)
            elif isinstance(other, Tracer):
                return bind(prim, (other, self) if swap else (self, other), EMPTY_PARAMS)
            else:
                po, no = other, None
            pa = self.primal
            rule = prim.vjp
            if pa.__class__ is not _ndarray or not trace.alive or rule is None \
                    or _FOREIGN or config.debug_nans:
                return bind(prim, (other, self) if swap else (self, other), EMPTY_PARAMS)
            try:
                out = ufunc(po, pa) if swap else ufunc(pa, po)
            except (ValueError, TypeError, IndexError):  # re-raised with context
                return bind(prim, (other, self) if swap else (self, other), EMPTY_PARAMS)
            # (this tracer's primal is float or complex, so the sum, difference,
            # product or quotient is too: no dtype check needed)
            if swap:
                if needs_fn:
                    vjp = rule(out, po, pa, _NEEDS_TT if no is not None else _NEEDS_FT)
                else:
                    vjp = rule(out, po, pa)
                return _emit(trace, prim, out, vjp, (no, self.node), out.shape)
            if needs_fn:
                vjp = rule(out, pa, po, _NEEDS_TT if no is not None else _NEEDS_TF)
            else:
                vjp = rule(out, pa, po)
            return _emit(trace, prim, out, vjp, (self.node, no), out.shape)
        return op

    for name, prim in (("add", P.add_p), ("sub", P.subtract_p), ("mul", P.multiply_p),
                       ("truediv", P.divide_p)):
        for dunder, swap in ((f"__{name}__", False), (f"__r{name}__", True)):
            op = direct(prim, swap)
            op.__name__ = op.__qualname__ = dunder
            setattr(VJPTracer, dunder, op)


class VJPTrace(Trace):
    kind = "grad/vjp"

    def __init__(self):
        super().__init__()
        self.missing = []
        self.nodes = []  # creation order = a topological order, for the backward pass

    def new_input(self, value):
        node = leaf_node(value)
        self.nodes.append(node)
        return _tracer(self, value, node)

    def process_primitive(self, prim, args, params):
        # The hot path of reverse mode, kept flat on purpose (see benchmarks/ W1 for
        # what each line costs): unary and binary calls are unrolled, a ufunc on
        # untraced primals is called right here (evaluate's fast path, inlined),
        # and node and tracer are built by _emit.  (funcgrad.numpy's unary
        # functions and VJPTracer's arithmetic operators skip this method for the
        # commonest calls: see unary_function and _install_vjp_operators.)
        n = len(args)
        if n == 1:
            # The only argument: necessarily one of this trace's tracers.
            a = args[0]
            pa = a.primal
            parents = (a.node,)
            if pa.__class__ is not _ndarray and isinstance(pa, Tracer):  # nested transform
                out = bind(prim, (pa,), params)
            else:
                fast = prim.np_fn
                if fast is not None and not params and not _FOREIGN and not config.debug_nans:
                    try:
                        out = fast(pa)
                    except (ValueError, TypeError, IndexError):
                        out = _evaluate_impl(prim, (pa,), params)  # re-raises with context
                else:
                    out = evaluate(prim, (pa,), params)
            if prim.nondiff:
                return out
            if prim.multiple_results:
                return self._record_multi(prim, out, (pa,), parents, params)
            dtype = out.dtype
            if dtype.kind not in "fc":
                return out
            rule = prim.vjp
            if rule is None:
                node = record(prim, out, (pa,), parents, params, self.missing)
            elif params:  # (``**{}`` would build a dict per call)
                vjp = rule(out, pa, needs=_NEEDS_1, **params) if prim.vjp_needs else \
                    rule(out, pa, **params)
                return _emit(self, prim, out, vjp, parents, out.shape)
            else:
                vjp = rule(out, pa, needs=_NEEDS_1) if prim.vjp_needs else rule(out, pa)
                return _emit(self, prim, out, vjp, parents, out.shape)
        elif n == 2:
            a, b = args
            if a.__class__ is VJPTracer and a._trace is self:
                pa, na = a.primal, a.node
            else:
                pa, na = a, None
            if b.__class__ is VJPTracer and b._trace is self:
                pb, nb = b.primal, b.node
            else:
                pb, nb = b, None
            if (pa.__class__ is not _ndarray and isinstance(pa, Tracer)) or \
                    (pb.__class__ is not _ndarray and isinstance(pb, Tracer)):
                out = bind(prim, (pa, pb), params)
            elif prim.fwd_vjp is not None and not _FOREIGN and not config.debug_nans:
                out, vjp = fwd_and_vjp(prim, (pa, pb), (na is not None, nb is not None), params)
                return _emit(self, prim, out, vjp, (na, nb), out.shape)
            else:
                fast = prim.np_fn
                if fast is not None and not params and not _FOREIGN and not config.debug_nans:
                    try:
                        out = fast(pa, pb)
                    except (ValueError, TypeError, IndexError):
                        out = _evaluate_impl(prim, (pa, pb), params)  # re-raises with context
                else:
                    out = evaluate(prim, (pa, pb), params)
            if prim.nondiff:
                return out
            parents = (na, nb)
            if prim.multiple_results:
                return self._record_multi(prim, out, (pa, pb), parents, params)
            dtype = out.dtype
            if dtype.kind not in "fc":
                return out
            rule = prim.vjp
            if rule is None:
                node = record(prim, out, (pa, pb), parents, params, self.missing)
            elif prim.vjp_needs:
                needs = _NEEDS_TT if na is not None and nb is not None else \
                    (na is not None, nb is not None)
                vjp = rule(out, pa, pb, needs=needs, **params) if params else \
                    rule(out, pa, pb, needs=needs)
                return _emit(self, prim, out, vjp, parents, out.shape)
            else:
                vjp = rule(out, pa, pb, **params) if params else rule(out, pa, pb)
                return _emit(self, prim, out, vjp, parents, out.shape)
        else:
            primals = tuple([a.primal if a.__class__ is VJPTracer and a._trace is self else a
                             for a in args])
            parents = tuple([a.node if a.__class__ is VJPTracer and a._trace is self else None
                             for a in args])
            for p in primals:
                if isinstance(p, Tracer):
                    out = bind(prim, primals, params)
                    break
            else:
                out = evaluate(prim, primals, params)
            if prim.nondiff:
                return out
            if prim.multiple_results:
                return self._record_multi(prim, out, primals, parents, params)
            dtype = out.dtype
            if dtype.kind not in "fc":
                return out
            node = record(prim, out, primals, parents, params, self.missing)
        self.nodes.append(node)
        return _tracer(self, out, node)

    def _record_multi(self, prim, out, primals, parents, params):
        node = record(prim, out, primals, parents, params, self.missing)
        nodes = projection_nodes(node, out)
        self.nodes.append(node)
        self.nodes.extend(n for n in nodes if n is not None)
        return [o if n is None else _tracer(self, o, n) for o, n in zip(out, nodes)]

    def lower(self, x):
        """Split ``x`` into (primal, node-or-None) relative to this trace."""
        if isinstance(x, VJPTracer) and x._trace is self:
            return x.primal, x.node
        return x, None

    def process_custom_vjp(self, cv, args):
        from .tree_util import tree_flatten, tree_unflatten
        flat, tree = tree_flatten(args)
        lowered, parents = zip(*(self.lower(x) for x in flat)) if flat else ((), ())
        out, res = cv.fwd(*tree_unflatten(tree, list(lowered)))
        out_flat, out_tree = tree_flatten(out)

        def vjp_fn(cts):
            cts = [(_ops.zeros_like(o) if c is None else c) for c, o in zip(cts, out_flat)]
            in_cts = cv.bwd(res, tree_unflatten(out_tree, cts))
            if not isinstance(in_cts, tuple):
                raise TypeError(
                    f"the bwd rule of custom_vjp function '{cv.name}' must return a tuple "
                    f"with one cotangent per argument; got {type(in_cts).__name__}")
            in_flat, in_tree = tree_flatten(in_cts, is_leaf=lambda x: x is None)
            if len(in_flat) != len(flat):
                raise ValueError(
                    f"the bwd rule of custom_vjp function '{cv.name}' returned "
                    f"{len(in_flat)} cotangent leaves for {len(flat)} argument leaves; "
                    "return one cotangent per argument, shaped like it (None for zero)")
            return tuple(in_flat)

        multi = Node(vjp_fn, tuple(parents), None, None, cv)
        projections = projection_nodes(multi, out_flat)
        self.nodes.append(multi)
        self.nodes.extend(n for n in projections if n is not None)
        wrap = list(zip(out_flat, projections))
        return tree_unflatten(out_tree, [o if n is None else _tracer(self, o, n)
                                         for o, n in wrap])


# --------------------------------------------------------------------------- #
# Forward mode
# --------------------------------------------------------------------------- #
class JVPTracer(Tracer):
    """A value carried by forward mode: its primal and its (non-zero) tangent."""

    __slots__ = ("primal", "tangent")

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def shape(self):
        return self.primal.shape

    @property
    def dtype(self):
        return self.primal.dtype

    def concrete_value(self):
        return concrete(self.primal)


class JVPTrace(Trace):
    kind = "jvp"

    def __init__(self):
        super().__init__()
        self.missing = []

    def lower(self, x):
        if isinstance(x, JVPTracer) and x._trace is self:
            return x.primal, x.tangent
        return x, None

    def process_primitive(self, prim, args, params):
        primals = []
        tangents = []
        for a in args:
            if isinstance(a, JVPTracer) and a._trace is self:
                primals.append(a.primal)
                tangents.append(a.tangent)
            else:
                primals.append(a)
                tangents.append(None)
        out = bind(prim, primals, params)
        if prim.nondiff:
            return out
        rule = prim.jvp
        if rule is None:
            self.missing.append((prim.name, "jvp", user_frame_summary()))
            return out
        if prim.multiple_results:
            t_outs = rule(tangents, out, *primals, **params)
            return [o if t is None or o.dtype.kind not in "fc" else JVPTracer(self, o, t)
                    for o, t in zip(out, t_outs)]
        if out.dtype.kind not in "fc":
            return out
        t_out = rule(tangents, out, *primals, **params)
        if t_out is None:
            return out
        if t_out.shape != out.shape:  # a rule may return a broadcastable tangent
            t_out = _ops.broadcast_to(t_out, out.shape)
        if t_out.dtype != out.dtype:
            t_out = _ops.convert(t_out, out.dtype)
        return JVPTracer(self, out, t_out)

    def process_custom_vjp(self, cv, args):
        from .tree_util import tree_flatten, tree_unflatten
        if cv.jvp_rule is None:
            raise MissingRuleError(
                f"jvp (forward mode, also used by jacfwd and hessian) reached the "
                f"custom_vjp function '{cv.name}', which has only a reverse-mode rule. "
                "A VJP cannot be run forwards. Add a forward rule:\n"
                f"    @{cv.name}.defjvp\n"
                f"    def {cv.name}_jvp(primals, tangents):\n"
                "        ...\n"
                "        return primal_out, tangent_out\n"
                "or use jacrev instead of jacfwd.")
        flat, tree = tree_flatten(args)
        pairs = [self.lower(x) for x in flat]
        primals = tree_unflatten(tree, [p for p, _ in pairs])
        tangents = tree_unflatten(tree, [(_ops.zeros_like(p) if t is None else t)
                                         for p, t in pairs])
        out, t_out = cv.jvp_rule(primals, tangents)
        out_flat, out_tree = tree_flatten(out)
        t_flat, _ = tree_flatten(t_out)
        return tree_unflatten(out_tree, [JVPTracer(self, o, t) if o.dtype.kind in "fc" else o
                                         for o, t in zip(out_flat, t_flat)])


def instantiate_zero(tangent, primal):
    """A concrete zero tangent for a symbolic zero (``None``)."""
    return _ops.zeros_like(primal) if tangent is None else tangent


__all__ = ["Node", "VJPTrace", "VJPTracer", "JVPTrace", "JVPTracer", "backward_pass",
           "record", "ConcretizationError"]
