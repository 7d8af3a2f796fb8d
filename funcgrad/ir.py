"""The staged IR (funcgrad's jaxpr): named values, one equation per primitive.

``make_ir(f)(*args)`` runs ``f`` once under a staging trace (:class:`IRTrace`):
array arguments become abstract values (:class:`IRTracer`: shape and dtype
only), every primitive applied to them is recorded as an :class:`Equation`
(its output shape/dtype comes from the primitive's ``shape_rule``), arrays
that are not traced become named constants and Python scalars stay inline
literals.  The result is a :class:`Program`::

    >>> import funcgrad.numpy as fnp, numpy as np
    >>> print(make_ir(lambda a, b: fnp.sum(a * b))(np.ones(3), np.ones(3)))
    { lambda a:f64[3], b:f64[3] .
        c:f64[3] = multiply a b
        d:f64[] = reduce_sum[axes=(0,), keepdims=False] c
      return d }

Because the staging trace is an interpreter like the others, it composes with
them: ``make_ir(grad(f))`` shows the forward and backward pass that ``grad``
emitted.  :func:`eval_program` replays a program by binding each primitive
again, so the replay is itself transformable.  ``funcgrad.jit`` builds on
this module (optimisation passes in :mod:`funcgrad.ir_passes`, code
generation in :mod:`funcgrad.jit`).
"""
from __future__ import annotations

import functools
import math
import os

import numpy as np

from .core import (ConcretizationError, MissingRuleError, Trace, Tracer, bind,
                   top_trace_of, user_frame_summary)
from .tree_util import tree_flatten, tree_unflatten

_PY_SCALARS = (bool, int, float, complex)


# --------------------------------------------------------------------------- #
# Data structures
# --------------------------------------------------------------------------- #
_DTYPE_SHORT = {"float64": "f64", "float32": "f32", "float16": "f16", "int64": "i64",
                "int32": "i32", "int16": "i16", "int8": "i8", "uint64": "u64",
                "uint32": "u32", "uint16": "u16", "uint8": "u8", "bool": "bool",
                "complex128": "c128", "complex64": "c64"}


def type_str(shape, dtype):
    """``f64[3,4]``: the printed type of a value."""
    name = np.dtype(dtype).name
    return f"{_DTYPE_SHORT.get(name, name)}[{','.join(str(int(s)) for s in shape)}]"


class Var:
    """A named value of a program: its shape, dtype and where it came from.

    Vars compare by identity.  ``origin`` says what produced the value (an
    input, a constant, or ``"<primitive> at <user line>"``) for error messages.
    """

    __slots__ = ("shape", "dtype", "origin")

    def __init__(self, shape, dtype, origin=""):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.origin = origin

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    def __repr__(self):
        return f"Var({type_str(self.shape, self.dtype)})"


class Literal:
    """A Python scalar (or NumPy scalar) written inline in an equation."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    @property
    def shape(self):
        return ()

    @property
    def dtype(self):
        return np.result_type(self.value)

    def __repr__(self):
        return f"Literal({self.value!r})"

    def __str__(self):
        v = self.value
        if isinstance(v, np.generic):
            return f"{v.item()!r}:{type_str((), v.dtype)}"
        return repr(v)


class Equation:
    """``outputs = prim[params](*inputs)``, traced at user line ``source``."""

    __slots__ = ("prim", "inputs", "params", "outputs", "source")

    def __init__(self, prim, inputs, params, outputs, source=""):
        self.prim = prim
        self.inputs = list(inputs)
        self.params = params
        self.outputs = list(outputs)
        self.source = source

    def __repr__(self):
        return f"<Equation {self.prim.name} at {self.source}>"


class Program:
    """A staged function: ``in_vars``, ``equations``, ``out_vars``, ``constants``.

    Attributes:
      in_vars: one :class:`Var` per array leaf of the arguments, in
        flattening order (static arguments and Python scalars are baked in).
      equations: the :class:`Equation` list, in execution order.
      out_vars: one :class:`Var` (or :class:`Literal`) per output leaf.
      constants: ``{Var: array}`` for arrays the function closed over or
        created (they are inputs that are fixed at trace time).
      in_tree, out_tree: the pytree structures of the arguments and results.
      name: the traced function's name.

    ``str(program)`` prints one line per primitive; ``program.pretty(source=True)``
    adds each equation's user source line.  ``program(*flat_args)`` evaluates it
    (see :func:`eval_program`).
    """

    def __init__(self, in_vars, equations, out_vars, constants, in_tree=None,
                 out_tree=None, name="fun"):
        self.in_vars = list(in_vars)
        self.equations = list(equations)
        self.out_vars = list(out_vars)
        self.constants = dict(constants)
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.name = name

    def replace(self, **changes):
        """A copy with some fields replaced (passes build programs this way)."""
        fields = dict(in_vars=self.in_vars, equations=self.equations, out_vars=self.out_vars,
                      constants=self.constants, in_tree=self.in_tree,
                      out_tree=self.out_tree, name=self.name)
        fields.update(changes)
        return Program(**fields)

    def __call__(self, *flat_args):
        return eval_program(self, *flat_args)

    def __str__(self):
        return self.pretty()

    def __repr__(self):
        return (f"<Program {self.name}: {len(self.in_vars)} inputs, "
                f"{len(self.equations)} equations, {len(self.out_vars)} outputs>")

    def pretty(self, source=False, indent=0):
        """The program as text; ``source=True`` appends each equation's user line."""
        return _Printer().program(self, source, indent)

    def primitive_counts(self):
        """``{primitive name: number of equations}`` (handy in tests)."""
        counts = {}
        for e in self.equations:
            counts[e.prim.name] = counts.get(e.prim.name, 0) + 1
        return counts


