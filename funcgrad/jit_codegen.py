"""Code generation for ``jit``: a program becomes one straight-line Python function.

Each equation becomes one line that calls the primitive's implementation
directly -- no ``bind``, no tracing, no per-op dispatch:

* an elementwise primitive whose impl just forwards to a NumPy ufunc (it
  carries it as ``impl.ufunc``) is a direct call ``_u3(v1, v2)``; Python scalar
  operands of arithmetic ufuncs are pre-converted to 0-d arrays of the output
  dtype (bit-identical under NEP 50, and cheaper per call);
* a few primitives have a faster equivalent (``reduce_sum`` on floats ->
  ``np.add.reduce``);
* any other primitive calls ``impl(xp, *args, **params)`` with its params
  written into the source;
* ``stop_gradient`` is an alias (it only matters to transforms).

Memory: every intermediate is ``del``-ed right after its last use, and a
ufunc writes its result into a dying input's buffer (``out=``) when shape and
dtype match and nothing else can see that buffer.  Only buffers made by ops
known to allocate (ufunc calls, our reduce) -- or donated inputs -- qualify;
the output of any other op may be a view of its inputs (reshape, transpose,
broadcast_to, slicing gather, ...), so it keeps its inputs' buffers alive.
User inputs and constants are never written; outputs that are (views of)
constants are copied.

If a line raises, the exception gets a note naming the equation and the user
line it was traced from.
"""
from __future__ import annotations

import itertools
import linecache
import math

import numpy as np

from .ir import Var, _Printer

# Primitives that are a plain alias in the replay: they only matter to transforms.
ALIAS_IN_REPLAY = {"stop_gradient"}

# Ufuncs for which a Python scalar operand may be replaced by a 0-d array of the
# output dtype with identical results (NumPy casts the scalar to that dtype first).
_ARITH_UFUNCS = {"add", "subtract", "multiply", "divide", "true_divide", "maximum",
                 "minimum"}


def _safe_literal(v):
    """Can ``v`` be written into generated source with ``repr``?"""
    t = type(v)
    if v is None or t in (bool, int, str):
        return True
    if t is float:
        return math.isfinite(v)
    if t is tuple:
        return all(_safe_literal(e) for e in v)
    return False


def _is_ufunc(fn):
    # numpy.ufunc and cupy's ufunc both expose nin/nout and accept out=.
    return getattr(fn, "nout", None) == 1 and hasattr(fn, "nin")


def _direct_callable(impl, xp):
    """The backend function an elementwise impl only forwards to, or None."""
    uf = getattr(impl, "ufunc", None)
    if uf is None:
        return None
    return uf if xp is np else getattr(xp, getattr(impl, "__name__", ""), None)


def _fast_reduce_sum(xp, eqn):
    # np.sum wraps np.add.reduce in Python code; for floats they agree exactly.
    x = eqn.inputs[0]
    if xp is np and eqn.params.get("axes") and x.dtype.kind in "fc" and \
            eqn.outputs[0].dtype == x.dtype:
        return np.add.reduce, {"axis": tuple(eqn.params["axes"]),
                               "keepdims": bool(eqn.params["keepdims"])}
    return None


_SPECIALISED = {"reduce_sum": _fast_reduce_sum}


def classify(eqn, xp):
    """How to call ``eqn``: ``(kind, callable_or_extra)``."""
    prim = eqn.prim
    if getattr(prim, "is_custom_call", False):
        return "custom", generate(eqn.params["program"], xp)[0]
    if prim.name in ALIAS_IN_REPLAY and len(eqn.inputs) == 1:
        return "alias", None
    special = _SPECIALISED.get(prim.name)
    got = special(xp, eqn) if special is not None else None
    if got is not None:
        return "special", got
    impl = prim.impls.get(xp.__name__, prim.impl) if prim.impls else prim.impl
    if not eqn.params and not prim.multiple_results:
        fn = _direct_callable(impl, xp)
        if fn is not None:
            return ("ufunc" if _is_ufunc(fn) else "direct"), fn
    return "impl", impl


