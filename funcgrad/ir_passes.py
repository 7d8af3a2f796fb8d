"""Optimisation passes over a :class:`funcgrad.ir.Program`.

Each pass takes a program and returns a new one with the same meaning --
also under transforms: ``jit`` evaluates the optimised program by binding its
primitives when an enclosing ``grad``/``vmap``/``jvp`` is watching, so a pass
may only rewrite values into values with the same derivative (removing
``stop_gradient`` would not be allowed; it is dropped only in generated code).

* :func:`simplify` -- algebra that autodiff emits: ``x * 1``, ``x + 0``,
  ``x - 0``, ``x / 1``, ``-(-x)``, transpose of transpose, reshape of
  reshape, identity reshape/transpose/broadcast/convert, and a ``reduce_sum``
  straight back through a ``broadcast_to`` (becomes ``x`` or ``x * n``).
* :func:`fold_constants` -- equations whose inputs are all constants are run
  once at compile time (unless the result is huge).
* :func:`cse` -- equal equations (same primitive, inputs and params) are
  computed once; equal small constants are merged.
* :func:`dce` -- equations whose outputs are never used are dropped.

:func:`optimize` runs them to a fixed point.
"""
from __future__ import annotations

import numpy as np

from .core import Tracer, primitives
from .ir import Equation, Literal, Var, eval_equation

#: Constant folding leaves equations alone whose outputs hold more elements.
FOLD_LIMIT = 1 << 16
#: Constants up to this many elements are inspected (all ones? all zeros? equal?).
_INSPECT_LIMIT = 1 << 16


def _is_custom(eqn):
    return getattr(eqn.prim, "is_custom_call", False)


def _concrete_consts(program):
    return {v: c for v, c in program.constants.items() if not isinstance(c, Tracer)}


class _Subst:
    """Var -> atom renaming, applied to each equation's inputs as passes go."""

    def __init__(self):
        self.map = {}

    def __call__(self, x):
        if type(x) is Var:
            seen = self.map.get(x)
            while seen is not None:
                x = seen
                seen = self.map.get(x) if type(x) is Var else None
        return x

    def inputs(self, eqn):
        return [self(x) for x in eqn.inputs]


# --------------------------------------------------------------------------- #
# Dead-code elimination
# --------------------------------------------------------------------------- #
def dce(program):
    """Drop equations (and constants) that no output depends on."""
    live = {v for v in program.out_vars if type(v) is Var}
    kept = []
    for e in reversed(program.equations):
        if any(o in live for o in e.outputs):
            kept.append(e)
            live.update(x for x in e.inputs if type(x) is Var)
    kept.reverse()
    consts = {v: c for v, c in program.constants.items() if v in live}
    return program.replace(equations=kept, constants=consts)


# --------------------------------------------------------------------------- #
# Common-subexpression elimination
# --------------------------------------------------------------------------- #
def _atom_key(x):
    if type(x) is Var:
        return x
    v = x.value
    return ("lit", type(v), v)


def _params_key(params):
    try:
        key = tuple((k, type(v), v) for k, v in params.items())
        hash(key)
        return key
    except TypeError:
        return None


def cse(program):
    """Compute equal equations once; merge equal small constants."""
    sub = _Subst()
    consts = {}
    by_content = {}
    for v, c in program.constants.items():
        if type(c) is np.ndarray and c.size <= _INSPECT_LIMIT:
            key = (c.shape, c.dtype, c.tobytes())
            first = by_content.get(key)
            if first is not None:
                sub.map[v] = first
                continue
            by_content[key] = v
        consts[v] = c
    seen = {}
    eqns = []
    for e in program.equations:
        ins = sub.inputs(e)
        pkey = _params_key(e.params)
        key = None if pkey is None else (id(e.prim), tuple(_atom_key(x) for x in ins), pkey)
        if key is not None:
            try:
                prev = seen.get(key)
            except TypeError:  # an unhashable literal
                key, prev = None, None
            if prev is not None:
                for o, po in zip(e.outputs, prev.outputs):
                    sub.map[o] = po
                continue
        ne = Equation(e.prim, ins, e.params, e.outputs, e.source)
        if key is not None:
            seen[key] = ne
        eqns.append(ne)
    return program.replace(equations=eqns, constants=consts,
                           out_vars=[sub(v) for v in program.out_vars])