# --------------------------------------------------------------------------- #
# Printer
# --------------------------------------------------------------------------- #
def _letters(n):
    # a..z, aa..az, ba..: bijective base 26 so every name is short and unique.
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(97 + r) + s
    return s


class _Printer:
    def __init__(self):
        self.names = {}

    def name(self, v):
        if isinstance(v, Literal):
            return str(v)
        n = self.names.get(v)
        if n is None:
            n = self.names[v] = _letters(len(self.names))
        return n

    def decl(self, v):
        return f"{self.name(v)}:{type_str(v.shape, v.dtype)}"

    def param(self, k, v):
        if isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
            return f"{k}={np.dtype(v).name}"
        if hasattr(v, "shape") and hasattr(v, "dtype"):
            return f"{k}=<array {type_str(v.shape, v.dtype)}>"
        return f"{k}={v!r}"

    def program(self, p, source, indent):
        pad = " " * indent
        consts = ", ".join(self.decl(v) for v in p.constants)
        ins = ", ".join(self.decl(v) for v in p.in_vars)
        head = f"{consts} ; {ins}" if consts else ins
        lines = [f"{pad}{{ lambda {head} ."]
        for e in p.equations:
            lines.append(self.equation(e, source, indent + 4))
        outs = ", ".join(self.name(v) for v in p.out_vars)
        lines.append(f"{pad}  return {outs} }}")
        return "\n".join(lines)

    def equation(self, e, source, indent):
        pad = " " * indent
        params = e.params
        sub = None
        if getattr(e.prim, "is_custom_call", False):
            sub = params["program"]
            shown = {"name": params["name"]}
        else:
            shown = params
        ps = ", ".join(self.param(k, v) for k, v in shown.items())
        head = f"{e.prim.name}[{ps}]" if ps else e.prim.name
        args = " ".join(self.name(v) for v in e.inputs)
        outs = " ".join(self.decl(v) for v in e.outputs)
        line = f"{pad}{outs} = {head} {args}".rstrip()
        if source and e.source:
            line += f"    # {_short_source(e.source)}"
        if sub is not None:
            line += "\n" + _Printer().program(sub, source, indent + 4)
        return line


def _short_source(src):
    path, _, rest = src.partition(":")
    return f"{os.path.basename(path)}:{rest}" if rest else src