class _Plan:
    """Liveness and aliasing of a program's values (which buffers may be reused)."""

    def __init__(self, program, kinds, donated):
        eqns = program.equations
        self.last = last = {}
        for i, e in enumerate(eqns):
            for x in e.inputs:
                if type(x) is Var:
                    last[x] = i
        for v in program.out_vars:
            if type(v) is Var:
                last[v] = len(eqns) + 1  # outputs live on after the call
        # roots[v]: the buffers v may share memory with.
        self.roots = roots = {}
        self.fresh = fresh = set()
        for k, v in enumerate(program.in_vars):
            roots[v] = (v,)
            if k in donated:
                fresh.add(v)
        for v in program.constants:
            roots[v] = (v,)
        for e, (kind, _) in zip(eqns, kinds):
            if kind in ("ufunc", "special") and len(e.outputs) == 1 and e.outputs[0].ndim:
                o = e.outputs[0]
                roots[o] = (o,)
                fresh.add(o)
            else:  # may be a view of any input
                shared = tuple({r for x in e.inputs if type(x) is Var for r in roots[x]})
                for o in e.outputs:
                    roots[o] = shared
        # A buffer is dead once every value that may view it is dead.
        self.buffer_last = buf_last = {}
        for v, rs in roots.items():
            lu = last.get(v, -1)
            for r in rs:
                if lu > buf_last.get(r, -1):
                    buf_last[r] = lu

    def reusable(self, i, eqn):
        """An input buffer that dies at equation ``i`` and can take its output."""
        out = eqn.outputs[0]
        ins = [x for x in eqn.inputs if type(x) is Var]
        for x in ins:
            if x not in self.fresh or self.buffer_last.get(x) != i or \
                    x.shape != out.shape or x.dtype != out.dtype:
                continue
            if any(y is not x and x in self.roots[y] for y in ins):
                continue  # another operand may view the same memory
            return x
        return None


class _Source:
    """The generated function's text and its global namespace."""

    def __init__(self, xp):
        self.xp = xp
        self.ns = {"_xp": xp, "_copy": _copy}
        self._ids = {}
        self._zero_d = {}

    def glob(self, value, prefix):
        """A global name for ``value`` (one per distinct object)."""
        name = self._ids.get(id(value))
        if name is None:
            name = self._ids[id(value)] = f"{prefix}{len(self.ns)}"
            self.ns[name] = value
        return name

    def literal(self, v):
        return repr(v) if _safe_literal(v) else self.glob(v, "_l")

    def zero_d(self, v, dtype):
        key = (dtype.str, type(v), v)
        arr = self._zero_d.get(key)
        if arr is None:
            arr = self._zero_d[key] = self.xp.asarray(v, dtype=dtype)
        return self.glob(arr, "_z")


def _ufunc_args(src, names, eqn, fn):
    """Operands of a ufunc call, Python scalars pre-converted where exact."""
    dt = eqn.outputs[0].dtype
    vars_in = [x for x in eqn.inputs if type(x) is Var]
    typed = (dt.kind in "fciu" and getattr(fn, "__name__", "") in _ARITH_UFUNCS
             and vars_in and all(x.dtype == dt for x in vars_in))
    out = []
    for x in eqn.inputs:
        if type(x) is Var:
            out.append(names[x])
            continue
        v = x.value
        if typed and type(v) in (int, float) and (dt.kind in "fc" or dt.type(v) == v):
            out.append(src.zero_d(v, dt))
        else:
            out.append(src.literal(v))
    return ", ".join(out)


