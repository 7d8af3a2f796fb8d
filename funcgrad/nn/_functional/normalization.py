"""Normalisation layers' functional forms: batch, layer, group, instance and RMS norm.

Running statistics are updated in place: on Tensors through ``_assign``
(with the batch statistics' gradient stopped, as PyTorch's kernels do), on
concrete NumPy arrays with ``np.copyto``.
"""
from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from ...core import Tracer
from ...tensor import Tensor, no_grad
from .._pytree import buffer_origin
from ._util import arr, shape_str


def _stat_data(x):
    return x._data if isinstance(x, Tensor) else x


def _update_running(buf, new, op, name):
    """``buf <- new`` in place (``new`` carries no gradient)."""
    new = _stat_data(fnp.stop_gradient(new))
    if isinstance(buf, Tensor):
        old = buf._data
        # A stateful_call buffer returns its new value: a traced one is fine there.
        owned = getattr(buf, "_functional_state", False)
        leaks = isinstance(new, Tracer) and not owned and (
            not isinstance(old, Tracer) or new._trace.level > old._trace.level)
        if leaks:
            raise RuntimeError(
                f"{op}: updating the buffer '{name}' with a value traced by "
                f"{new._trace.kind} would leak it out of the transform. Call model.eval() "
                "(use the running statistics), build the layer with "
                "track_running_stats=False, or thread the statistics explicitly: "
                "out, new_buffers = funcgrad.nn.stateful_call(model, params_and_buffers, "
                "(x,)).")
        if isinstance(new, Tracer) and not owned and buffer_origin(buf) is not None:
            # A pytree copy of the model (the model passed to jit/vmap): a traced
            # update can never reach the model itself -- refuse rather than drop it.
            raise RuntimeError(
                f"{op}: the update of the buffer '{name}' is traced by {new._trace.kind} "
                "and would be lost (it cannot be written back into the model). Call "
                "model.eval() (use the running statistics), build the layer with "
                "track_running_stats=False, or thread the statistics explicitly: "
                "out, new_buffers = funcgrad.nn.stateful_call(model, params_and_buffers, "
                "(x,)), returning new_buffers from the transformed function.")
        if new.dtype != old.dtype:
            new = fnp.astype(new, old.dtype)
        with no_grad():
            buf._assign(new)
            if not isinstance(new, Tracer):
                # A concrete update of a pytree-rebuilt module's buffer reaches the model.
                origin = buffer_origin(buf)
                while origin is not None and not isinstance(origin._data, Tracer):
                    origin._assign(new)
                    origin = buffer_origin(origin)
        return
    if isinstance(buf, np.ndarray) and not isinstance(new, Tracer):
        np.copyto(buf, np.asarray(new, dtype=buf.dtype))
        return
    raise TypeError(f"{op}: {name} must be a Tensor (or a NumPy array) to be updated in "
                    f"place in training mode; got {type(buf).__name__}")


def _channel_shape(x, c):
    return (1, c) + (1,) * (x.ndim - 2)


def _moments(x, axes, unit):
    """Batch statistics over ``axes``: ``(n, mean, x - mean, biased var)``, kept dims.

    Raises ValueError("Expected more than 1 <unit> when training, ...") when
    the ``n`` values reduced per statistic are fewer than 2.
    """
    n = int(np.prod([x.shape[a] for a in axes]))
    if n <= 1:
        raise ValueError(f"Expected more than 1 {unit} when training, got input "
                         f"size {shape_str(x.shape)}")
    mean = fnp.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = fnp.mean(centred * centred, axis=axes, keepdims=True)
    return n, mean, centred, var


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) over the batch and spatial dims.

    In training the batch statistics are used and the running ones (if given)
    updated in place: ``running = (1 - momentum) * running + momentum *
    batch`` with the unbiased batch variance.  Otherwise the running
    statistics are used.

    Raises:
      ValueError: a single value per channel in training mode; statistics of
        the wrong size.
    """
    x = arr(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dims (N, C, ...), "
                         f"got shape {tuple(x.shape)}")
    c = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    bshape = _channel_shape(x, c)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} should contain {c} elements not "
                             f"{int(np.prod(t.shape))}")
    if training:
        n, mean, centred, var = _moments(x, axes, "value per channel")
        if running_mean is not None:
            _update_running(running_mean, (1.0 - momentum) * _stat_data(running_mean)
                            + momentum * fnp.reshape(_stat_data(mean), (c,)),
                            "batch_norm", "running_mean")
        if running_var is not None:
            unbiased = fnp.reshape(_stat_data(var), (c,)) * (n / (n - 1))
            _update_running(running_var, (1.0 - momentum) * _stat_data(running_var)
                            + momentum * unbiased, "batch_norm", "running_var")
        out = centred / fnp.sqrt(var + eps)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are required when "
                             "training=False")
        mean = fnp.reshape(running_mean, bshape)
        var = fnp.reshape(running_var, bshape)
        out = (x - mean) / fnp.sqrt(var + eps)
    if weight is not None:
        out = out * fnp.reshape(weight, bshape)
    if bias is not None:
        out = out + fnp.reshape(bias, bshape)
    return out


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each (example, channel) over its spatial dims.

    With ``running_mean``/``running_var`` and ``use_input_stats`` the running
    statistics are updated with the batch average of the per-instance ones.
    """
    x = arr(input)
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected an input with at least 3 dims "
                         f"(N, C, *spatial), got shape {tuple(x.shape)}")
    c = x.shape[1]
    axes = tuple(range(2, x.ndim))
    bshape = _channel_shape(x, c)
    if use_input_stats:
        n, mean, centred, var = _moments(x, axes, "spatial element")
        if running_mean is not None:
            m = fnp.mean(fnp.reshape(_stat_data(mean), tuple(x.shape[:2])), axis=0)
            _update_running(running_mean, (1.0 - momentum) * _stat_data(running_mean)
                            + momentum * m, "instance_norm", "running_mean")
        if running_var is not None:
            v = fnp.mean(fnp.reshape(_stat_data(var), tuple(x.shape[:2])), axis=0) * (n / (n - 1))
            _update_running(running_var, (1.0 - momentum) * _stat_data(running_var)
                            + momentum * v, "instance_norm", "running_var")
        out = centred / fnp.sqrt(var + eps)
    else:
        out = (x - fnp.reshape(running_mean, bshape)) / fnp.sqrt(
            fnp.reshape(running_var, bshape) + eps)
    if weight is not None:
        out = out * fnp.reshape(weight, bshape)
    if bias is not None:
        out = out + fnp.reshape(bias, bshape)
    return out


