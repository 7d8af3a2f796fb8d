"""The functional transforms: grad, value_and_grad, vjp, jvp, linearize, vmap,
jacfwd, jacrev, hessian.

Each one flattens its pytree arguments, opens a trace (an interpreter) for the
duration of one call of the user's function, and unflattens the results.
Transforms nest because every trace hands primitives it does not own down to
the trace below it.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import ad
from .ad import JVPTrace, JVPTracer, VJPTrace, backward_pass, raise_missing
from .batching import BatchTrace, BatchTracer, BatchingError, check_axis_size
from .core import FuncgradError, Tracer
from .prims import creation, shape_ops
from .tree_util import tree_flatten, tree_map, tree_unflatten


# --------------------------------------------------------------------------- #
# Argument handling
# --------------------------------------------------------------------------- #
def _normalize_argnums(argnums, nargs, transform):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    if not nums:
        raise ValueError(f"{transform}: argnums must name at least one argument")
    out = []
    for a in nums:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{transform}: argnums must be an int or a tuple of ints, "
                            f"got {argnums!r}")
        if not -nargs <= a < nargs:
            raise ValueError(
                f"{transform}: argnums={argnums!r} is out of range for a function called "
                f"with {nargs} positional argument{'s' if nargs != 1 else ''}; valid "
                f"argnums are 0..{nargs - 1}")
        out.append(int(a) % nargs)
    return single, tuple(out)


def _as_differentiable(x, transform, where, allow_constants=False):
    """``x`` as an array that can be differentiated, or a clear error."""
    if isinstance(x, Tracer):
        dt = x.dtype
    elif isinstance(x, (float, complex)):
        x = np.asarray(x)
        dt = x.dtype
    else:
        if not hasattr(x, "dtype"):
            x = np.asarray(x)
        dt = x.dtype
    if dt.kind not in "fc":
        if allow_constants:
            return x, False
        raise TypeError(
            f"{transform} requires real or complex floating-point inputs, but {where} has "
            f"dtype {dt} (shape {tuple(np.shape(x))}). Integer and boolean values have no "
            "derivative. Convert it with x.astype(float) (or fnp.asarray(x, dtype=float)) "
            "if it is a real number, or leave it out of argnums if it is an index or a "
            "flag.")
    return x, True


def _leaf_where(i, path_hint):
    return f"argument {i}" if path_hint is None else f"argument {i} leaf {path_hint}"


# --------------------------------------------------------------------------- #
# Reverse mode
# --------------------------------------------------------------------------- #
def _vjp_trace(fun, args, kwargs, argnums, has_aux, transform, allow_constants=False,
               retain_graph=True):
    """Run ``fun`` under a reverse-mode trace.  Returns (out, pullback, aux).

    ``pullback.flat(ct_leaves)`` is the pullback without the checks of a
    user-given cotangent (for callers that build it themselves, like grad).
    """
    diff = (args[argnums[0]],) if len(argnums) == 1 else tuple(args[i] for i in argnums)
    flat, in_tree = tree_flatten(diff)
    trace = VJPTrace()
    with trace:
        tracers = []
        inputs = []
        for k, x in enumerate(flat):
            if x.__class__ is np.ndarray and x.dtype.kind in "fc":
                ok = True  # the common case, without building the error context
            else:
                x, ok = _as_differentiable(x, transform, f"the input leaf {k} "
                                           f"(of argnums {argnums})", allow_constants)
            inputs.append(x)
            tracers.append(trace.new_input(x) if ok else x)
        new_args = list(args)
        for i, sub in zip(argnums, tree_unflatten(in_tree, tracers)):
            new_args[i] = sub
        out = fun(*new_args, **kwargs)
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError(f"{transform}(..., has_aux=True) requires the function to "
                                "return a pair (output, aux); got "
                                f"{type(out).__name__}")
            out, aux = out
        else:
            aux = None
        out_flat, out_tree = tree_flatten(out)
        lowered = [trace.lower(o) for o in out_flat]
        aux = _strip(trace, aux) if has_aux else None
    if trace.missing:
        raise_missing(trace.missing, transform)
    out_primals = [p for p, _ in lowered]
    out_nodes = [n for _, n in lowered]
    leaf_nodes = [t.node if isinstance(t, ad.VJPTracer) else None for t in tracers]

    def pullback_flat(ct_flat):
        seeds = [(n, c) for c, n in zip(ct_flat, out_nodes) if n is not None]
        leaf_cts = backward_pass(seeds, retain_graph=retain_graph,
                                 order=trace.nodes) if seeds else {}
        res = []
        for x, n in zip(inputs, leaf_nodes):
            g = leaf_cts.get(n) if n is not None else None
            if g is None:
                g = creation.zeros_like(x) if hasattr(x, "shape") else None
            elif isinstance(g, np.generic):
                g = np.asarray(g)  # NumPy returns scalars from 0-d ops: keep arrays
            res.append(g)
        return tree_unflatten(in_tree, res)

    def pullback(ct):
        ct_flat, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise ValueError(f"vjp: the cotangent has structure {ct_tree} but the "
                             f"function's output has structure {out_tree}")
        for k, (c, p) in enumerate(zip(ct_flat, out_primals)):
            if tuple(np.shape(c)) != tuple(p.shape):
                raise ValueError(f"vjp: cotangent leaf {k} has shape {tuple(np.shape(c))} "
                                 f"but the output it pairs with has shape {tuple(p.shape)}")
        return pullback_flat(ct_flat)

    pullback.flat = pullback_flat
    out_primals = [np.asarray(p) if isinstance(p, np.generic) else p for p in out_primals]
    return tree_unflatten(out_tree, out_primals), pullback, aux


def _strip(trace, tree):
    """Replace this trace's tracers in ``tree`` by their primal values."""
    flat, t = tree_flatten(tree)
    return tree_unflatten(t, [trace.lower(x)[0] for x in flat])


