"""NaN/Inf diagnosis for ``funcgrad.config.update("debug_nans", True)``.

Forward: every primitive's output is checked as it is computed.  Backward:
every node's input cotangents are checked right after its VJP rule ran, so
the error names the primitive whose *derivative* produced the NaN -- the
place to look for the classic ``where`` trap.
"""
from __future__ import annotations

import numpy as np

from .core import FloatingPointDiagnostic, Tracer, user_frame_summary


def _bad(x):
    if isinstance(x, Tracer) or not hasattr(x, "dtype") or x.dtype.kind not in "fc":
        return False
    return not bool(np.all(np.isfinite(np.asarray(x) if isinstance(x, np.ndarray) else
                                       x.get() if hasattr(x, "get") else x)))


def check_finite(prim, out, args, params):
    outs = out if isinstance(out, (list, tuple)) else (out,)
    if not any(_bad(o) for o in outs):
        return
    if any(_bad(a) for a in args):
        return  # the NaN came in with an input; it was reported where it first appeared
    kinds = _kinds(outs)
    raise FloatingPointDiagnostic(
        f"debug_nans: primitive '{prim.name}' produced {kinds} in the forward pass at "
        f"{user_frame_summary()}.\n  inputs: "
        + ", ".join(_describe(a) for a in args)
        + ("\n  If this value only feeds the branch of a `where` that is not taken, the "
           "forward result is fine but the gradient will be NaN (0 * NaN): compute the "
           "branch on a safe input instead, e.g. fnp.where(x > 0, fnp.log(fnp.where(x > 0, "
           "x, 1.0)), 0.0)."))


def check_cotangents(node):
    """Wrap ``node.vjp`` so its output cotangents are checked (backward pass)."""
    vjp, res = node.vjp, node.res

    def checked(ct):
        cts = vjp(ct) if res is None else vjp(ct, res)
        flat = [c for c in cts if c is not None]
        flat = [x for c in flat for x in (c if isinstance(c, tuple) else (c,)) if x is not None]
        if any(_bad(c) for c in flat) and not _bad(ct):
            name = getattr(node.prim, "name", "?")
            hint = ""
            if name == "where":
                hint = ("\n  This is the `where` trap: the branch that was not taken "
                        "has an infinite or NaN derivative, and 0 times it is NaN. "
                        "Make the untaken branch safe (the double-where trick).")
            raise FloatingPointDiagnostic(
                f"debug_nans: the VJP rule of primitive '{name}' produced "
                f"{_kinds(flat)} in the backward pass from a finite cotangent.{hint}")
        return cts
    node.vjp = checked
    node.res = None  # (bound into ``checked``)


def _kinds(xs):
    has_nan = any(_has(x, np.isnan) for x in xs)
    has_inf = any(_has(x, np.isinf) for x in xs)
    return " and ".join(k for k, v in (("NaN", has_nan), ("Inf", has_inf)) if v) or "NaN/Inf"


def _has(x, test):
    try:
        return bool(np.any(test(np.asarray(x))))
    except TypeError:
        return False


def _describe(x):
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{x.dtype}{list(x.shape)}"
    return repr(x)
