"""User-defined derivative rules (``custom_vjp``) and rematerialisation (``checkpoint``)."""
from __future__ import annotations

import functools
import inspect

from .core import Tracer, top_trace_of
from .tree_util import tree_flatten


class custom_vjp:
    """Give a Python function its own reverse-mode rule.

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> @fg.custom_vjp
        ... def log1pexp(x):
        ...     return fnp.log1p(fnp.exp(x))
        >>> def fwd(x):
        ...     return log1pexp(x), x            # output, residuals
        >>> def bwd(x, ct):
        ...     return (ct * fg.nn_sigmoid(x),)  # one cotangent per argument
        >>> log1pexp.defvjp(fwd, bwd)  # doctest: +SKIP

    ``fwd(*args) -> (out, residuals)`` runs in the forward pass; ``bwd(residuals,
    ct) -> tuple`` returns one cotangent per argument (``None`` for zero).  Rules
    are written with funcgrad operations, so the function can be differentiated
    again.  With ``nondiff_argnums``, those arguments are passed to ``fwd`` in
    place and to ``bwd`` first (``bwd(*nondiff, residuals, ct)``) and get no
    cotangent.

    Under forward mode (``jvp``, ``jacfwd``, ``hessian``) a VJP cannot be used;
    define a forward rule too with :meth:`defjvp`, or an error says so.  Under
    ``vmap`` the function and both rules are vmapped, so the custom rule still
    applies to the batched computation.
    """

    def __init__(self, fun, nondiff_argnums=(), name=None):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.name = name or getattr(fun, "__name__", "custom_vjp_function")
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = None
        self.bwd = None
        self.jvp_rule = None

    def defvjp(self, fwd, bwd):
        """Set the forward (``fwd(*args) -> (out, residuals)``) and backward rules."""
        self.fwd = fwd
        self.bwd = bwd
        return self

    def defjvp(self, jvp):
        """Set a forward-mode rule ``jvp(primals, tangents) -> (out, tangent_out)``."""
        self.jvp_rule = jvp
        return jvp

    def __call__(self, *args, **kwargs):
        if kwargs:
            bound = inspect.signature(self.fun).bind(*args, **kwargs)
            bound.apply_defaults()
            args = bound.args
        if self.fwd is None and self.jvp_rule is None:
            raise TypeError(
                f"custom_vjp function '{self.name}' was called before its rules were "
                f"defined: call {self.name}.defvjp(fwd, bwd) first")
        target = self._resolve_nondiff(args) if self.nondiff_argnums else (self, args)
        cv, diff_args = target
        # Tensors (level-0 tracers of the tape) are leaves here: their rule is recorded
        # on the tape, the same way a transform records it.
        leaves, _ = tree_flatten(diff_args, is_leaf=_is_tensor)
        if any(_is_tensor(x) for x in leaves):
            return _tape().process_custom_vjp(cv, tuple(diff_args))
        top = top_trace_of(leaves)
        if top is None:
            return cv.fun(*diff_args)
        if cv.fwd is not None:
            _check_fwd_shape(cv)
        return top.process_custom_vjp(cv, tuple(diff_args))

    def _resolve_nondiff(self, args):
        static = {i: args[i] for i in self.nondiff_argnums}
        diff_pos = [i for i in range(len(args)) if i not in static]

        def merge(diff):
            full = [None] * len(args)
            for i, v in static.items():
                full[i] = v
            for i, v in zip(diff_pos, diff):
                full[i] = v
            return full

        statics = [static[i] for i in sorted(static)]
        inner = custom_vjp(lambda *d: self.fun(*merge(d)), name=self.name)
        if self.fwd is not None:
            inner.defvjp(lambda *d: self.fwd(*merge(d)),
                         lambda res, ct: self.bwd(*statics, res, ct))
        if self.jvp_rule is not None:
            inner.defjvp(lambda p, t: self.jvp_rule(tuple(merge(p)), tuple(merge(t))))
        return inner, tuple(args[i] for i in diff_pos)


def _is_tensor(x):
    return isinstance(x, Tracer) and x._trace.level == 0


def _tape():
    from .tensor import TAPE
    return TAPE


def _check_fwd_shape(cv):
    fwd = cv.fwd

    def checked(*a):
        res = fwd(*a)
        if not (isinstance(res, tuple) and len(res) == 2):
            raise TypeError(f"the fwd rule of custom_vjp function '{cv.name}' must return "
                            f"a pair (output, residuals); got {type(res).__name__}")
        return res
    if not getattr(fwd, "_fg_checked", False):
        checked._fg_checked = True
        cv.fwd = checked


def checkpoint(fun=None, *, static_argnums=()):
    """Recompute ``fun``'s forward pass during the backward pass instead of storing it.

    Memory: only ``fun``'s inputs are kept for the backward pass, not its
    intermediates.  Time: ``fun`` runs twice.  Use it on blocks whose
    activations dominate memory.  Works under ``grad`` (any order), ``vmap`` and
    ``jvp`` (where it simply runs ``fun``).

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> block = fg.checkpoint(lambda x: fnp.tanh(fnp.tanh(x)))
        >>> fg.grad(lambda x: block(x).sum())(fnp.zeros(3))
        array([1., 1., 1.])
    """
    if fun is None:
        return functools.partial(checkpoint, static_argnums=static_argnums)
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else \
        tuple(static_argnums)

    @functools.wraps(fun)
    def checkpointed(*args):
        diff_pos = [i for i in range(len(args)) if i not in static_argnums]

        def f(*diff):
            full = list(args)
            for i, v in zip(diff_pos, diff):
                full[i] = v
            return fun(*full)
        return _remat(f, getattr(fun, "__name__", "fun"))(*[args[i] for i in diff_pos])
    return checkpointed


def _remat(f, name):
    from .api import _vjp_allowing_constants, jvp
    cv = custom_vjp(f, name=f"checkpoint({name})")
    cv.is_remat = True
    cv.defvjp(lambda *args: (f(*args), args),
              lambda args, ct: _vjp_allowing_constants(f, args)[1](ct))
    cv.defjvp(lambda primals, tangents: jvp(f, tuple(primals), tuple(tangents)))
    return cv