# --------------------------------------------------------------------------- #
# The staging trace
# --------------------------------------------------------------------------- #
class IRTracer(Tracer):
    """An abstract value under ``make_ir``/``jit``: a :class:`Var`, no data."""

    __slots__ = ("var",)

    def __init__(self, trace, var):
        self._trace = trace
        self.var = var

    @property
    def shape(self):
        return self.var.shape

    @property
    def dtype(self):
        return self.var.dtype

    def concrete_value(self):
        raise ConcretizationError(self._abstract_message("Its concrete value"))

    def _abstract_message(self, what):
        v = self.var
        where = user_frame_summary()
        origin = f" (it is {v.origin})" if v.origin else ""
        return (
            f"{what} is needed at {where}, but under {self._trace.kind} this value is "
            f"abstract: only its shape {v.shape} and dtype {v.dtype} are known{origin}.\n"
            f"{self._trace.kind} traces the function once per signature of its "
            "arguments, so Python control flow (if/while/bool/float/int/indexing with "
            "it) cannot depend on array values. Fixes:\n"
            "  - a Python value that steers control flow (a flag, a size, a count): mark "
            "it static, e.g. jit(f, static_argnums=(1,)) (it retraces for each new "
            "value);\n"
            "  - a choice made per element: fnp.where(cond, x, y) instead of `if`;\n"
            "  - otherwise don't jit that part: call it outside the jitted function "
            "(it works under grad/vmap alone).")

    def __bool__(self):
        raise ConcretizationError(self._abstract_message("bool() of an array (an `if`, "
                                                         "`while`, `and`/`or` condition)"))

    def __float__(self):
        raise ConcretizationError(self._abstract_message("float() of an array"))

    def __int__(self):
        raise ConcretizationError(self._abstract_message("int() of an array"))

    def __index__(self):
        raise ConcretizationError(self._abstract_message("Using an array as a Python "
                                                         "index (int)"))

    def __complex__(self):
        raise ConcretizationError(self._abstract_message("complex() of an array"))


def _is_array(x):
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.generic)


def is_array_leaf(x):
    """Is ``x`` traced (rather than baked in) when it is a leaf of the arguments?"""
    return hasattr(x, "shape") and hasattr(x, "dtype")


class IRTrace(Trace):
    """Records each primitive as an equation instead of running it."""

    kind = "jit/make_ir"

    def __init__(self, kind="jit/make_ir"):
        super().__init__()
        self.kind = kind
        self.equations = []
        self.constants = {}    # Var -> array, or a lower-level tracer ("captured")
        self._const_ids = {}   # id(value) -> Var; the value is kept alive in constants

    def new_input(self, x, origin):
        return IRTracer(self, Var(x.shape, x.dtype, origin))

    def atom(self, x):
        """The Var or Literal standing for argument ``x`` of an equation."""
        if type(x) is IRTracer and x._trace is self:
            return x.var
        if isinstance(x, Tracer) or _is_array(x):
            # A tracer of an enclosing (lower-level) transform is captured like a
            # constant: evaluating the program binds it, so that transform sees it.
            v = self._const_ids.get(id(x))
            if v is None:
                what = "a captured traced value" if isinstance(x, Tracer) else "a constant"
                v = Var(x.shape, x.dtype, what)
                self._const_ids[id(x)] = v
                self.constants[v] = x
            return v
        return Literal(x)

    def process_primitive(self, prim, args, params):
        for a in args:
            if isinstance(a, Tracer) and a._trace.level == 0 and a._trace is not self:
                # A funcgrad.Tensor (the level-0 autograd tape) may wrap our tracers:
                # the tape unwraps it and binds again, so it stays a Tensor around an
                # IR value instead of becoming a constant.
                return a._trace.process_primitive(prim, args, params)
        inputs = [self.atom(a) for a in args]
        rule = prim.shape_rule
        if rule is None:
            raise MissingRuleError(
                f"{self.kind}: primitive '{prim.name}' has no shape rule, which staging "
                f"needs to know its output's shape and dtype (used at "
                f"{user_frame_summary()}). Add `{prim.name}_p.shape_rule` in its block.")
        try:
            avals = rule(*args, **params)
        except (ValueError, TypeError, IndexError) as e:
            if type(e) not in (ValueError, TypeError, IndexError):
                raise
            operands = ", ".join(type_str(a.shape, a.dtype) if hasattr(a, "dtype")
                                 else repr(a) for a in args)
            raise type(e)(f"{prim.name}: {e}\n  operands: ({operands})"
                          f"{' with ' + repr(params) if params else ''}\n"
                          f"  at {user_frame_summary()}") from e
        source = user_frame_summary()
        origin = f"the output of '{prim.name}' at {source}"
        if prim.multiple_results:
            outs = [Var(s, d, origin) for s, d in avals]
        else:
            outs = [Var(avals[0], avals[1], origin)]
        self.equations.append(Equation(prim, inputs, params, outs, source))
        if prim.multiple_results:
            return [IRTracer(self, v) for v in outs]
        return IRTracer(self, outs[0])

    def process_custom_vjp(self, cv, args):
        # Keep the user's rule: stage cv.fun into a sub-program held by one
        # ``custom_vjp_call`` equation; evaluating it later under grad/jvp/vmap
        # hands the rule to that transform.
        flat, tree = tree_flatten(args)
        for a in flat:
            if isinstance(a, Tracer) and a._trace.level == 0 and a._trace is not self:
                return a._trace.process_custom_vjp(cv, args)  # a Tensor: see above
        arrays = [i for i, x in enumerate(flat) if is_array_leaf(x)]
        statics = {i: x for i, x in enumerate(flat) if i not in set(arrays)}

        def fun(*leaves):
            full = list(flat)
            for i, v in zip(arrays, leaves):
                full[i] = v
            return cv.fun(*tree_unflatten(tree, full))

        sub = stage(fun, [flat[i] for i in arrays], name=cv.name, kind=self.kind,
                    closure_inputs=True)
        captured = sub.captured
        params = {"name": cv.name, "program": sub.program, "cv": cv, "arg_tree": tree,
                  "array_positions": tuple(arrays), "statics": statics}
        outs = self.process_primitive(custom_vjp_call, [flat[i] for i in arrays] + captured,
                                      params)
        return tree_unflatten(sub.program.out_tree, outs)


