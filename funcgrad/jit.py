"""``funcgrad.jit``: trace once per signature, optimise, replay straight-line code.

``jit(f)(*args)`` computes a *signature* of the arguments (their pytree
structure, each array leaf's shape and dtype, the values of static arguments
and of Python scalar leaves).  On the first call with a signature, ``f`` is
staged into a :class:`funcgrad.ir.Program`, optimised
(:mod:`funcgrad.ir_passes`) and cached.  Then:

* all array arguments concrete (NumPy/CuPy arrays): a generated Python
  function runs the program -- one line per equation calling the primitive's
  implementation directly (a NumPy ufunc where the primitive is one), freeing
  each intermediate after its last use and writing into dead intermediates'
  buffers (``out=``) where that is safe.  No tracing, no ``bind``.
* some arguments are tracers of an enclosing transform (``grad(jit(f))``,
  ``vmap(jit(f))``, ``jvp(jit(f))``, ``jit(jit(f))``): the optimised program is
  evaluated by binding each primitive (:func:`funcgrad.ir.eval_program`), so
  that transform sees every operation.

``jit(grad(f))`` stages forward and backward pass into one program: the fast
path for training steps.  Code generation lives in :mod:`funcgrad.jit_codegen`;
see docs/jit.md.
"""
from __future__ import annotations

import functools
import inspect
import logging
import types
import weakref

import numpy as np

from . import backends
from .config import config
from .core import Tracer
from .ir import eval_program, is_array_leaf, normalize_static_argnums, stage
from .ir_passes import optimize
from .jit_codegen import generate
from .tree_util import tree_flatten, tree_structure

logger = logging.getLogger("funcgrad.jit")


# --------------------------------------------------------------------------- #
# The cache entry and the jitted function
# --------------------------------------------------------------------------- #
class _Entry:
    """One signature's optimised program and its compiled replays (per backend)."""

    __slots__ = ("program", "out_tree", "replays", "numpy_replay", "cacheable",
                 "donated_leaves")

    def __init__(self, program, cacheable):
        self.donated_leaves = ()
        self.program = program
        self.out_tree = program.out_tree
        self.replays = {}
        self.numpy_replay = None
        self.cacheable = cacheable

    def replay(self, xp, donated):
        key = (xp.__name__, donated)
        fn = self.replays.get(key)
        if fn is None:
            fn = self.replays[key] = generate(self.program, xp, donated)[0]
            if xp is np and not donated:
                self.numpy_replay = fn
        return fn


_STATIC, _TREE, _KW = "static", "tree", "keyword"
_LEAF_TREE = tree_structure(0)


