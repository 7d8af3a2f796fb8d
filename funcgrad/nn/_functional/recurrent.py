"""Recurrent networks (Elman RNN, LSTM, GRU) as compositions of funcgrad.numpy operations.

The layers in :mod:`funcgrad.nn.layers.recurrent` call :func:`rnn` and the
``*_cell`` functions; their derivatives come from the primitives' rules
(no rule is written here).  Everything works on Tensors, plain arrays and
traced values, so models built from them go through ``funcgrad.grad``,
``vmap`` and ``functional_call``.

How a step is computed (PyTorch's formulas, gate order and parameters):

* Each layer's weights are *fused* once per call into one matrix ``W``
  acting on ``z_t = [x_t, 1, h_{t-1}]``: ``W = [W_ih | b_ih + b_hh | W_hh]``
  (the ones column carries the bias, so a step has no separate bias add).
  A step is then one ``concatenate`` and one ``matmul`` followed by the
  gate nonlinearities -- the recurrence costs about fifteen primitives per
  step for an LSTM and three for an Elman RNN.
* LSTM rows are reordered from PyTorch's ``i, f, g, o`` to ``i, f, o, g``
  so one sigmoid covers the three sigmoid gates.
* GRU keeps ``W_in x + b_in`` and ``W_hn h + b_hn`` apart, as its ``n`` gate
  needs (``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``): ``W`` has four
  blocks of rows ``r, z, n_x, n_h`` where the input does not feed ``n_h``
  and the hidden state does not feed ``n_x``.

Why the input projection is not one matmul over the whole sequence: the
time loop would then slice the ``(L, N, G)`` projection at every step, and
the derivative of a slice is an array of the full ``(L, N, G)`` size, so
the backward pass would cost O(L^2 N G): forward + backward of a 100-step
LSTM (batch 32, input 64, hidden 128) took 229 ms that way against 100 ms
with ``z_t``, whose per-step pieces come from ``concatenate`` (derivative:
slicing, O(L) in total).  A tree of slices brings the one-matmul design
to 111 ms.  Inputs that need a gradient are cut into time steps by such a
tree (:func:`_unstack`), which is cheap on the input's small feature size.
(A multi-output ``split`` primitive, whose derivative is one
``concatenate``, would make the one-matmul design the faster one.)
"""
from __future__ import annotations

import numpy as np

from ... import numpy as fnp
from ...core import Tracer
from ...prims import creation
from ...prims.indexing import gather_p
from ...tensor import Tensor
from .. import _random
from ._util import relu0

_ALL = ("s", None, None, None)


# --------------------------------------------------------------------------- #
# Slicing helpers (the hot path: bind ``gather`` with a ready-made template)
# --------------------------------------------------------------------------- #
def _take(x, t, axis):
    """``x[t]`` along ``axis`` (a static integer index)."""
    return gather_p.bind(x, template=(_ALL,) * axis + (t,))


def _cols(a, lo, hi):
    """``a[:, lo:hi]`` of a 2-D array."""
    return gather_p.bind(a, template=(_ALL, ("s", lo, hi, None)))


def _span(x, lo, hi, axis):
    return gather_p.bind(x, template=(_ALL,) * axis + (("s", lo, hi, None),))


def _needs_grad(x):
    if isinstance(x, Tensor):
        return x.requires_grad or isinstance(x._data, Tracer)
    return isinstance(x, Tracer)