class _CustomVJPCall:
    """The pseudo-primitive of a staged ``custom_vjp`` function (not registered)."""

    name = "custom_vjp_call"
    multiple_results = True
    nondiff = False
    is_custom_call = True
    impl = None
    impls = {}

    @staticmethod
    def shape_rule(*args, program, **params):
        return [(v.shape, v.dtype) for v in program.out_vars]

    def bind(self, *args, **params):
        return eval_custom_call(list(args), params)

    def __repr__(self):
        return "<pseudo-primitive custom_vjp_call>"


custom_vjp_call = _CustomVJPCall()


def eval_custom_call(vals, params):
    """Evaluate a ``custom_vjp_call`` equation on ``vals`` (arrays or tracers)."""
    from .custom import custom_vjp
    sub = params["program"]
    n = len(params["array_positions"])
    captured = vals[n:]
    top = top_trace_of(vals)
    if top is None:
        return eval_program(sub, *vals)
    cv = params["cv"]
    flat = [None] * params["arg_tree"].num_leaves
    for i, v in params["statics"].items():
        flat[i] = v
    for i, v in zip(params["array_positions"], vals[:n]):
        flat[i] = v
    args = tree_unflatten(params["arg_tree"], flat)

    def fun(*a):
        leaves, _ = tree_flatten(a)
        arrays = [leaves[i] for i in params["array_positions"]]
        return tree_unflatten(sub.out_tree, eval_program(sub, *arrays, *captured))

    rebuilt = custom_vjp(fun, name=cv.name)
    rebuilt.fwd, rebuilt.bwd, rebuilt.jvp_rule = cv.fwd, cv.bwd, cv.jvp_rule
    out = top.process_custom_vjp(rebuilt, tuple(args))
    return tree_flatten(out)[0]


# --------------------------------------------------------------------------- #
# Staging a function
# --------------------------------------------------------------------------- #
class Staged:
    """What :func:`stage` returns besides the program: captured outer values."""

    __slots__ = ("program", "captured")

    def __init__(self, program, captured):
        self.program = program
        self.captured = captured


def stage(fun, leaves, tree=None, name=None, kind="make_ir", closure_inputs=False):
    """Trace ``fun`` on abstract versions of the array ``leaves``; return a :class:`Staged`.

    ``fun`` receives ``*tree_unflatten(tree, leaves)`` (or the leaves as
    positional arguments when ``tree`` is None); leaves that are not arrays are
    passed through unchanged, so they are baked into the program.

    With ``closure_inputs``, tracers of enclosing transforms that ``fun``
    closed over become extra inputs appended to ``in_vars`` (their values in
    ``Staged.captured``) instead of constants.
    """
    trace = IRTrace(kind)
    name = name or getattr(fun, "__name__", "fun")
    with trace:
        ins = []
        in_vars = []
        for k, x in enumerate(leaves):
            if is_array_leaf(x):
                t = trace.new_input(x, f"input leaf {k} of '{name}'")
                ins.append(t)
                in_vars.append(t.var)
            else:
                ins.append(x)
        out = fun(*ins) if tree is None else fun(*tree_unflatten(tree, ins))
        out_flat, out_tree = tree_flatten(out)
        out_vars = [trace.atom(o) for o in out_flat]
    constants = trace.constants
    captured = []
    if closure_inputs:
        constants = {}
        for v, c in trace.constants.items():
            if isinstance(c, Tracer):
                in_vars.append(v)
                captured.append(c)
            else:
                constants[v] = c
    prog = Program(in_vars, trace.equations, out_vars, constants, tree, out_tree, name)
    return Staged(prog, captured)