class Jitted:
    """A function compiled by :func:`jit` (call it like the original)."""

    def __init__(self, fun, static_argnums=(), donate_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.name = getattr(fun, "__name__", "function")
        self._static_spec = _as_tuple(static_argnums, "static_argnums")
        self._donate_spec = _as_tuple(donate_argnums, "donate_argnums")
        self._static_by_nargs = {}
        self._cache = _shared_cache(fun, self._static_spec, self._donate_spec)
        self._last_key = None
        self._traces = 0
        self._hits = 0

    # -- signature ------------------------------------------------------------
    def _static_for(self, nargs):
        got = self._static_by_nargs.get(nargs)
        if got is None:
            static = normalize_static_argnums(self._static_spec, nargs, "jit")
            donate = normalize_static_argnums(self._donate_spec, nargs, "jit") \
                if self._donate_spec else set()
            both = static & donate
            if both:
                raise ValueError(f"jit: argument(s) {sorted(both)} of '{self.name}' are both "
                                 "static and donated; a static argument has no buffer")
            got = self._static_by_nargs[nargs] = (frozenset(static), frozenset(donate))
        return got

    def _signature(self, args, kwargs):
        static = self._static_for(len(args))[0] if self._static_spec else ()
        parts = []
        leaves = []
        traced = False
        for i, a in enumerate(args):
            if type(a) is np.ndarray and i not in static:
                # Same key as the pytree path gives a lone leaf, so a bare array and
                # a tracer of the same aval share one cache entry.
                parts.append((_TREE, _LEAF_TREE, ((a.shape, a.dtype),)))
                leaves.append(a)
            elif i in static:
                try:
                    hash(a)
                except TypeError:
                    raise TypeError(
                        f"jit: static argument {i}{self._arg_name(i)} of '{self.name}' has "
                        f"unhashable type {type(a).__name__}; static values are cache keys "
                        "and must be hashable. Pass a tuple instead of a list (or a frozen "
                        "dataclass), or remove it from static_argnums so that its arrays "
                        "are traced.") from None
                parts.append((_STATIC, type(a), a))
            else:
                part, t = self._tree_part(a, leaves, f"argument {i}{self._arg_name(i)}")
                parts.append(part)
                traced = traced or t
        if kwargs:
            for k in sorted(kwargs):
                part, t = self._tree_part(kwargs[k], leaves, f"keyword argument '{k}'")
                parts.append((_KW, k, part))
                traced = traced or t
        return tuple(parts), leaves, traced

    def _tree_part(self, a, leaves, where):
        flat, tree = tree_flatten(a)
        keys = []
        traced = False
        for leaf in flat:
            if type(leaf) is np.ndarray:
                keys.append((leaf.shape, leaf.dtype))
                leaves.append(leaf)
            elif is_array_leaf(leaf):
                keys.append((tuple(leaf.shape), leaf.dtype))
                leaves.append(leaf)
                if isinstance(leaf, Tracer):
                    traced = True
            else:
                try:
                    hash(leaf)
                except TypeError:
                    raise TypeError(
                        f"jit: {where} of '{self.name}' holds a leaf of type "
                        f"{type(leaf).__name__} that is neither an array nor hashable. jit "
                        "traces array leaves and bakes other leaves in as static values "
                        "(cache keys), which must be hashable. Convert it to an array, or "
                        "register its type as a pytree node.") from None
                keys.append((type(leaf), leaf))
        return (_TREE, tree, tuple(keys)), traced

    def _arg_name(self, i):
        names = self._param_names()
        return f" ('{names[i]}')" if i < len(names) else ""

    def _param_names(self):
        names = getattr(self, "_names", None)
        if names is None:
            try:
                names = [p.name for p in inspect.signature(self.fun).parameters.values()
                         if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            except (TypeError, ValueError):
                names = []
            self._names = names
        return names

    # -- calling --------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        key, leaves, traced = self._signature(args, kwargs)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._trace(key, args, kwargs)
        else:
            self._hits += 1
        self._last_key = key
        if traced or not entry.cacheable or config.debug_nans:
            # An enclosing transform (or debug_nans) must see every primitive.
            return entry.out_tree.unflatten(eval_program(entry.program, *leaves))
        if backends._FOREIGN_ARRAY_TYPES:
            fn = entry.replay(backends.namespace_of(leaves), frozenset())
        elif entry.donated_leaves:
            fn = self._donating_replay(entry, leaves)
        else:
            fn = entry.numpy_replay or entry.replay(np, frozenset())
        return entry.out_tree.unflatten(fn(*leaves))

    def _donating_replay(self, entry, leaves):
        # Take over only a writeable NumPy buffer that no other argument views:
        # arrays are grouped by the array that owns their memory (one pass, not a
        # comparison of every pair), and a buffer reached by two leaves is kept.
        owners = {}
        for y in leaves:
            if type(y) is np.ndarray:
                root = _memory_owner(y)
                owners[id(root)] = owners.get(id(root), 0) + 1
        ok = []
        for j in entry.donated_leaves:
            x = leaves[j]
            if type(x) is np.ndarray and x.flags.writeable and \
                    owners[id(_memory_owner(x))] == 1:
                ok.append(j)
        return entry.replay(np, frozenset(ok))

    def _trace(self, key, args, kwargs):
        if self._cache and config.log_retraces:
            logger.warning("jit(%s): tracing again (trace #%d) because %s", self.name,
                           self._traces + 1, self._why(self._last_key, key))
        static = self._static_for(len(args))[0] if self._static_spec else frozenset()
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        flat, tree = tree_flatten((dyn, kwargs))
        fun = self.fun

        def call(dyn_args, kw):
            it = iter(dyn_args)
            return fun(*[args[i] if i in static else next(it) for i in range(len(args))], **kw)

        staged = stage(call, flat, tree, name=self.name, kind="jit")
        self._traces += 1
        program = optimize(staged.program)
        cacheable = not any(isinstance(c, Tracer) for c in program.constants.values())
        entry = _Entry(program, cacheable)
        donate = self._static_for(len(args))[1] if self._donate_spec else ()
        if donate:
            entry.donated_leaves = _leaf_indices(args, static, donate)
        if cacheable:
            self._cache[key] = entry
        return entry

    # -- inspection -----------------------------------------------------------
    def lower(self, *args, **kwargs):
        """The optimised :class:`funcgrad.ir.Program` for these arguments (traces if needed).

        Examples:
            >>> import numpy as np, funcgrad.numpy as fnp
            >>> print(jit(lambda x: fnp.sin(x) * 1.0).lower(np.ones(2)))
            { lambda a:f64[2] .
                b:f64[2] = sin a
              return b }
        """
        key, _, _ = self._signature(args, kwargs)
        entry = self._cache.get(key) or self._trace(key, args, kwargs)
        return entry.program

    program = lower

    def source(self, *args, **kwargs):
        """The generated Python source of the NumPy replay for these arguments."""
        return generate(self.lower(*args, **kwargs), np)[1]

    def cache_info(self):
        """``{"traces": ..., "hits": ..., "size": ...}`` for this jitted function."""
        return {"traces": self._traces, "hits": self._hits, "size": len(self._cache)}

    def clear_cache(self):
        """Forget every traced signature (the next call traces again)."""
        self._cache.clear()
        self._last_key = None

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self):
        return f"<jit({self.name}): {len(self._cache)} signature(s) cached>"

    # -- retrace diagnostics --------------------------------------------------
    def _why(self, old, new):
        if old is None:
            return f"of a new signature ({len(self._cache)} other(s) cached)"
        if len(old) != len(new):
            return f"the number of arguments changed from {len(old)} to {len(new)}"
        reasons = []
        names = self._param_names()
        for i, (a, b) in enumerate(zip(old, new)):
            if a == b:
                continue
            if b[0] == _KW:
                if a[0] != _KW or a[1] != b[1]:
                    reasons.append(f"the keyword arguments changed ({a[1]!r} -> {b[1]!r})")
                    continue
                where = f"keyword argument '{b[1]}'"
                a, b = a[2], b[2]
            else:
                where = f"argument {i}" + (f" ('{names[i]}')" if i < len(names) else "")
            reasons.append(_describe_change(where, a, b))
        return "; ".join(reasons) or "of a change in the keyword arguments"


def _describe_change(where, a, b):
    if a[0] != b[0]:
        return f"{where} changed kind ({_kind(a)} -> {_kind(b)})"
    if a[0] == _STATIC:
        return f"{where} is static and its value changed from {a[2]!r} to {b[2]!r}"
    if a[1] != b[1]:
        if a[1] == _LEAF_TREE or b[1] == _LEAF_TREE:
            return f"{where} changed from {_kind(a, a[1])} to {_kind(b, b[1])}"
        return f"{where} changed structure from {a[1]} to {b[1]}"
    out = []
    for k, (x, y) in enumerate(zip(a[2], b[2])):
        if x != y:
            out.append(_leaf_change(f"{where} leaf {k}", x, y))
    return "; ".join(out)


def _kind(part, tree=None):
    if tree is not None:
        return "a single array" if tree == _LEAF_TREE else f"a pytree {tree}"
    return {"static": "a static value", "tree": "a pytree"}.get(part[0], str(part[0]))


def _leaf_change(where, x, y):
    if isinstance(x[0], tuple) and isinstance(y[0], tuple):  # (shape, dtype) leaves
        bits = []
        if x[0] != y[0]:
            bits.append(f"shape {x[0]} -> {y[0]}")
        if x[1] != y[1]:
            bits.append(f"dtype {x[1]} -> {y[1]}")
        return f"{where} changed " + " and ".join(bits)
    return (f"{where} is a Python value baked into the program and it changed from "
            f"{x[1]!r} to {y[1]!r} (pass an array, e.g. np.float32(v), to trace it "
            "instead)")


# jit(f) called again on the same plain function f (``jit(f)(x)`` inside a loop)
# finds the signatures already traced: caches are kept per function, weakly.
# Bound methods and other callables carry state that may have changed since,
# so they get a cache of their own.
_CACHES = weakref.WeakKeyDictionary()


def _shared_cache(fun, static, donate):
    if type(fun) is not types.FunctionType:
        return {}
    return _CACHES.setdefault(fun, {}).setdefault((static, donate), {})


def _memory_owner(x):
    """The array at the root of ``x``'s chain of views (its memory's owner)."""
    while isinstance(x.base, np.ndarray):
        x = x.base
    return x


def _leaf_indices(args, static, wanted):
    """Indices, among the traced leaves, of the leaves of positional args ``wanted``."""
    out = []
    k = 0
    for i, a in enumerate(args):
        if i in static:
            continue
        n = sum(1 for leaf in tree_flatten(a)[0] if is_array_leaf(leaf))
        if i in wanted:
            out.extend(range(k, k + n))
        k += n
    return tuple(out)


def _as_tuple(nums, what):
    if isinstance(nums, (int, np.integer)) and not isinstance(nums, bool):
        return (int(nums),)
    try:
        out = tuple(nums)
    except TypeError:
        raise TypeError(f"jit: {what} must be an int or a tuple of ints, got {nums!r}") \
            from None
    for n in out:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"jit: {what} must be an int or a tuple of ints, got {nums!r}")
    return out