# --------------------------------------------------------------------------- #
# Constant folding
# --------------------------------------------------------------------------- #
def fold_constants(program, limit=FOLD_LIMIT):
    """Evaluate, at compile time, equations whose inputs are all constants."""
    consts = dict(program.constants)
    eqns = []
    for e in program.equations:
        foldable = all(type(x) is Literal or
                       (x in consts and not isinstance(consts[x], Tracer)) for x in e.inputs)
        if not foldable or sum(o.size for o in e.outputs) > limit:
            eqns.append(e)
            continue
        vals = [consts[x] if type(x) is Var else x.value for x in e.inputs]
        try:
            outs = eval_equation(e, vals)
        except Exception:  # leave it to run time, where the error names the user line
            eqns.append(e)
            continue
        outs = [o if hasattr(o, "shape") and not isinstance(o, np.generic)
                else np.asarray(o) for o in outs]
        if any(isinstance(o, Tracer) or tuple(o.shape) != v.shape or o.dtype != v.dtype
               for o, v in zip(outs, e.outputs)):
            eqns.append(e)  # a shape rule that disagrees with the impl: do not guess
            continue
        for v, o in zip(e.outputs, outs):
            consts[v] = o
    return program.replace(equations=eqns, constants=consts)


# --------------------------------------------------------------------------- #
# Algebraic simplification
# --------------------------------------------------------------------------- #
class _Ctx:
    """What a simplification rule may look at: constants and producers."""

    def __init__(self, program):
        self.consts = _concrete_consts(program)
        self.producer = {}
        self._value_cache = {}

    def const_is(self, x, value):
        """Is atom ``x`` a literal or a constant array equal to ``value`` everywhere?"""
        if type(x) is Literal:
            v = x.value
            if isinstance(v, bool) or isinstance(v, np.bool_):
                return False
            try:
                return bool(v == value)
            except Exception:
                return False
        c = self.consts.get(x)
        if c is None or c.dtype.kind == "b" or c.size > _INSPECT_LIMIT:
            return False
        key = (x, value)
        hit = self._value_cache.get(key)
        if hit is None:
            hit = self._value_cache[key] = bool((c == value).all())
        return hit

    def made_by(self, x, name):
        e = self.producer.get(x) if type(x) is Var else None
        return e if e is not None and e.prim.name == name else None


def _same(x, v):
    return tuple(x.shape) == v.shape and x.dtype == v.dtype


def _identity_of(value, commutative):
    """Rule: ``op(x, e) = x`` where ``e`` is ``value`` (either side if commutative)."""
    def rule(ins, params, out, ctx):
        a, b = ins
        if ctx.const_is(b, value) and _same(a, out):
            return a
        if commutative and ctx.const_is(a, value) and _same(b, out):
            return b
        return None
    return rule


def _neg_rule(ins, params, out, ctx):
    inner = ctx.made_by(ins[0], "negative")
    if inner is not None and _same(inner.inputs[0], out):
        return inner.inputs[0]
    return None


def _transpose_rule(ins, params, out, ctx):
    x = ins[0]
    perm = tuple(params["axes"])
    mm = ctx.made_by(x, "matmul")
    if perm == (1, 0) and mm is not None and all(v.ndim == 2 for v in mm.inputs
                                                  if hasattr(v, "ndim")):
        # (A B)^T = B^T A^T: the same GEMM, but the result is a fresh row-major
        # array instead of a column-major view.  Autodiff emits this pattern for
        # the weight of x @ w.T (nn.Linear): a column-major weight gradient makes
        # every later elementwise op on it (the optimizer update) a strided loop.
        a, b = mm.inputs
        return ("ops", [("transpose", [b], {"axes": (1, 0)}),
                        ("transpose", [a], {"axes": (1, 0)}),
                        ("matmul", [0, 1], {})])
    inner = ctx.made_by(x, "transpose")
    if inner is not None:
        perm = tuple(inner.params["axes"][p] for p in perm)
        x = inner.inputs[0]
    if perm == tuple(range(len(perm))):
        return x
    if inner is not None:
        return ("eqn", x, {"axes": perm})
    return None


def _reshape_rule(ins, params, out, ctx):
    x = ins[0]
    inner = ctx.made_by(x, "reshape")
    if inner is not None:
        x = inner.inputs[0]
    if tuple(x.shape) == out.shape:
        return x
    if inner is not None:
        return ("eqn", x, dict(params))
    return None


def _same_shape_rule(ins, params, out, ctx):
    return ins[0] if _same(ins[0], out) else None


def _convert_rule(ins, params, out, ctx):
    return ins[0] if _same(ins[0], out) else None


