"""Recurrent layers: RNN, LSTM, GRU and their cells, with PyTorch's API.

Constructor arguments, defaults, parameter names and shapes
(``weight_ih_l0``, ``bias_hh_l1_reverse``, ``weight_hr_l0``...), gate order
(``i, f, g, o`` for the LSTM, ``r, z, n`` for the GRU), initialisation
(U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every parameter), input and
state shapes and error messages follow PyTorch, so a ``state_dict`` moves
between the two unchanged.  The computation is in
:mod:`funcgrad.nn._functional.recurrent` (compositions of funcgrad.numpy
operations: the derivatives come from the engine).

Not supported: ``PackedSequence`` inputs (pad the batch and slice the outputs
instead).
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ... import numpy as fnp
from ...prims import creation
from .. import init
from .._functional import recurrent as R
from .._functional._util import arr
from ..module import Module
from ._common import empty_parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _shape(x):
    return tuple(int(d) for d in x.shape)


class RNNBase(Module):
    """The common base of :class:`RNN`, :class:`LSTM` and :class:`GRU`.

    Args:
      mode: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``.
      input_size: features of the input ``x_t``.
      hidden_size: features of the hidden state ``h_t``.
      num_layers: stacked recurrent layers (each reads the previous one's output).
      bias: learn ``b_ih`` and ``b_hh``.
      batch_first: inputs and outputs are ``(N, L, H)`` instead of ``(L, N, H)``
        (the states ``h_0``/``h_n`` stay ``(num_layers * D, N, H)``).
      dropout: dropout probability on each layer's output but the last's
        (training mode only).
      bidirectional: add a layer reading the sequence backwards (``D = 2``);
        their outputs are concatenated.
      proj_size: LSTM only: project ``h_t`` to ``proj_size`` features.
      device, dtype: of the parameters (default float32).

    Parameters, for layer ``k`` (``_reverse`` appended for the backward
    direction): ``weight_ih_lk (G * H, I_k)``, ``weight_hh_lk (G * H, H_out)``,
    ``bias_ih_lk``, ``bias_hh_lk (G * H,)`` and, with ``proj_size``,
    ``weight_hr_lk (proj_size, H)``; ``G`` is 1, 4 or 3 for RNN, LSTM, GRU.
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode} (use one of {sorted(_GATES)})")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or \
                not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, "
                          "so non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: "
                            f"{type(batch_first).__name__}")
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not _is_int(v):
                raise TypeError(f"{name} should be of type int, got: {type(v).__name__}")
            if v <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if not _is_int(num_layers) or num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if not _is_int(proj_size) or proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = int(proj_size)
        gate_size = _GATES[mode] * self.hidden_size
        real_hidden = self.proj_size or self.hidden_size
        d = 2 if self.bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else real_hidden * d
            for direction in range(d):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if self.proj_size:
                    shapes.append(("weight_hr", (self.proj_size, self.hidden_size)))
                names = []
                for base, shape in shapes:
                    setattr(self, base + suffix, empty_parameter(shape, dtype))
                    names.append(base + suffix)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self):
        """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self):
        """A no-op (PyTorch packs weights for cuDNN here; funcgrad needs no packing)."""

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters as a list per layer and direction (PyTorch's order)."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _weights(self):
        """Per layer and direction: ``(w_ih, w_hh, b_ih, b_hh, w_hr)`` (None when absent)."""
        out = []
        for names in self._all_weights:
            suffix = names[0][len("weight_ih"):]
            p = self._parameters
            out.append(tuple(p.get(base + suffix) for base in
                             ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")))
        return out

    # -- forward ---------------------------------------------------------- #
    def _check_input(self, x):
        if len(x.shape) not in (2, 3):
            raise ValueError(f"{self._get_name()}: Expected input to be 2D or 3D, got "
                             f"{len(x.shape)}D instead (input of shape {_shape(x)}; "
                             f"{'(N, L, H_in)' if self.batch_first else '(L, N, H_in)'} or "
                             "(L, H_in) unbatched)")
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]} ({self._get_name()}"
                               f"({self.extra_repr()}) given input of shape {_shape(x)})")
        seq_len = x.shape[1 if self.batch_first and len(x.shape) == 3 else 0]
        if seq_len == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")

    def _check_state(self, state, expected, what):
        if _shape(state) != expected:
            size = "proj_size" if self.proj_size and what != "hidden[1]" else "hidden_size"
            raise RuntimeError(f"Expected {what} size {expected}, got {list(_shape(state))} "
                               f"(states are (num_layers * num_directions, batch, {size}) "
                               f"for {self._get_name()}({self.extra_repr()}))")

    def _forward(self, input, hx, cx):
        """Check shapes, add the batch axis of unbatched inputs and run the network."""
        x = arr(input)
        self._check_input(x)
        batched = len(x.shape) == 3
        hx = None if hx is None else arr(hx)
        cx = None if cx is None else arr(cx)
        states = [s for s in (hx, cx) if s is not None]
        ndims = tuple(len(s.shape) for s in states)
        want = 3 if batched else 2
        if any(n != want for n in ndims):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            if self.mode == "LSTM":
                got = ", ".join(f"{n}-D" for n in ndims)
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but "
                                   f"got ({got}) tensors")
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got "
                               f"{ndims[0]}-D tensor")
        if not batched:
            seq_len = x.shape[0]
            x = fnp.reshape(x, (1,) + _shape(x) if self.batch_first else (seq_len, 1, x.shape[1]))
            hx = None if hx is None else fnp.reshape(hx, (hx.shape[0], 1, hx.shape[1]))
            cx = None if cx is None else fnp.reshape(cx, (cx.shape[0], 1, cx.shape[1]))
        d = 2 if self.bidirectional else 1
        batch = x.shape[0 if self.batch_first else 1]
        lstm = self.mode == "LSTM"
        if hx is not None:
            expected = (self.num_layers * d, batch, self.proj_size or self.hidden_size)
            self._check_state(hx, expected, "hidden[0]" if lstm else "hidden")
        if cx is not None:
            self._check_state(cx, (self.num_layers * d, batch, self.hidden_size), "hidden[1]")
        out, h_n, c_n = R.rnn(self.mode, x, hx, cx, self._weights(), self.num_layers,
                              self.dropout, self.training, self.bidirectional,
                              self.batch_first)
        if not batched:
            out = fnp.reshape(out, (seq_len, out.shape[2]))
            h_n = fnp.reshape(h_n, (h_n.shape[0], h_n.shape[2]))
            c_n = None if c_n is None else fnp.reshape(c_n, (c_n.shape[0], c_n.shape[2]))
        return out, h_n, c_n

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or ReLU).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None)``;
    see :class:`RNNBase` for the arguments.

    Call: ``rnn(input, h_0=None) -> (output, h_n)`` with input ``(L, N, H_in)``
    (``(N, L, H_in)`` with ``batch_first``, or ``(L, H_in)`` unbatched), ``h_0``
    ``(D * num_layers, N, H)`` (zeros if None); output ``(L, N, D * H)`` holds
    the last layer's ``h_t`` for every t, ``h_n`` every layer's final state.

    Raises:
      RuntimeError: the input's last size is not ``input_size``, or ``h_0`` has
        the wrong shape (both shapes named).

    Example:
        >>> import funcgrad as torch
        >>> rnn = torch.nn.RNN(10, 20, num_layers=2)
        >>> output, h_n = rnn(torch.randn(5, 3, 10), torch.zeros(2, 3, 20))
        >>> output.shape, h_n.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None,
                 dtype=None, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if kwargs:
            raise TypeError(f"RNN.__init__() got unexpected keyword arguments {sorted(kwargs)}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input, hx=None):
        out, h_n, _ = self._forward(input, hx, None)
        return out, h_n


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's formulation (gates ``i, f, g, o``).

    ``i = σ(W_ii x + b_ii + W_hi h + b_hi)``, ``f``, ``o`` likewise,
    ``g = tanh(W_ig x + b_ig + W_hg h + b_hg)``, ``c' = f c + i g``,
    ``h' = o tanh(c')`` (then ``h' W_hr^T`` with ``proj_size``).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None)``;
    see :class:`RNNBase` for the arguments.

    Call: ``lstm(input, (h_0, c_0)=None) -> (output, (h_n, c_n))``; ``h_0`` is
    ``(D * num_layers, N, H_out)`` with ``H_out = proj_size or hidden_size``,
    ``c_0`` is ``(D * num_layers, N, hidden_size)``; output is
    ``(L, N, D * H_out)`` (``(N, L, ...)`` with ``batch_first``).

    Raises:
      RuntimeError: wrong input size or state shapes (both shapes named).

    Example:
        >>> import funcgrad as torch
        >>> lstm = torch.nn.LSTM(10, 20, batch_first=True, bidirectional=True)
        >>> output, (h_n, c_n) = lstm(torch.randn(3, 5, 10))
        >>> output.shape, h_n.shape
        (torch.Size([3, 5, 40]), torch.Size([2, 3, 20]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)

    def forward(self, input, hx=None):
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTM: hx must be a tuple (h_0, c_0) of two tensors, got "
                                f"{type(hx).__name__}")
            h0, c0 = arr(hx[0]), arr(hx[1])
        out, h_n, c_n = self._forward(input, h0, c0)
        return out, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's formulation (gates ``r, z, n``).

    ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``.

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, device=None, dtype=None)``; called like
    :class:`RNN`: ``gru(input, h_0=None) -> (output, h_n)``.

    Example:
        >>> import funcgrad as torch
        >>> gru = torch.nn.GRU(10, 20, num_layers=2)
        >>> output, h_n = gru(torch.randn(5, 10))   # unbatched
        >>> output.shape, h_n.shape
        (torch.Size([5, 20]), torch.Size([2, 20]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if kwargs:
            raise TypeError(f"GRU.__init__() got unexpected keyword arguments {sorted(kwargs)}")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)

    def forward(self, input, hx=None):
        out, h_n, _ = self._forward(input, hx, None)
        return out, h_n


# --------------------------------------------------------------------------- #
# Cells
# --------------------------------------------------------------------------- #
class RNNCellBase(Module):
    """The common base of the cells: parameters ``weight_ih (G * H, I)``,
    ``weight_hh (G * H, H)``, ``bias_ih``, ``bias_hh (G * H,)``, from
    U(-1/sqrt(H), 1/sqrt(H))."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not _is_int(v):
                raise TypeError(f"{name} should be of type int, got: {type(v).__name__}")
            if v <= 0:
                raise ValueError(f"{name} must be greater than zero")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.bias = bias
        g = num_chunks * self.hidden_size
        self.weight_ih = empty_parameter((g, self.input_size), dtype)
        self.weight_hh = empty_parameter((g, self.hidden_size), dtype)
        if bias:
            self.bias_ih = empty_parameter((g,), dtype)
            self.bias_hh = empty_parameter((g,), dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self):
        """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, states):
        """Check shapes; return the 2-D input, the 2-D states (zeros for None), batched."""
        name = self._get_name()
        x = arr(input)
        if len(x.shape) not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {len(x.shape)}D "
                             f"instead (input of shape {_shape(x)})")
        batched = len(x.shape) == 2
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x.shape[-1]} expected "
                               f"{self.input_size} ({name}({self.extra_repr()}) given input of "
                               f"shape {_shape(x)})")
        if not batched:
            x = fnp.reshape(x, (1, x.shape[0]))
        out = []
        for k, s in enumerate(states):
            if s is None:
                out.append(creation.zeros_like(x, shape=(x.shape[0], self.hidden_size),
                                                 dtype=np.result_type(
                                                     x.dtype, self.weight_ih.dtype)))
                continue
            s = arr(s)
            want = 2 if batched else 1
            if len(s.shape) != want:
                raise RuntimeError(f"{name}: for {'batched 2-D' if batched else 'unbatched 1-D'}"
                                   f" input, hx should also be {want}-D but got "
                                   f"{len(s.shape)}-D tensor (shape {_shape(s)})")
            if not batched:
                s = fnp.reshape(s, (1, s.shape[0]))
            if s.shape[0] != x.shape[0]:
                raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden{k} "
                                   f"batch size {s.shape[0]}")
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got "
                                   f"{s.shape[1]}, expected {self.hidden_size}")
            out.append(s)
        return x, out, batched

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


def _unbatch(h, batched):
    return h if batched else fnp.reshape(h, (h.shape[1],))


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or ReLU).

    Args:
      input_size, hidden_size: features of ``x`` and ``h``.
      bias: learn ``bias_ih`` and ``bias_hh``.
      nonlinearity: ``'tanh'`` or ``'relu'``.

    Call: ``cell(input, hx=None) -> h'`` with input ``(N, I)`` or ``(I,)``, hx
    ``(N, H)`` or ``(H,)`` (zeros if None).

    Example:
        >>> import funcgrad as torch
        >>> cell = torch.nn.RNNCell(10, 20)
        >>> cell(torch.randn(3, 10)).shape
        torch.Size([3, 20])
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity} (use 'tanh' or 'relu')")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, (hx,))
        fn = R.rnn_tanh_cell if self.nonlinearity == "tanh" else R.rnn_relu_cell
        return _unbatch(fn(x, h, *self._weights()), batched)


class LSTMCell(RNNCellBase):
    """One LSTM step (PyTorch's gates ``i, f, g, o``).

    Call: ``cell(input, (h, c)=None) -> (h', c')`` with input ``(N, I)`` or
    ``(I,)`` and states ``(N, H)`` or ``(H,)`` (zeros if None).

    Example:
        >>> import funcgrad as torch
        >>> cell = torch.nn.LSTMCell(10, 20)
        >>> h, c = cell(torch.randn(3, 10))
        >>> h.shape, c.shape
        (torch.Size([3, 20]), torch.Size([3, 20]))
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c) of two tensors, got "
                            f"{type(hx).__name__}")
        x, (h, c), batched = self._prepare(input, tuple(hx))
        h, c = R.lstm_cell(x, (h, c), *self._weights())
        return _unbatch(h, batched), _unbatch(c, batched)


class GRUCell(RNNCellBase):
    """One GRU step (PyTorch's gates ``r, z, n``; see :class:`GRU`).

    Call: ``cell(input, hx=None) -> h'``.

    Example:
        >>> import funcgrad as torch
        >>> torch.nn.GRUCell(10, 20)(torch.randn(10)).shape
        torch.Size([20])
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, (hx,))
        return _unbatch(R.gru_cell(x, h, *self._weights()), batched)


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