def jit(fun=None, static_argnums=(), donate_argnums=()):
    """Compile ``fun``: trace it once per signature, optimise, replay fast.

    Args:
      fun: a function of pytrees of arrays.
      static_argnums: positions of arguments that are Python values (flags,
        sizes, modes) baked into the program; they must be hashable, and each
        new value traces again.
      donate_argnums: positions of arguments whose array buffers the compiled
        function may overwrite (the caller promises not to use them again).

    Returns:
      A :class:`Jitted` function with the signature of ``fun``, plus
      ``lower(*args)`` (the optimised program), ``source(*args)`` (the
      generated Python), ``cache_info()`` and ``clear_cache()``.

    Raises:
      ConcretizationError: ``fun`` needs an array's value for Python control
        flow (``if x > 0``); the message shows the fixes.
      TypeError: a static argument is unhashable.
      ValueError: ``static_argnums`` is out of range for the call.

    Retracing: a new pytree structure, a new shape or dtype of an array leaf,
    or a new static value (including Python scalars in the arguments) trace
    again; ``funcgrad.config.update("log_retraces", True)`` logs why.

    Examples:
        >>> import numpy as np, funcgrad as fg, funcgrad.numpy as fnp
        >>> step = jit(fg.value_and_grad(lambda w: fnp.sum(fnp.tanh(w) ** 2)))
        >>> loss, g = step(np.zeros(3))
        >>> float(loss), g.tolist()
        (0.0, [0.0, 0.0, 0.0])
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 donate_argnums=donate_argnums)
    return Jitted(fun, static_argnums, donate_argnums)


__all__ = ["jit", "Jitted", "generate"]
