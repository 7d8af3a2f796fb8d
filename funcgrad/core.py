"""The interpreter core: primitives, traces, tracers and ``bind``.

Every differentiable operation in funcgrad is a :class:`Primitive`.  Calling one
(``prim.bind(*values, **params)``) looks at its arguments: if none is a
:class:`Tracer`, the primitive is *evaluated* on the backend (NumPy or CuPy); if
some are, the primitive is handed to the trace of the innermost (highest-level)
tracer, whose ``process_primitive`` interprets it -- recording a reverse-mode
node, pushing a tangent forward, batching, or staging an IR equation.  Rules
call primitives again, so the parent trace interprets *them*: that is why every
transform composes with every other one.

Values positional, metadata keyword-only: ``bind(*values, **params)``.
"""
from __future__ import annotations

import itertools
import math
import os
import sys
import threading

import numpy as np

from . import backends
from .config import config


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
class FuncgradError(Exception):
    """Base class for funcgrad's own errors."""


class ConcretizationError(FuncgradError, TypeError):
    """A Python value (bool, int, float, index) was needed from an abstract value."""


class LeakedTracerError(FuncgradError):
    """A traced value escaped the transform that created it and was used later."""


class MissingRuleError(FuncgradError, NotImplementedError):
    """One or more primitives lack the rule a transform needs."""


class FloatingPointDiagnostic(FuncgradError, FloatingPointError):
    """Raised by ``debug_nans`` at the first primitive producing a NaN or Inf."""


_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def user_frame_summary():
    """Return ``'file:line (function)'`` of the innermost frame outside funcgrad."""
    frame = sys._getframe(1)
    while frame is not None:
        fname = frame.f_code.co_filename
        if not os.path.abspath(fname).startswith(_PKG_DIR):
            return f"{fname}:{frame.f_lineno} ({frame.f_code.co_name})"
        frame = frame.f_back
    return "<unknown>"


# --------------------------------------------------------------------------- #
# Primitive
# --------------------------------------------------------------------------- #
class Primitive:
    """One operation and its whole contract.

    Attributes (filled in by the primitive's own block in ``funcgrad/prims``):
      impl(xp, *args, **params): the implementation against an array namespace.
      impls: per-backend overrides, ``{"cupy": fn}``, only where APIs differ.
      shape_rule(*avals, **params) -> (shape, dtype) (or a list of them for
        ``multiple_results``): the abstract evaluation used when staging.
      vjp(out, *primals, **params) -> (ct -> tuple of input cotangents): a
        *staged* rule: called in the forward pass, it returns a closure that
        keeps only the residuals it needs.  Cotangents may be ``None`` (zero).
      jvp(tangents, out, *primals, **params) -> tangent_out: ``tangents`` holds
        ``None`` for symbolic zeros; at least one is not ``None``.
      batch(args, dims, **params) -> (out, out_dim): ``dims`` holds the batch
        axis of each argument or ``None``.
      transpose: for linear primitives, the rule both modes derive from.
      vjp_needs: the VJP rule takes ``needs`` (see above) -- for matmul & co.
      nondiff: True for primitives whose derivative is zero everywhere it
        exists (comparisons, floor, argmax, ...); declared, never implied.
      fwd_vjp(*primals, **params) -> (out, vjp_fn): optional; evaluates on
        concrete NumPy arrays *and* stages the VJP in one go, so the rule can
        keep an intermediate of the forward computation instead of redoing it
        (cross_entropy keeps its log-probabilities).  Reverse mode uses it when
        it records on NumPy arrays; it must agree bit for bit with ``impl``
        followed by ``vjp`` (a property test checks every one that is defined).
    """

    __slots__ = ("name", "impl", "impls", "shape_rule", "vjp", "jvp", "batch",
                 "transpose", "nondiff", "multiple_results", "vjp_needs", "np_fn",
                 "fwd_vjp", "bwd_res", "doc")

    def __init__(self, name, *, multiple_results=False, nondiff=False):
        self.name = name
        self.impl = None
        self.impls = {}
        self.shape_rule = None
        self.vjp = None
        self.jvp = None
        self.batch = None
        self.transpose = None
        self.nondiff = nondiff
        self.multiple_results = multiple_results
        # When True, the staged VJP rule receives ``needs=(bool, ...)`` saying
        # which inputs want a cotangent, so costly unused products are skipped.
        self.vjp_needs = False
        # A plain NumPy function computing the primitive with no params (a ufunc):
        # evaluate calls it directly, skipping the impl wrapper (the hot path).
        self.np_fn = None
        self.fwd_vjp = None
        # (unary elementwise primitives: ``(bwd(ct, residual), residual_is_output)``,
        # the same rule as ``vjp`` unstaged, for recording without a closure)
        self.bwd_res = None
        self.doc = None
        _REGISTRY[name] = self

    def bind(self, *args, **params):
        return bind(self, args, params)

    def __repr__(self):
        return f"<primitive {self.name}>"