def _normalized_axes(x, normalized_shape, op):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(f"{op}: Given normalized_shape={list(normalized_shape)}, expected "
                         f"input with shape [*, {', '.join(map(str, normalized_shape))}], but "
                         f"got input of size{shape_str(x.shape)}")
    return tuple(range(x.ndim - k, x.ndim))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims (biased variance).

    Examples:
        >>> import numpy as np
        >>> layer_norm(np.array([[1.0, 3.0]]), (2,)).round(4)
        array([[-1.,  1.]])
    """
    x = arr(input)
    axes = _normalized_axes(x, normalized_shape, "layer_norm")
    mean = fnp.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = fnp.mean(centred * centred, axis=axes, keepdims=True)
    out = centred / fnp.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing dims.

    ``eps`` defaults to the machine epsilon of the input's dtype.
    """
    x = arr(input)
    axes = _normalized_axes(x, normalized_shape, "rms_norm")
    if eps is None:
        eps = float(np.finfo(x.dtype).eps) if x.dtype.kind == "f" else float(
            np.finfo(np.float32).eps)
    out = x / fnp.sqrt(fnp.mean(x * x, axis=axes, keepdims=True) + eps)
    if weight is not None:
        out = out * weight
    return out


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of ``C // num_groups`` channels over them and the spatial dims."""
    x = arr(input)
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected at least 2 dims (N, C, ...), got shape "
                         f"{tuple(x.shape)}")
    n, c = x.shape[0], x.shape[1]
    if c % num_groups:
        raise ValueError(f"group_norm: Expected number of channels in input to be divisible "
                         f"by num_groups, but got input of shape {shape_str(x.shape)} and "
                         f"num_groups={num_groups}")
    g = fnp.reshape(x, (n, num_groups, -1))
    mean = fnp.mean(g, axis=2, keepdims=True)
    centred = g - mean
    var = fnp.mean(centred * centred, axis=2, keepdims=True)
    out = fnp.reshape(centred / fnp.sqrt(var + eps), tuple(x.shape))
    bshape = _channel_shape(x, c)
    if weight is not None:
        out = out * fnp.reshape(weight, bshape)
    if bias is not None:
        out = out + fnp.reshape(bias, bshape)
    return out


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Normalise each channel by the energy of ``size`` neighbouring channels."""
    from .basic import pad
    x = arr(input)
    if x.ndim < 3:
        raise ValueError(f"local_response_norm: expected 3D or higher input, got shape "
                         f"{tuple(x.shape)}")
    sq = x * x
    c = x.shape[1]
    sq = pad(fnp.moveaxis(sq, 1, -1), (size // 2, (size - 1) // 2))
    windows = fnp.stack([sq[..., i:i + c] for i in range(size)], axis=0)
    div = fnp.moveaxis(fnp.mean(windows, axis=0), -1, 1)
    return x / (k + alpha * div) ** beta


__all__ = ["batch_norm", "instance_norm", "layer_norm", "rms_norm", "group_norm",
           "local_response_norm"]