def _sum_rule(ins, params, out, ctx):
    x = ins[0]
    if not params["axes"] and _same(x, out):
        return x
    inner = ctx.made_by(x, "broadcast_to")
    if inner is None:
        return None
    src = inner.inputs[0]
    if not _same(src, out) or out.dtype.kind not in "iufc":
        return None
    # sum(broadcast_to(src, S), axes) == src * n when exactly the replicated
    # axes are summed (n = number of copies), so the pair is one multiply.
    shape = tuple(x.shape)
    lead = len(shape) - len(src.shape)
    axes = set(params["axes"])
    n = 1
    for a, s in enumerate(shape):
        replicated = a < lead or (src.shape[a - lead] == 1 and s != 1)
        if replicated != (a in axes) and s != 1:
            return None
        if a in axes:
            n *= s
    if n == 1:
        return src
    factor = float(n) if out.dtype.kind in "fc" else int(n)
    return ("op", "multiply", [src, Literal(factor)], {})


def _power_rule(ins, params, out, ctx):
    # x ** 2 -> x * x (what np.power does inside anyway; CSE can then share it).
    x, y = ins
    if type(y) is Literal and type(y.value) in (int, float):
        if y.value == 1 and _same(x, out):
            return x
        if y.value == 2 and type(x) is Var and _same(x, out):
            return ("op", "multiply", [x, x], {})
    return None


_RULES = {
    "power": _power_rule,
    "multiply": _identity_of(1, commutative=True),
    "add": _identity_of(0, commutative=True),
    "subtract": _identity_of(0, commutative=False),
    "divide": _identity_of(1, commutative=False),
    "negative": _neg_rule,
    "transpose": _transpose_rule,
    "reshape": _reshape_rule,
    "broadcast_to": _same_shape_rule,
    "reduce_sum": _sum_rule,
    "convert_element_type": _convert_rule,
}


def simplify(program):
    """Rewrite the algebraic patterns autodiff emits (see the module docstring)."""
    ctx = _Ctx(program)
    sub = _Subst()
    eqns = []
    for e in program.equations:
        ins = sub.inputs(e)
        rule = None if _is_custom(e) or len(e.outputs) != 1 else _RULES.get(e.prim.name)
        res = rule(ins, e.params, e.outputs[0], ctx) if rule is not None else None
        if res is None:
            ne = Equation(e.prim, ins, e.params, e.outputs, e.source)
        elif isinstance(res, tuple) and res[0] == "eqn":   # same primitive, new input/params
            ne = Equation(e.prim, [res[1]], res[2], e.outputs, e.source)
        elif isinstance(res, tuple) and res[0] == "op":    # another primitive
            ne = Equation(primitives()[res[1]], res[2], res[3], e.outputs, e.source)
        elif isinstance(res, tuple) and res[0] == "ops":   # several: ints name earlier ones
            made = []
            for k, (name, args, prm) in enumerate(res[1]):
                prim = primitives()[name]
                args = [made[a] if isinstance(a, int) else a for a in args]
                last = k == len(res[1]) - 1
                if last:
                    outs = e.outputs
                else:
                    shape, dtype = prim.shape_rule(*args, **prm)
                    outs = [Var(shape, dtype, f"{name} (simplify)")]
                ne = Equation(prim, args, prm, outs, e.source)
                if not last:
                    for o in ne.outputs:
                        ctx.producer[o] = ne
                    eqns.append(ne)
                    made.append(ne.outputs[0])
        else:                                              # the output is an existing value
            sub.map[e.outputs[0]] = res
            continue
        for o in ne.outputs:
            ctx.producer[o] = ne
        eqns.append(ne)
    return program.replace(equations=eqns, out_vars=[sub(v) for v in program.out_vars])


# --------------------------------------------------------------------------- #
# Pipeline
# --------------------------------------------------------------------------- #
def optimize(program, passes=None, max_rounds=4):
    """Run the passes until nothing changes (at most ``max_rounds`` rounds).

    Sub-programs of ``custom_vjp_call`` equations are optimised too (their
    outputs are kept).
    """
    passes = passes or (simplify, fold_constants, cse, dce)
    program = _optimize_subprograms(program, passes, max_rounds)
    for _ in range(max_rounds):
        before = _fingerprint(program)
        for p in passes:
            program = p(program)
        if _fingerprint(program) == before:
            break
    return program


def _fingerprint(program):
    # Passes keep unchanged equations' primitive, input and output objects.
    return (tuple((id(e.prim), tuple(map(id, e.inputs)), tuple(map(id, e.outputs)))
                  for e in program.equations),
            tuple(map(id, program.constants)), tuple(map(id, program.out_vars)))


def _optimize_subprograms(program, passes, max_rounds):
    if not any(_is_custom(e) for e in program.equations):
        return program
    eqns = []
    for e in program.equations:
        if _is_custom(e):
            params = dict(e.params)
            params["program"] = optimize(params["program"], passes, max_rounds)
            e = Equation(e.prim, e.inputs, params, e.outputs, e.source)
        eqns.append(e)
    return program.replace(equations=eqns)


__all__ = ["dce", "cse", "fold_constants", "simplify", "optimize", "FOLD_LIMIT"]