def normalize_static_argnums(static_argnums, nargs, transform):
    """``static_argnums`` as a set of non-negative ints, or a clear error."""
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    out = set()
    for a in nums:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{transform}: static_argnums must be ints, got {static_argnums!r}")
        if not -nargs <= a < nargs:
            raise ValueError(
                f"{transform}: static_argnums={static_argnums!r} is out of range for a "
                f"function called with {nargs} positional argument"
                f"{'s' if nargs != 1 else ''}; valid positions are "
                f"{'0..' + str(nargs - 1) if nargs else 'none'} (or negative from the end)")
        out.add(int(a) % nargs)
    return out


def make_ir(fun, static_argnums=()):
    """Return a function that stages ``fun`` and returns its :class:`Program`.

    Args:
      fun: a function of pytrees of arrays.
      static_argnums: positions of arguments that are Python values baked into
        the program (flags, sizes); they must be hashable.

    Returns:
      ``staged(*args, **kwargs) -> Program``. Array leaves of the arguments
      become the program's inputs; Python scalars are baked in as literals.

    Raises:
      ConcretizationError: ``fun`` needs the value of an array (``if x > 0``).

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp, numpy as np
        >>> print(make_ir(fg.grad(lambda x: fnp.sum(fnp.sin(x))))(np.zeros(2)))  # doctest: +SKIP
    """
    @functools.wraps(fun)
    def staged(*args, **kwargs):
        static = normalize_static_argnums(static_argnums, len(args), "make_ir")
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        flat, tree = tree_flatten((dyn, kwargs))

        def call(dyn_args, kw):
            it = iter(dyn_args)
            full = [args[i] if i in static else next(it) for i in range(len(args))]
            return fun(*full, **kw)

        return stage(call, flat, tree, name=getattr(fun, "__name__", "fun"),
                     kind="make_ir").program
    return staged


# --------------------------------------------------------------------------- #
# Evaluation by re-binding (composes with any enclosing transform)
# --------------------------------------------------------------------------- #
def eval_equation(eqn, vals):
    """Bind ``eqn``'s primitive on ``vals``; always returns a list of outputs."""
    prim = eqn.prim
    if getattr(prim, "is_custom_call", False):
        return eval_custom_call(vals, eqn.params)
    out = bind(prim, vals, eqn.params)
    return list(out) if prim.multiple_results else [out]


def eval_program(program, *flat_args):
    """Run ``program`` on one value per input var, binding each primitive.

    Values may be arrays or tracers of any transform, so the replay is seen by
    every enclosing transform (grad, vmap, jvp, another staging trace).

    Returns:
      The list of output leaves (``tree_unflatten(program.out_tree, ...)``
      rebuilds the structure).
    """
    if len(flat_args) != len(program.in_vars):
        raise TypeError(f"eval_program: program '{program.name}' takes "
                        f"{len(program.in_vars)} array inputs, got {len(flat_args)}")
    env = dict(zip(program.in_vars, flat_args))
    env.update(program.constants)
    for eqn in program.equations:
        vals = [env[x] if type(x) is Var else x.value for x in eqn.inputs]
        try:
            outs = eval_equation(eqn, vals)
        except Exception as e:
            _note(e, f"while evaluating the staged equation '{eqn.prim.name}' of "
                     f"'{program.name}', traced at {eqn.source}")
            raise
        for v, o in zip(eqn.outputs, outs):
            env[v] = o
    return [env[v] if type(v) is Var else v.value for v in program.out_vars]


def _note(exc, text):
    add = getattr(exc, "add_note", None)
    if add is not None and text not in getattr(exc, "__notes__", ()):
        add(text)


__all__ = ["make_ir", "eval_program", "Program", "Equation", "Var", "Literal", "IRTrace",
           "IRTracer", "stage"]