_REGISTRY: dict[str, Primitive] = {}


def primitives():
    """Return a dict of every registered primitive, by name."""
    return dict(_REGISTRY)


def evaluate(prim, args, params):
    """Run ``prim`` on concrete backend arrays (the eval interpreter)."""
    if not _FOREIGN:
        fast = prim.np_fn
        if fast is not None and not params and not config.debug_nans:
            try:
                return fast(*args)
            except (ValueError, TypeError, IndexError):
                pass  # run the impl, which re-raises with context
    return _evaluate_impl(prim, args, params)


def _evaluate_impl(prim, args, params):
    """``evaluate`` through ``prim.impl`` (the backend's override), never ``np_fn``."""
    if _FOREIGN:  # a non-NumPy backend is in use: pick it from the args, check devices
        xp, impl, args = backends.dispatch(prim, args)
    else:
        xp = np
        impl = prim.impl
    try:
        out = impl(xp, *args, **params)
    except (ValueError, TypeError, IndexError) as e:
        if type(e) not in (ValueError, TypeError, IndexError):
            raise  # a specific error (LinAlgError, AxisError) is clear as it is
        raise type(e)(_with_context(e, prim, args, params)) from e
    if config.debug_nans:
        from .debug import check_finite
        check_finite(prim, out, args, params)
    return out


_FOREIGN = backends._FOREIGN_ARRAY_TYPES  # dict, mutated in place by backends
EMPTY_PARAMS: dict = {}


def _describe(x):
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{x.dtype}{list(x.shape)}"
    return repr(x)


def _with_context(err, prim, args, params):
    """The backend's error message with the operation, operands and user line."""
    operands = ", ".join(_describe(a) for a in args)
    extra = f" with {params}" if params else ""
    msg = (f"{prim.name}: {err}\n  operands: ({operands}){extra}\n"
           f"  at {user_frame_summary()}")
    if "broadcast" in str(err):
        msg += ("\n  Shapes broadcast when, aligned from the right, each pair of "
                "dimensions is equal or one of them is 1: reshape or index with None "
                "to line them up.")
    return msg


def bind(prim, args, params):
    """Apply ``prim`` to ``args``: evaluate, or let the innermost trace interpret it."""
    top = None
    for a in args:
        if isinstance(a, Tracer):
            t = a._trace
            if t.level == 0:
                # A Tensor: the tape unwraps Tensors and binds again, so the transforms
                # then see their data (else a transform would take a Tensor wrapping
                # its own tracer for a constant and drop its derivative).
                return t.process_primitive(prim, args, params)
            if top is None or t.level > top.level:
                if not t.alive:
                    _raise_leaked(a, prim)
                top = t
    if top is not None:
        return top.process_primitive(prim, args, params)
    # evaluate's fast path, inlined: untraced calls (every op of a backward pass
    # on arrays) save a Python call.
    fast = prim.np_fn
    if fast is not None and not params and not _FOREIGN and not config.debug_nans:
        try:
            return fast(*args)
        except (ValueError, TypeError, IndexError):
            pass  # run the impl, which re-raises with context
    return _evaluate_impl(prim, args, params)


def _raise_leaked(tracer, prim):
    raise LeakedTracerError(
        f"A value traced by {tracer._trace.kind} escaped that transform and was "
        f"used afterwards in '{prim.name}' at {user_frame_summary()}.\n"
        f"  leaked value: {type(tracer).__name__} with shape {tracer.shape} and dtype "
        f"{tracer.dtype}\n"
        "Values created inside grad/vjp/jvp/vmap/jit belong to that call. Return them "
        "from the transformed function instead of storing them in a global, a list "
        "or an object attribute.")


# --------------------------------------------------------------------------- #
# Traces
# --------------------------------------------------------------------------- #
class _TraceState(threading.local):
    """Per-thread state: two threads tracing at once never share a level."""

    def __init__(self):
        self.level = 0


_state = _TraceState()
_trace_ids = itertools.count(1)