def _emit_body(program, xp, donated):
    src = _Source(xp)
    kinds = [classify(e, xp) for e in program.equations]
    plan = _Plan(program, kinds, donated)
    names = {v: f"a{k}" for k, v in enumerate(program.in_vars)}
    for v, c in program.constants.items():
        if xp is not np and type(c) is np.ndarray:
            c = xp.asarray(c)  # constants made while tracing live on the host
        names[v] = src.glob(c, "_c")
    keep = set(program.in_vars) | set(program.constants)
    counter = itertools.count()
    body = []
    line_eqn = {}
    for i, (e, (kind, obj)) in enumerate(zip(program.equations, kinds)):
        for o in e.outputs:
            names[o] = f"v{next(counter)}"
        outs = ", ".join(names[o] for o in e.outputs)
        if kind == "ufunc":
            args = _ufunc_args(src, names, e, obj)
        else:
            args = ", ".join(names[x] if type(x) is Var else src.literal(x.value)
                             for x in e.inputs)
        if kind == "alias":
            line = f"{outs} = {args}"
        elif kind in ("ufunc", "direct"):
            buf = plan.reusable(i, e) if kind == "ufunc" and e.outputs[0].ndim else None
            extra = f", out={names[buf]}" if buf is not None else ""
            line = f"{outs} = {src.glob(obj, '_u')}({args}{extra})"
        elif kind == "special":
            fn, kw = obj
            kws = "".join(f", {k}={src.literal(v)}" for k, v in kw.items())
            line = f"{outs} = {src.glob(fn, '_s')}({args}{kws})"
        else:
            if kind == "custom":
                call = f"{src.glob(obj, '_f')}({args})"
            else:
                kws = "".join(f", {k}={src.literal(v)}" for k, v in e.params.items())
                call = f"{src.glob(obj, '_i')}(_xp{', ' if args else ''}{args}{kws})"
            multi = kind == "custom" or e.prim.multiple_results
            line = f"{outs}{',' if multi and len(e.outputs) == 1 else ''} = {call}"
        line_eqn[len(body)] = i
        body.append(line)
        dead = [names[x] for x in dict.fromkeys(list(e.inputs) + e.outputs)
                if type(x) is Var and plan.last.get(x, -1) <= i and x not in keep]
        if dead:
            body.append("del " + ", ".join(dead))
    rets = []
    for v in program.out_vars:
        if type(v) is not Var:
            rets.append(src.literal(v.value))
        elif any(r in program.constants for r in plan.roots[v]):
            rets.append(f"_copy({names[v]})")  # never hand out a cached constant
        else:
            rets.append(names[v])
    body.append("return (" + "".join(f"{r}, " for r in rets) + ")")
    return src, body, line_eqn


def _copy(x):
    return x.copy() if hasattr(x, "copy") else x


_gen_ids = itertools.count()


def generate(program, xp=np, donated=frozenset()):
    """Compile ``program`` into a Python function of its flat inputs.

    Args:
      program: an (optimised) :class:`funcgrad.ir.Program`.
      xp: the array namespace to run on (``numpy``, or ``cupy``).
      donated: indices of inputs whose buffers the function may overwrite.

    Returns:
      ``(fn, source)``: ``fn(*flat_inputs)`` returns the tuple of flat outputs;
      ``source`` is its Python text.
    """
    src, body, line_eqn = _emit_body(program, xp, frozenset(donated))
    fname = "jit_" + ("".join(c if c.isalnum() else "_" for c in program.name) or "fun")
    head = [f"def {fname}({', '.join(f'a{k}' for k in range(len(program.in_vars)))}):",
            "    try:"]
    tail = ["    except Exception as _e:", "        _annotate(_e)", "        raise"]
    text = "\n".join(head + [f"        {b}" for b in body] + tail) + "\n"
    first = len(head) + 1  # 1-based line number of the first body line
    line_eqn = {k + first: i for k, i in line_eqn.items()}
    filename = f"<funcgrad.jit {program.name} #{next(_gen_ids)}>"
    src.ns["_annotate"] = _annotator(program, filename, line_eqn)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    exec(compile(text, filename, "exec"), src.ns)
    return src.ns[fname], text


def _annotator(program, filename, line_eqn):
    """Adds a note naming the failing equation and its user source line."""
    def annotate(exc):
        tb, lineno = exc.__traceback__, None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == filename:
                lineno = tb.tb_lineno
            tb = tb.tb_next
        i = line_eqn.get(lineno)
        add = getattr(exc, "add_note", None)  # Python >= 3.11
        if i is None or add is None:
            return
        printer = _Printer()
        printer.program(program, False, 0)  # names values as str(program) does
        eqn = program.equations[i]
        add(f"in jit of '{program.name}': equation `{printer.equation(eqn, False, 0).strip()}`"
            f" (traced at {eqn.source}); see the program with jitted.lower(*args)")
    return annotate


__all__ = ["generate", "classify", "ALIAS_IN_REPLAY"]