def vjp(fun, *primals, has_aux=False):
    """Evaluate ``fun(*primals)`` and return its output and a reusable pullback.

    Args:
      fun: a function of pytrees of arrays.
      *primals: the point at which to linearise.
      has_aux: ``fun`` returns ``(output, aux)``; aux is returned undifferentiated.

    Returns:
      ``(out, pullback)`` (or ``(out, pullback, aux)``); ``pullback(ct)`` maps an
      output cotangent (shaped like ``out``) to a tuple of input cotangents. It
      may be called many times.

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> out, pb = fg.vjp(fnp.sin, fnp.zeros(2))
        >>> pb(fnp.ones(2))
        (array([1., 1.]),)
    """
    argnums = tuple(range(len(primals)))
    out, pb, aux = _vjp_trace(fun, primals, {}, argnums, has_aux, "vjp")
    return (out, pb, aux) if has_aux else (out, pb)


def _vjp_allowing_constants(fun, args):
    """vjp where integer/boolean leaves are treated as constants (zero cotangent)."""
    out, pb, _ = _vjp_trace(fun, tuple(args), {}, tuple(range(len(args))), False,
                            "checkpoint", allow_constants=True)
    return out, pb


def value_and_grad(fun, argnums=0, has_aux=False):
    """Return a function computing ``fun``'s value and its gradient.

    Args:
      fun: a function returning a scalar (a 0-d float array).
      argnums: which positional argument(s) to differentiate (int or tuple).
      has_aux: ``fun`` returns ``(scalar, aux)``.

    Returns:
      A function returning ``(value, grad)`` or ``((value, aux), grad)``; with a
      tuple ``argnums``, ``grad`` is a tuple.

    Raises:
      TypeError: the output is not a scalar, or an input is not floating point.
      ValueError: ``argnums`` is out of range.

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> fg.value_and_grad(lambda x: (x ** 2).sum())(fnp.ones(2))
        (array(2.), array([2., 2.]))
    """
    name = getattr(fun, "__name__", "function")
    normalized = {}  # number of arguments -> (single, argnums): checked once

    @functools.wraps(fun)
    def value_and_grad_fun(*args, **kwargs):
        got = normalized.get(len(args))
        if got is None:
            got = normalized[len(args)] = _normalize_argnums(argnums, len(args), "grad")
        single, nums = got
        out, pullback, aux = _vjp_trace(fun, args, kwargs, nums, has_aux, "grad",
                                        retain_graph=False)
        if out.__class__ is np.ndarray and out.shape == () and out.dtype.kind in "fc":
            # The common case: a 0-d array, its own cotangent structure.
            g = pullback.flat([creation.ones_like(out)])
            g = g[0] if single else g
            return ((out, aux) if has_aux else out), g
        if not hasattr(out, "shape") or tuple(out.shape) != () or \
                getattr(out, "dtype", np.dtype(object)).kind not in "fc":
            shape = tuple(np.shape(out)) if hasattr(out, "shape") or \
                isinstance(out, (int, float)) else type(out).__name__
            dt = getattr(out, "dtype", type(out).__name__)
            raise TypeError(
                f"grad requires a function with a scalar (0-d floating-point) output, but "
                f"'{name}' returned shape {shape} and dtype {dt}. Reduce it to a scalar "
                "(e.g. .sum() or .mean()), or use vjp/jacrev for non-scalar outputs.")
        # ones_like per leaf keeps out's structure (a Tensor output is a pytree node).
        g = pullback(tree_map(creation.ones_like, out))  # on out's device
        g = g[0] if single else g
        return ((out, aux) if has_aux else out), g

    return value_and_grad_fun