def _unstack(x, axis):
    """The slices of ``x`` along ``axis``, as a list.

    Each slice's derivative is an array of the sliced operand's size, so
    slicing a differentiable ``x`` step by step costs O(L^2) in the backward
    pass; a tree of slices (each node cut in four) makes it O(L log L).
    """
    n = x.shape[axis]
    if n <= 4 or not _needs_grad(x):
        return [_take(x, t, axis) for t in range(n)]
    size = -(-n // 4)
    out = []
    for lo in range(0, n, size):
        out.extend(_unstack(_span(x, lo, min(lo + size, n), axis), axis))
    return out


# --------------------------------------------------------------------------- #
# Fused weights
# --------------------------------------------------------------------------- #
def _lstm_order(h):
    """Row order taking PyTorch's gates ``i, f, g, o`` to ``i, f, o, g``."""
    return np.r_[0:2 * h, 3 * h:4 * h, 2 * h:3 * h]


def _row(b):
    return fnp.reshape(b, (1, -1))


def fuse_weights(mode, w_ih, w_hh, b_ih=None, b_hh=None):
    """The matrix ``Wt`` with ``[x, 1, h] @ Wt`` = every gate's pre-activation.

    Args:
      mode: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``.
      w_ih: ``(G, I)``; w_hh: ``(G, Hh)``; b_ih, b_hh: ``(G,)`` or None
        (PyTorch's shapes, ``G`` = 1, 4 or 3 times the hidden size).

    Returns:
      ``Wt`` of shape ``(I + 1 + Hh, G')`` -- ``(I + Hh, G')`` without biases --
      where ``G' = G`` except for the GRU (``4H``: its ``n`` gate's input and
      hidden parts are separate columns).  LSTM columns are in gate order
      ``i, f, o, g``.
    """
    has_bias = b_ih is not None
    if mode == "GRU":
        h = w_hh.shape[0] // 3
        zeros_h = creation.zeros_like(w_hh, shape=(h, w_hh.shape[1]))
        w_ih = fnp.concatenate([w_ih, creation.zeros_like(w_ih, shape=(h, w_ih.shape[1]))])
        w_hh = fnp.concatenate([_span(w_hh, 0, 2 * h, 0), zeros_h, _span(w_hh, 2 * h, 3 * h, 0)])
        if has_bias:
            zero = creation.zeros_like(b_ih, shape=(h,))
            b_ih = fnp.concatenate([b_ih, zero])
            b_hh = fnp.concatenate([_span(b_hh, 0, 2 * h, 0), zero, _span(b_hh, 2 * h, 3 * h, 0)])
    # Built transposed by concatenation: a fresh C-contiguous matrix, the fastest
    # right-hand operand for the per-step matmuls.
    blocks = [fnp.swapaxes(w_ih, 0, 1), _row(b_ih + b_hh), fnp.swapaxes(w_hh, 0, 1)] \
        if has_bias else [fnp.swapaxes(w_ih, 0, 1), fnp.swapaxes(w_hh, 0, 1)]
    wt = fnp.concatenate(blocks, axis=0)
    if mode == "LSTM":
        wt = fnp.take(wt, _lstm_order(w_hh.shape[0] // 4), axis=1)
    return wt


# --------------------------------------------------------------------------- #
# One time step
# --------------------------------------------------------------------------- #
def _step(mode, parts, h, c, wt, w_hr_t):
    """One step from the inputs ``parts`` (with the ones column) and the state.

    Returns ``(h, c)`` (``c`` is None except for the LSTM).
    """
    a = fnp.matmul(fnp.concatenate(parts + (h,), axis=1), wt)
    if mode == "RNN_TANH":
        return fnp.tanh(a), None
    if mode == "RNN_RELU":
        return relu0(a), None
    if mode == "LSTM":
        n = c.shape[1]
        s = fnp.sigmoid(_cols(a, 0, 3 * n))
        g = fnp.tanh(_cols(a, 3 * n, 4 * n))
        c = _cols(s, n, 2 * n) * c + _cols(s, 0, n) * g
        h = _cols(s, 2 * n, 3 * n) * fnp.tanh(c)
        if w_hr_t is not None:
            h = fnp.matmul(h, w_hr_t)
        return h, c
    # GRU: columns r, z, n_x, n_h
    n = h.shape[1]
    rz = fnp.sigmoid(_cols(a, 0, 2 * n))
    new = fnp.tanh(_cols(a, 2 * n, 3 * n) + _cols(rz, 0, n) * _cols(a, 3 * n, 4 * n))
    return new + _cols(rz, n, 2 * n) * (h - new), None


def _ones_for(x, n, dtype):
    return (creation.ones_like(x, shape=(n, 1), dtype=dtype),)


# --------------------------------------------------------------------------- #
# Cells
# --------------------------------------------------------------------------- #
def _cell(mode, input, hx, cx, w_ih, w_hh, b_ih, b_hh):
    wt = fuse_weights(mode, w_ih, w_hh, b_ih, b_hh)
    parts = (input,) + (_ones_for(input, input.shape[0], wt.dtype) if b_ih is not None else ())
    return _step(mode, parts, hx, cx, wt, None)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Args:
      input: ``(N, I)``; hx: ``(N, H)``; weights and biases with PyTorch's
        shapes (``(H, I)``, ``(H, H)``, ``(H,)``, ``(H,)``).

    Returns:
      ``h'`` of shape ``(N, H)``.

    Example:
        >>> import numpy as np
        >>> rnn_tanh_cell(np.ones((2, 3)), np.zeros((2, 4)), np.ones((4, 3)),
        ...               np.ones((4, 4))).shape
        (2, 4)
    """
    return _cell("RNN_TANH", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step with ReLU: ``h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)``."""
    return _cell("RNN_RELU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step (PyTorch's gates ``i, f, g, o`` in the rows of ``w_ih``/``w_hh``).

    Args:
      input: ``(N, I)``; hx: the pair ``(h, c)``, each ``(N, H)``;
      w_ih: ``(4H, I)``; w_hh: ``(4H, H)``; b_ih, b_hh: ``(4H,)`` or None.

    Returns:
      ``(h', c')`` with ``c' = f c + i g`` and ``h' = o tanh(c')``.
    """
    h, c = hx
    return _cell("LSTM", input, h, c, w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (PyTorch's gates ``r, z, n``).

    ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z`` likewise,
    ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``.

    Args:
      input: ``(N, I)``; hx: ``(N, H)``; w_ih: ``(3H, I)``; w_hh: ``(3H, H)``;
      b_ih, b_hh: ``(3H,)`` or None.

    Returns:
      ``h'`` of shape ``(N, H)``.
    """
    return _cell("GRU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


# --------------------------------------------------------------------------- #
# Whole networks
# --------------------------------------------------------------------------- #
def _dropout_masks(steps, p, dtype):
    """One mask per time step and input part: the layer output's dropout."""
    shape = (len(steps), len(steps[0])) + tuple(steps[0][0].shape)
    keep = _random.bernoulli(shape, 1.0 - p, dtype=dtype)  # may be traced (funcgrad.compile)
    if p < 1.0:
        keep = keep * np.asarray(1.0 / (1.0 - p), dtype=dtype)
    return [tuple(x * gather_p.bind(keep, template=(t, k)) for k, x in enumerate(parts))
            for t, parts in enumerate(steps)]


def rnn(mode, input, hx, cx, weights, num_layers, dropout=0.0, training=False,
        bidirectional=False, batch_first=False):
    """Run a multi-layer (bidirectional) recurrent network over a batched sequence.

    Args:
      mode: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``.
      input: ``(L, N, I)``, or ``(N, L, I)`` with ``batch_first``.
      hx: initial hidden states ``(num_layers * D, N, H_out)`` or None (zeros).
      cx: LSTM initial cell states ``(num_layers * D, N, H)`` or None (zeros).
      weights: per layer and direction (``layer * D + direction``), the tuple
        ``(w_ih, w_hh, b_ih, b_hh, w_hr)`` with None for absent ones.
      dropout, training: dropout on every layer's output but the last.
      bidirectional: ``D = 2`` directions, the reverse one reading backwards.

    Returns:
      ``(output, h_n, c_n)``: output ``(L, N, D * H_out)`` (``(N, L, ...)``
      with ``batch_first``), ``h_n (num_layers * D, N, H_out)``, and ``c_n``
      (None except for the LSTM).  Shapes are checked by the callers (the
      layers); this function trusts them.
    """
    d = 2 if bidirectional else 1
    time_axis = 1 if batch_first else 0
    seq_len, batch = input.shape[time_axis], input.shape[1 - time_axis]
    dtype = np.result_type(input.dtype, weights[0][0].dtype)
    steps = [(x,) for x in _unstack(input, time_axis)]
    finals_h, finals_c = [], []
    for layer in range(num_layers):
        if layer and dropout and training:
            steps = _dropout_masks(steps, dropout, dtype)
        outs = []
        for direction in range(d):
            w_ih, w_hh, b_ih, b_hh, w_hr = weights[layer * d + direction]
            wt = fuse_weights(mode, w_ih, w_hh, b_ih, b_hh)
            w_hr_t = None if w_hr is None else fnp.swapaxes(w_hr, 0, 1)
            ones = _ones_for(input, batch, dtype) if b_ih is not None else ()
            k = layer * d + direction
            h = creation.zeros_like(input, shape=(batch, w_hh.shape[1]), dtype=dtype) \
                if hx is None else _take(hx, k, 0)
            c = None
            if mode == "LSTM":
                c = creation.zeros_like(input, shape=(batch, w_hh.shape[0] // 4), dtype=dtype) \
                    if cx is None else _take(cx, k, 0)
            hs = [None] * seq_len
            for t in (range(seq_len - 1, -1, -1) if direction else range(seq_len)):
                h, c = _step(mode, steps[t] + ones, h, c, wt, w_hr_t)
                hs[t] = h
            outs.append(hs)
            finals_h.append(h)
            finals_c.append(c)
        steps = list(zip(*outs))
    output = fnp.reshape(fnp.concatenate([p for parts in steps for p in parts], axis=1),
                         (batch, seq_len, -1))
    if not batch_first:
        output = fnp.swapaxes(output, 0, 1)
    h_n = fnp.stack(finals_h)
    c_n = fnp.stack(finals_c) if mode == "LSTM" else None
    return output, h_n, c_n


__all__ = ["rnn", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "fuse_weights"]
