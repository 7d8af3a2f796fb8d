"""``funcgrad.numpy.pad``: every NumPy mode, from one primitive and gathers.

``constant`` is the ``pad`` primitive (linear in the array and in the fill
value, its transpose a slice).  ``edge``, ``reflect``, ``symmetric`` and
``wrap`` are one gather per padded axis with a precomputed index map, so their
derivative is a scatter-add of the cotangent onto the positions that were
copied.  ``linear_ramp`` and the statistic modes (``maximum``, ``minimum``,
``mean``, ``median``) are composites of slices, reductions and concatenation.

Axes are padded one after the other, as NumPy does: the padding of a later
axis sees (and fills the corners from) the padding of the earlier ones.
"""
from __future__ import annotations

import numpy as np

from .. import backends
from ..core import Tracer
from ..prims.creation import _xp_of, asarray
from ..prims.indexing import getitem
from ..prims.shape_ops import broadcast_to, concatenate, pad_constant

__all__ = ["pad"]

_MODES = ("constant", "edge", "reflect", "symmetric", "wrap", "linear_ramp", "maximum",
          "minimum", "mean", "median", "empty")


def _pairs(value, ndim, what, integer=True):
    """NumPy's ``((before, after),) * ndim`` normalisation of a pad argument."""
    if hasattr(value, "shape") and type(value) is not np.ndarray and \
            not isinstance(value, Tracer):
        value = backends.to_numpy(value)  # a device array of pad settings: a host copy
    arr = np.asarray(value)
    try:
        arr = np.broadcast_to(arr, (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: {what} {value!r} cannot be broadcast to one (before, after) "
                         f"pair per axis of a {ndim}-d array") from None
    if integer:
        if arr.dtype.kind not in "iu" and not np.all(arr == np.round(arr)):
            raise TypeError(f"pad: {what} must be integers, got {value!r}")
        arr = arr.astype(np.int64)
        if np.any(arr < 0):
            raise ValueError(f"pad: {what} cannot contain negative values, got {value!r}")
    return [tuple(p) for p in arr.tolist()]


def pad(array, pad_width, mode="constant", **kwargs):
    """Pad an array, with NumPy's modes and keyword arguments.

    Args:
      array: array-like.
      pad_width: int, (before, after), or one (before, after) pair per axis.
      mode: ``"constant"`` (``constant_values``), ``"edge"``, ``"reflect"`` and
        ``"symmetric"`` (``reflect_type="even"`` only), ``"wrap"``,
        ``"linear_ramp"`` (``end_values``), ``"maximum"``, ``"minimum"``,
        ``"mean"``, ``"median"`` (``stat_length``), ``"empty"`` (zeros here).

    Returns:
      The padded array; differentiable in ``array`` (and in a traced scalar
      ``constant_values``).

    Raises:
      ValueError: negative widths, an unknown mode, or an empty axis to pad
        with a mode that copies from it.

    Examples:
        >>> fnp.pad(fnp.asarray([1., 2., 3.]), (2, 1), mode="reflect")
        array([3., 2., 1., 2., 3., 2.])
    """
    x = array if hasattr(array, "shape") and hasattr(array, "dtype") else asarray(array)
    if callable(mode):
        raise NotImplementedError("pad: a callable mode is not supported; compose it from "
                                  "fnp.concatenate and slices")
    if mode not in _MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; choose one of {_MODES}")
    allowed = {"constant": {"constant_values"}, "linear_ramp": {"end_values"},
               "reflect": {"reflect_type"}, "symmetric": {"reflect_type"},
               "maximum": {"stat_length"}, "minimum": {"stat_length"},
               "mean": {"stat_length"}, "median": {"stat_length"}}.get(mode, set())
    unexpected = set(kwargs) - allowed
    if unexpected:
        raise ValueError(f"pad: unsupported keyword arguments for mode {mode!r}: "
                         f"{sorted(unexpected)}")
    widths = _pairs(pad_width, x.ndim, "pad_width")
    if mode in ("constant", "empty"):
        return _pad_constant(x, widths, kwargs.get("constant_values", 0))
    if kwargs.get("reflect_type", "even") != "even":
        raise NotImplementedError("pad: reflect_type='odd' is not supported")
    for axis, (lo, hi) in enumerate(widths):
        if not lo and not hi:
            continue
        if x.shape[axis] == 0:
            raise ValueError(f"pad: can't extend empty axis {axis} (array shape "
                             f"{tuple(x.shape)}) using modes other than 'constant' or "
                             "'empty'")
        if mode in ("edge", "reflect", "symmetric", "wrap"):
            x = _gather_pad(x, axis, lo, hi, mode)
        elif mode == "linear_ramp":
            ends = _pairs(kwargs.get("end_values", 0), len(widths), "end_values", False)
            x = _ramp_pad(x, axis, lo, hi, ends[axis])
        else:
            stat = kwargs.get("stat_length")
            lengths = (None, None) if stat is None else _pairs(stat, len(widths),
                                                               "stat_length")[axis]
            x = _stat_pad(x, axis, lo, hi, mode, lengths)
    return x


def _pad_constant(x, widths, values):
    if not hasattr(values, "shape") or not getattr(values, "ndim", 0):
        if not isinstance(values, (int, float, bool)) and not hasattr(values, "dtype"):
            values = np.asarray(values)
        if getattr(values, "ndim", 0):
            return _pad_constant(x, widths, values)
        return pad_constant(x, widths, values)
    # One (before, after) pair of fill values per axis: pad axis by axis.
    pairs = _pairs(values, x.ndim, "constant_values", integer=False)
    for axis, ((lo, hi), (v_lo, v_hi)) in enumerate(zip(widths, pairs)):
        for w, v in (((lo, 0), v_lo), ((0, hi), v_hi)):
            if w != (0, 0):
                x = pad_constant(x, [w if i == axis else (0, 0) for i in range(x.ndim)], v)
    return x


def _source_index(n, lo, hi, mode):
    """For each padded position along an axis of length n, the position copied."""
    p = np.arange(-lo, n + hi)
    if mode == "edge" or (mode == "reflect" and n == 1):
        return np.clip(p, 0, n - 1)
    if mode == "wrap":
        return p % n
    if mode == "reflect":  # mirror about the end elements: period 2(n - 1)
        m = p % (2 * (n - 1))
        return np.where(m < n, m, 2 * (n - 1) - m)
    m = p % (2 * n)  # symmetric: mirror including the end elements
    return np.where(m < n, m, 2 * n - 1 - m)


def _gather_pad(x, axis, lo, hi, mode):
    idx = _source_index(x.shape[axis], lo, hi, mode)
    return getitem(x, (slice(None),) * axis + (idx,))


def _slab(x, axis, start, stop):
    return getitem(x, (slice(None),) * axis + (slice(start, stop),))


def _stretch(v, axis, size):
    """``v`` (size 1 along ``axis``) repeated ``size`` times along it."""
    shape = list(v.shape)
    shape[axis] = size
    return broadcast_to(v, tuple(shape))


def _ramp_pad(x, axis, lo, hi, ends):
    """Linear ramps from each edge element to its end value (NumPy's linspace)."""
    n = x.shape[axis]
    xf = x if x.dtype.kind in "fc" else _convert(x, np.float64)
    shape = [1] * x.ndim
    parts = []
    xp = _xp_of(x)  # the ramp weights are constants on x's device
    if lo:
        shape[axis] = lo
        w = (xp.arange(lo) / lo).reshape(shape)  # weight of the edge element
        parts.append(ends[0] * (1 - w) + _slab(xf, axis, 0, 1) * w)
    parts.append(xf)
    if hi:
        shape[axis] = hi
        w = ((hi - xp.arange(1, hi + 1)) / hi).reshape(shape)
        parts.append(ends[1] * (1 - w) + _slab(xf, axis, n - 1, n) * w)
    out = concatenate(parts, axis)
    if x.dtype.kind not in "fc":
        from .math import floor
        out = _convert(floor(out), x.dtype)
    return out


def _convert(x, dtype):
    from ..prims.elementwise import convert
    return convert(x, dtype)


def _stat_pad(x, axis, lo, hi, mode, lengths):
    from . import reductions as Rd
    n = x.shape[axis]

    def stat(part):
        if mode == "median":
            from .sorting import median
            v = median(part, axis=axis, keepdims=True)
        else:
            fn = {"maximum": Rd.max, "minimum": Rd.min, "mean": Rd.mean}[mode]
            v = fn(part, axis, keepdims=True)
        if x.dtype.kind in "iu" and mode in ("mean", "median"):
            from .math import rint
            v = rint(v)
        return _convert(v, x.dtype) if v.dtype != x.dtype else v

    parts = []
    if lo:
        k = n if lengths[0] is None else max(1, min(lengths[0], n))
        parts.append(_stretch(stat(_slab(x, axis, 0, k)), axis, lo))
    parts.append(x)
    if hi:
        k = n if lengths[1] is None else max(1, min(lengths[1], n))
        parts.append(_stretch(stat(_slab(x, axis, n - k, n)), axis, hi))
    return concatenate(parts, axis)