def grad(fun, argnums=0, has_aux=False):
    """Return a function computing the gradient of scalar-valued ``fun``.

    Args, Raises: as :func:`value_and_grad`.

    Returns:
      A function returning the gradient (shaped like the argument(s)), or
      ``(grad, aux)`` with ``has_aux``.

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> fg.grad(lambda x: fnp.sum(fnp.tanh(x) ** 2))(fnp.zeros(3))
        array([0., 0., 0.])
    """
    vg = value_and_grad(fun, argnums, has_aux)

    @functools.wraps(fun)
    def grad_fun(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return grad_fun


# --------------------------------------------------------------------------- #
# Forward mode
# --------------------------------------------------------------------------- #
def jvp(fun, primals, tangents, has_aux=False):
    """Push ``tangents`` forward through ``fun`` at ``primals``.

    Args:
      fun: a function of pytrees of arrays.
      primals: a tuple of arguments.
      tangents: a tuple with the same structure, shapes and dtypes.

    Returns:
      ``(primal_out, tangent_out)`` (plus aux with ``has_aux``).

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> fg.jvp(fnp.sin, (fnp.zeros(2),), (fnp.ones(2),))
        (array([0., 0.]), array([1., 1.]))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples of arguments, e.g. "
                        "jvp(f, (x,), (v,))")
    p_flat, p_tree = tree_flatten(tuple(primals))
    t_flat, t_tree = tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise ValueError(f"jvp: primals have structure {p_tree} but tangents have "
                         f"structure {t_tree}; they must match")
    trace = JVPTrace()
    with trace:
        ins = []
        for k, (p, t) in enumerate(zip(p_flat, t_flat)):
            p, ok = _as_differentiable(p, "jvp", f"primal leaf {k}", allow_constants=True)
            if not ok or t is None:
                ins.append(p)
                continue
            if not hasattr(t, "shape"):
                t = np.asarray(t, dtype=p.dtype)
            if tuple(t.shape) != tuple(p.shape):
                raise ValueError(f"jvp: tangent leaf {k} has shape {tuple(t.shape)} but its "
                                 f"primal has shape {tuple(p.shape)}")
            if t.dtype != p.dtype:
                raise TypeError(f"jvp: tangent leaf {k} has dtype {t.dtype} but its primal "
                                f"has dtype {p.dtype}; cast the tangent")
            ins.append(JVPTracer(trace, p, t))
        out = fun(*tree_unflatten(p_tree, ins))
        if has_aux:
            out, aux = out
        o_flat, o_tree = tree_flatten(out)
        pairs = [trace.lower(o) for o in o_flat]
        if has_aux:
            aux = _strip_jvp(trace, aux)
    if trace.missing:
        raise_missing(trace.missing, "jvp")
    primal_out = tree_unflatten(o_tree, [p for p, _ in pairs])
    tangent_out = tree_unflatten(o_tree, [ad.instantiate_zero(t, p) for p, t in pairs])
    return (primal_out, tangent_out, aux) if has_aux else (primal_out, tangent_out)


def _strip_jvp(trace, tree):
    flat, t = tree_flatten(tree)
    return tree_unflatten(t, [trace.lower(x)[0] for x in flat])


def linearize(fun, *primals):
    """Return ``fun(*primals)`` and a reusable function ``tangents -> J @ tangents``.

    The returned JVP function re-runs forward mode at the saved point for each
    call (it does not stage a linear program), so each call costs about one
    forward pass.

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> y, f_jvp = fg.linearize(fnp.sin, fnp.zeros(2))
        >>> f_jvp(fnp.ones(2))
        array([1., 1.])
    """
    out = fun(*primals)

    def f_jvp(*tangents):
        return jvp(fun, primals, tangents)[1]
    return out, f_jvp


# --------------------------------------------------------------------------- #
# vmap
# --------------------------------------------------------------------------- #
def _flatten_axes(axes, tree, what):
    """Broadcast an ``in_axes``/``out_axes`` prefix to one entry per leaf of ``tree``."""
    if axes is None or isinstance(axes, int):
        return [axes] * tree.num_leaves
    try:
        return _prefix_flatten(axes, tree)
    except ValueError as e:
        raise BatchingError(f"vmap: {what} {axes!r} does not match the structure of the "
                            f"values {tree}: {e}") from None


def _prefix_flatten(axes, tree):
    from .tree_util import tree_flatten as flat
    axes_leaves, axes_tree = flat(axes, is_leaf=lambda x: x is None)
    full = tree_unflatten(tree, list(range(tree.num_leaves)))
    subtrees = axes_tree.flatten_up_to(full)
    out = [None] * tree.num_leaves
    for ax, sub in zip(axes_leaves, subtrees):
        if ax is not None and not isinstance(ax, int):
            raise TypeError(f"axes must be ints or None, got {ax!r}")
        for leaf_index in flat(sub)[0]:
            out[leaf_index] = ax
    return out


def vmap(fun, in_axes=0, out_axes=0, axis_size=None):
    """Vectorise ``fun`` over a batch axis of its inputs.

    Args:
      fun: a function of pytrees of arrays.
      in_axes: int, None, or a pytree prefix of the positional arguments (a
        tuple with one entry per argument) giving each input's batch axis;
        None leaves an input unbatched. Negative axes count from the end.
      out_axes: the same for the outputs.
      axis_size: the batch size, needed only when no input is batched.

    Returns:
      The vectorised function.

    Raises:
      ValueError: batch sizes disagree (the message lists them), an axis is out
        of range, or ``in_axes`` does not match the arguments.

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> fg.vmap(lambda v: v @ v)(fnp.ones((3, 2)))
        array([2., 2., 2.])
    """
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)

    @functools.wraps(fun)
    def vmapped(*args):
        flat, tree = tree_flatten(args)
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(in_axes)} entries but the function "
                             f"was called with {len(args)} positional arguments; give one "
                             "entry per argument (None for unbatched)")
        axes = _flatten_axes(in_axes, tree, "in_axes")
        sizes = []
        norm = []
        for k, (x, a) in enumerate(zip(flat, axes)):
            if a is None:
                norm.append(None)
                continue
            nd = len(getattr(x, "shape", ()))
            if not -nd <= a < nd:
                raise BatchingError(
                    f"vmap: in_axes={a} is out of range for argument leaf {k} with shape "
                    f"{tuple(getattr(x, 'shape', ()))} (it has {nd} dimensions)")
            a %= nd
            norm.append(a)
            sizes.append((f"argument leaf {k} (shape {tuple(x.shape)}, axis {a})",
                          x.shape[a]))
        size = check_axis_size(sizes, axis_size)
        if size is None:
            raise BatchingError("vmap: no input is batched (all in_axes are None); pass "
                                "axis_size=N to say how many copies to make")
        trace = BatchTrace(size)
        with trace:
            ins = [x if a is None else BatchTracer(trace, _arr(x), a)
                   for x, a in zip(flat, norm)]
            out = fun(*tree_unflatten(tree, ins))
            o_flat, o_tree = tree_flatten(out)
            oaxes = _flatten_axes(out_axes, o_tree, "out_axes")
            results = []
            for k, (o, oa) in enumerate(zip(o_flat, oaxes)):
                val, d = trace.lower(o)
                results.append(_place_batch_axis(val, d, oa, size, k))
        return tree_unflatten(o_tree, results)

    return vmapped


def _arr(x):
    return x if hasattr(x, "shape") else np.asarray(x)


def _place_batch_axis(val, d, oa, size, k):
    if oa is None:
        if d is not None:
            raise BatchingError(
                f"vmap: output leaf {k} is batched (it depends on a batched input) but "
                "its out_axes is None; give it an integer out_axes")
        return val
    val = _arr(val)
    nd = val.ndim + (d is None)
    if not -nd <= oa < nd:
        raise BatchingError(f"vmap: out_axes={oa} is out of range for output leaf {k} "
                            f"with {nd} dimensions (batch axis included)")
    oa %= nd
    if d is None:
        val = shape_ops.broadcast_to(shape_ops.expand_dims(val, 0),
                                     (size,) + tuple(val.shape))
        d = 0
    return shape_ops.moveaxis(val, d, oa) if d != oa else val


# --------------------------------------------------------------------------- #
# Jacobians
# --------------------------------------------------------------------------- #
def _std_basis(leaves):
    """Rows of an identity over all leaves: one (M, *shape) array per leaf."""
    sizes = [math.prod(l.shape) for l in leaves]
    total = sum(sizes)
    dtype = np.result_type(*[l.dtype for l in leaves]) if leaves else np.float64
    # On the leaves' device: the basis rows are cotangents/tangents of device arrays.
    eye = (creation._xp_of(leaves[0]) if leaves else np).eye(total, dtype=dtype)
    out = []
    start = 0
    for l, s in zip(leaves, sizes):
        out.append(eye[:, start:start + s].reshape((total,) + tuple(l.shape)))
        start += s
    return out, sizes


def jacrev(fun, argnums=0, has_aux=False):
    """Jacobian of ``fun`` by reverse mode: ``vmap`` of the pullback over a basis.

    Returns a function whose result has, for each output leaf of shape ``S``
    and each input leaf of shape ``T``, an array of shape ``S + T``, nested as
    the output structure containing the input structure.

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> fg.jacrev(fnp.sin)(fnp.zeros(2))
        array([[1., 0.],
               [0., 1.]])
    """
    @functools.wraps(fun)
    def jacfun(*args):
        single, nums = _normalize_argnums(argnums, len(args), "jacrev")
        out, pullback, aux = _vjp_trace(fun, args, {}, nums, has_aux, "jacrev")
        o_flat, o_tree = tree_flatten(out)
        basis, sizes = _std_basis([_arr(o) for o in o_flat])
        cts = vmap(lambda *b: pullback(tree_unflatten(o_tree, list(b))))(*basis)
        i_flat, i_tree = tree_flatten(cts)  # leaves shaped (M, *in_shape)
        per_out = []
        start = 0
        for o, s in zip(o_flat, sizes):
            rows = [shape_ops.reshape(c[start:start + s], tuple(np.shape(o)) +
                                      tuple(c.shape[1:])) for c in i_flat]
            sub = tree_unflatten(i_tree, rows)
            per_out.append(sub[0] if single else sub)
            start += s
        jac = tree_unflatten(o_tree, per_out)
        return (jac, aux) if has_aux else jac

    return jacfun


def jacfwd(fun, argnums=0, has_aux=False):
    """Jacobian of ``fun`` by forward mode: ``vmap`` of the pushforward over a basis.

    Same output layout as :func:`jacrev`.

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> fg.jacfwd(fnp.sin)(fnp.zeros(2))
        array([[1., 0.],
               [0., 1.]])
    """
    @functools.wraps(fun)
    def jacfun(*args):
        single, nums = _normalize_argnums(argnums, len(args), "jacfwd")
        diff = tuple(args[i] for i in nums)
        d_flat, d_tree = tree_flatten(diff)
        d_flat = [_as_differentiable(x, "jacfwd", f"input leaf {k}")[0]
                  for k, x in enumerate(d_flat)]
        basis, sizes = _std_basis(d_flat)

        def f_diff(*leaves):
            new = list(args)
            for i, sub in zip(nums, tree_unflatten(d_tree, list(leaves))):
                new[i] = sub
            return fun(*new)

        def pushforward(*tangent_leaves):
            res = jvp(f_diff, tuple(d_flat), tuple(tangent_leaves), has_aux=has_aux)
            return res[1] if not has_aux else (res[1], res[2])

        if has_aux:
            aux = jvp(f_diff, tuple(d_flat), tuple(creation.zeros_like(x) for x in d_flat),
                      has_aux=True)[2]
            tangents = vmap(lambda *t: pushforward(*t)[0])(*basis)
        else:
            tangents = vmap(pushforward)(*basis)
        o_flat, o_tree = tree_flatten(tangents)  # leaves shaped (N, *out_shape)
        per_out = []
        for t in o_flat:
            out_shape = tuple(t.shape[1:])
            cols = []
            start = 0
            for x, s in zip(d_flat, sizes):
                block = t[start:start + s]  # (s, *out_shape)
                block = shape_ops.moveaxis(block, 0, -1) if block.ndim > 1 else block
                cols.append(shape_ops.reshape(block, out_shape + tuple(x.shape)))
                start += s
            sub = tree_unflatten(d_tree, cols)
            per_out.append(sub[0] if single else sub)
        jac = tree_unflatten(o_tree, per_out)
        return (jac, aux) if has_aux else jac

    return jacfun


def hessian(fun, argnums=0, has_aux=False):
    """Hessian of scalar ``fun``: ``jacfwd(jacrev(fun))`` (forward-over-reverse).

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> fg.hessian(lambda x: (x ** 3).sum())(fnp.ones(2))
        array([[6., 0.],
               [0., 6.]])
    """
    return jacfwd(jacrev(fun, argnums, has_aux), argnums, has_aux)


def stop_gradient(x):
    """Treat every leaf of ``x`` as a constant: its derivative is zero.

    Examples:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> fg.grad(lambda x: x * fg.stop_gradient(x))(fnp.asarray(3.0))
        array(3.)
    """
    from .prims.elementwise import stop_gradient as sg
    flat, tree = tree_flatten(x)
    return tree_unflatten(tree, [sg(l) if hasattr(l, "shape") else l for l in flat])


__all__ = ["grad", "value_and_grad", "vjp", "jvp", "linearize", "vmap", "jacfwd",
           "jacrev", "hessian", "stop_gradient", "FuncgradError"]