class Trace:
    """Base class of an interpreter.  Subclasses implement ``process_primitive``.

    A trace lives for one transform application.  Its ``level`` orders nesting:
    the trace of the innermost transform has the highest level and sees a
    primitive first.  When the transform returns, ``alive`` is cleared so that
    tracers leaking out of it are caught when used.
    """

    kind = "a transform"

    def __init__(self):
        self.level = 0
        self.alive = True
        self.id = next(_trace_ids)

    def __enter__(self):
        _state.level += 1
        self.level = _state.level
        return self

    def __exit__(self, *exc):
        _state.level -= 1
        self.alive = False
        return False

    def process_primitive(self, prim, args, params):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.process_primitive")

    def process_custom_vjp(self, fn, args):  # pragma: no cover - overridden
        raise NotImplementedError(f"{type(self).__name__}.process_custom_vjp")


def current_level():
    return _state.level


def top_trace_of(values):
    """The highest-level live trace among the tracers in ``values`` (or None)."""
    top = None
    for a in values:
        if isinstance(a, Tracer):
            t = a._trace
            if not t.alive:
                raise LeakedTracerError(
                    f"A value traced by {t.kind} escaped that transform and was used "
                    f"afterwards at {user_frame_summary()}.")
            if top is None or t.level > top.level:
                top = t
    return top


# --------------------------------------------------------------------------- #
# Tracers
# --------------------------------------------------------------------------- #
class Tracer:
    """A value seen by a trace.  Behaves like a NumPy array for user code.

    Operators and methods dispatch to ``funcgrad.numpy`` so that code written
    for NumPy arrays runs unchanged on tracers.
    """

    __slots__ = ("_trace",)
    __array_priority__ = 1000
    __array_ufunc__ = None  # make ``ndarray + tracer`` defer to ``tracer.__radd__``

    # -- abstract value ------------------------------------------------------
    @property
    def shape(self):  # pragma: no cover - overridden
        raise NotImplementedError(f"{type(self).__name__} must define shape")

    @property
    def dtype(self):  # pragma: no cover - overridden
        raise NotImplementedError(f"{type(self).__name__} must define dtype")

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def concrete_value(self):
        """The concrete array behind this tracer, or raise ConcretizationError."""
        raise ConcretizationError(self._concretization_message("its value"))

    def _concretization_message(self, what):
        return (f"{what} of a traced value (shape {self.shape}, dtype {self.dtype}) "
                f"is not known under {self._trace.kind}, at {user_frame_summary()}.")

    # -- conversions to Python values -----------------------------------------
    def __bool__(self):
        return bool(self.concrete_value())

    def __float__(self):
        return float(self.concrete_value())

    def __int__(self):
        return int(self.concrete_value())

    def __complex__(self):
        return complex(self.concrete_value())

    def __index__(self):
        return int(self.concrete_value())

    def item(self):
        return self.concrete_value().item()

    def tolist(self):
        return self.concrete_value().tolist()

    def __array__(self, dtype=None, copy=None):
        try:
            value = self.concrete_value()
        except ConcretizationError as e:
            raise ConcretizationError(
                str(e) + " NumPy functions cannot see inside a transform: use "
                "funcgrad.numpy (import funcgrad.numpy as fnp) instead of numpy.") from None
        raise TypeError(
            f"np.asarray() was called on a value traced by {self._trace.kind} "
            f"(shape {self.shape}, dtype {self.dtype}) at {user_frame_summary()}. "
            "A raw NumPy function would silently drop its derivative: use the "
            "same function from funcgrad.numpy (import funcgrad.numpy as fnp), or "
            "funcgrad.stop_gradient(x) and then np.asarray if the derivative is not "
            f"needed. (Its value is {np.asarray(value)!r}.)")

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __hash__(self):
        raise TypeError("unhashable type: a traced array (like numpy.ndarray)")

    def __repr__(self):
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype})"


def concrete(x):
    """The concrete array behind ``x`` (itself when it is not a tracer)."""
    return x.concrete_value() if isinstance(x, Tracer) else x


def is_tracer(x):
    return isinstance(x, Tracer)


class ShapedArray:
    """An abstract value: shape and dtype only.  What shape rules consume."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    def __eq__(self, other):
        return (isinstance(other, ShapedArray) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"{self.dtype.name}{list(self.shape)}"


def aval_of(x):
    """Shape/dtype of an array, tracer or Python scalar (scalars stay weakly typed)."""
    if isinstance(x, (int, float, complex, bool)) and not isinstance(x, np.generic):
        return x  # weak type: NumPy 2 promotion rules apply to the Python scalar
    return ShapedArray(np.shape(x) if not hasattr(x, "shape") else x.shape, x.dtype)
