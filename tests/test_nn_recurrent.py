"""Recurrent layers (RNN, LSTM, GRU and cells): shapes for every option, parameters and
state_dict keys, dropout, errors, gradients against finite differences, vmap, and parity
with PyTorch (outputs, final states, input/state/parameter gradients to 1e-6 relative)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.nn as nn
from funcgrad.testing import check_grads

pytestmark = [*globals().get("pytestmark", []), pytest.mark.usefixtures("on_backend")]  # every backend

L, N, I, H = 5, 2, 3, 4


def _x(*shape, seed=0, dtype=np.float64):
    return fg.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def _data(t):
    return t.data if isinstance(t, fg.Tensor) else t


def _flat(out):
    """(output, h_n) / (output, (h_n, c_n)) as a flat list."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _torch():
    return pytest.importorskip("torch",
                               reason="parity tests need PyTorch (pip install torch==2.13.0)")


# --------------------------------------------------------------------------- #
# Shapes for every option combination
# --------------------------------------------------------------------------- #
COMBOS = list(itertools.product(["RNN", "LSTM", "GRU"], [1, 2], [False, True], [False, True],
                                [False, True], [False, True]))


@pytest.mark.parametrize("cls,layers,bidir,batch_first,unbatched,with_state", COMBOS,
                         ids=["-".join(str(v) for v in c) for c in COMBOS])
def test_output_shapes(cls, layers, bidir, batch_first, unbatched, with_state):
    m = getattr(nn, cls)(I, H, num_layers=layers, bidirectional=bidir,
                         batch_first=batch_first).double()
    d = 2 if bidir else 1
    if unbatched:
        x, state_shape, out_shape = _x(L, I), (d * layers, H), (L, d * H)
    elif batch_first:
        x, state_shape, out_shape = _x(N, L, I), (d * layers, N, H), (N, L, d * H)
    else:
        x, state_shape, out_shape = _x(L, N, I), (d * layers, N, H), (L, N, d * H)
    hx = None
    if with_state:
        hx = _x(*state_shape, seed=1)
        if cls == "LSTM":
            hx = (hx, _x(*state_shape, seed=2))
    out, state = m(x, hx)
    assert tuple(out.shape) == out_shape
    states = state if cls == "LSTM" else (state,)
    assert len(states) == (2 if cls == "LSTM" else 1)
    for s in states:
        assert tuple(s.shape) == state_shape
    # the last time step of the forward direction is h_n of the last layer
    last = out[-1] if unbatched or not batch_first else out[:, -1]
    np.testing.assert_allclose(np.asarray(last[..., :H].data),
                               np.asarray(states[0][(layers - 1) * d].data), rtol=1e-12)
    if bidir:  # the reverse direction ends at t = 0
        first = out[0] if unbatched or not batch_first else out[:, 0]
        np.testing.assert_allclose(np.asarray(first[..., H:].data),
                                   np.asarray(states[0][layers * d - 1].data), rtol=1e-12)


@pytest.mark.parametrize("bidir,layers,unbatched", [(False, 1, False), (True, 2, False),
                                                    (True, 2, True)])
def test_lstm_proj_size_shapes(bidir, layers, unbatched):
    m = nn.LSTM(I, H, num_layers=layers, bidirectional=bidir, proj_size=2).double()
    d = 2 if bidir else 1
    x = _x(L, I) if unbatched else _x(L, N, I)
    batch = () if unbatched else (N,)
    out, (h, c) = m(x, (_x(d * layers, *batch, 2), _x(d * layers, *batch, H)))
    assert tuple(out.shape) == (L,) + batch + (d * 2,)
    assert tuple(h.shape) == (d * layers,) + batch + (2,)
    assert tuple(c.shape) == (d * layers,) + batch + (H,)
    assert tuple(m.weight_hr_l0.shape) == (2, H)
    if layers > 1:
        assert tuple(m.weight_ih_l1.shape) == (4 * H, 2 * d)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("unbatched,with_state", [(False, False), (False, True), (True, False),
                                                  (True, True)])
def test_cell_shapes(cls, unbatched, with_state):
    cell = getattr(nn, cls)(I, H).double()
    batch = () if unbatched else (N,)
    hx = None
    if with_state:
        hx = _x(*batch, H, seed=1)
        if cls == "LSTMCell":
            hx = (hx, _x(*batch, H, seed=2))
    out = cell(_x(*batch, I), hx)
    for o in (out if cls == "LSTMCell" else (out,)):
        assert tuple(o.shape) == batch + (H,)


def test_default_dtype_and_backward_reaches_every_parameter():
    m = nn.LSTM(I, H, num_layers=2, bidirectional=True)
    x = _x(L, N, I, dtype=np.float32)
    out, (h, c) = m(x)
    assert out.dtype == np.float32 and h.dtype == np.float32
    (out.sum() + c.sum()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.dtype == np.float32, name
        assert np.abs(np.asarray(p.grad.data)).sum() > 0, name


# --------------------------------------------------------------------------- #
# Parameters, state_dict, init, repr
# --------------------------------------------------------------------------- #
def _expected_keys(layers, bidir, bias=True, proj=False):
    keys = []
    for k in range(layers):
        for suffix in ([""] + (["_reverse"] if bidir else [])):
            names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else []) + \
                (["weight_hr"] if proj else [])
            keys += [f"{n}_l{k}{suffix}" for n in names]
    return keys


@pytest.mark.parametrize("layers,bidir,bias", [(1, False, True), (2, True, True),
                                               (2, False, False)])
def test_state_dict_keys_shapes_and_init(layers, bidir, bias):
    for cls, gates in (("RNN", 1), ("LSTM", 4), ("GRU", 3)):
        m = getattr(nn, cls)(I, H, layers, bias=bias, bidirectional=bidir)
        assert list(m.state_dict().keys()) == _expected_keys(layers, bidir, bias)
        d = 2 if bidir else 1
        assert tuple(m.weight_ih_l0.shape) == (gates * H, I)
        assert tuple(m.weight_hh_l0.shape) == (gates * H, H)
        if layers > 1:
            assert tuple(m.weight_ih_l1.shape) == (gates * H, d * H)
        if bias:
            assert tuple(m.bias_hh_l0.shape) == (gates * H,)
        bound = 1 / math.sqrt(H)
        values = [np.asarray(p.data) for p in m.parameters()]
        assert all(v.dtype == np.float32 and np.all(np.abs(v) <= bound) for v in values)
        assert np.concatenate([v.ravel() for v in values]).std() > bound / 2  # U: 0.58 bound
        assert [len(w) for w in m.all_weights] == [2 + 2 * bias] * (layers * d)
    keys = list(nn.LSTM(I, H, 2, bidirectional=True, proj_size=2).state_dict().keys())
    assert keys == _expected_keys(2, True, proj=True)
    assert list(nn.LSTMCell(I, H).state_dict().keys()) == \
        ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert list(nn.GRUCell(I, H, bias=False).state_dict().keys()) == ["weight_ih", "weight_hh"]


def test_init_follows_manual_seed():
    fg.manual_seed(3)
    a = nn.GRU(I, H).state_dict()
    fg.manual_seed(3)
    b = nn.GRU(I, H).state_dict()
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k].data), np.asarray(b[k].data))


def test_repr_like_pytorch():
    assert repr(nn.LSTM(3, 4, 2, bidirectional=True, proj_size=2)) == \
        "LSTM(3, 4, proj_size=2, num_layers=2, bidirectional=True)"
    assert repr(nn.RNN(3, 4, num_layers=2, nonlinearity="relu", dropout=0.5)) == \
        "RNN(3, 4, num_layers=2, dropout=0.5)"
    assert repr(nn.GRU(3, 4, bias=False, batch_first=True)) == \
        "GRU(3, 4, bias=False, batch_first=True)"
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"


# --------------------------------------------------------------------------- #
# Dropout between layers
# --------------------------------------------------------------------------- #
def test_dropout_train_vs_eval():
    fg.manual_seed(0)
    m = nn.LSTM(I, H, num_layers=3, dropout=0.5).double()
    plain = nn.LSTM(I, H, num_layers=3).double()
    plain.load_state_dict(m.state_dict())
    x = _x(L, N, I)
    m.eval()
    ref = np.asarray(plain(x)[0].data)
    np.testing.assert_allclose(np.asarray(m(x)[0].data), ref, rtol=1e-12)
    m.train()
    a, b = np.asarray(m(x)[0].data), np.asarray(m(x)[0].data)
    assert a.shape == ref.shape
    assert not np.allclose(a, ref) and not np.allclose(a, b)
    # dropout=1 zeroes the second layer's input: its output no longer depends on x
    m1 = nn.GRU(I, H, num_layers=2, dropout=1.0).double()
    y1, y2 = m1(x)[0], m1(_x(L, N, I, seed=5))[0]
    np.testing.assert_allclose(np.asarray(y1.data), np.asarray(y2.data), rtol=1e-12)
    # no dropout after the last layer: the one-layer output is the same in train and eval
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        one = nn.RNN(I, H, dropout=0.5).double()
    np.testing.assert_allclose(np.asarray(one(x)[0].data), np.asarray(one.eval()(x)[0].data))


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
def test_constructor_errors():
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.RNN(3, 0)
    with pytest.raises(TypeError, match="hidden_size should be of type int, got: float"):
        nn.RNN(3, 4.0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        nn.GRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNNCell(3, 4, nonlinearity="gelu")


def test_forward_errors_name_both_sizes():
    m = nn.LSTM(3, 4, 2, bidirectional=True, proj_size=2)
    with pytest.raises(RuntimeError, match=r"Expected 3, got 5.*shape \(7, 2, 5\)"):
        m(fg.zeros(7, 2, 5))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 1D"):
        m(fg.zeros(3))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(4, 2, 2\), "
                                           r"got \[4, 2, 4\]"):
        m(fg.zeros(7, 2, 3), (fg.zeros(4, 2, 4), fg.zeros(4, 2, 4)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(4, 2, 4\), "
                                           r"got \[4, 2, 2\]"):
        m(fg.zeros(7, 2, 3), (fg.zeros(4, 2, 2), fg.zeros(4, 2, 2)))
    with pytest.raises(RuntimeError, match=r"hx and cx should also be 3-D but got "
                                           r"\(2-D, 2-D\)"):
        m(fg.zeros(7, 2, 3), (fg.zeros(4, 2), fg.zeros(4, 4)))
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\)"):
        m(fg.zeros(7, 2, 3), fg.zeros(4, 2, 2))
    g = nn.GRU(3, 4)
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 4\), got \[1, 3, 4\]"):
        g(fg.zeros(5, 2, 3), fg.zeros(1, 3, 4))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D"):
        g(fg.zeros(5, 3), fg.zeros(1, 2, 4))
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0"):
        g(fg.zeros(0, 2, 3))
    c = nn.LSTMCell(3, 4)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 3"):
        c(fg.zeros(2, 5))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch "
                                           "size 3"):
        c(fg.zeros(2, 3), (fg.zeros(3, 4), fg.zeros(3, 4)))
    with pytest.raises(RuntimeError, match="hidden1 has inconsistent hidden_size: got 5, "
                                           "expected 4"):
        c(fg.zeros(2, 3), (fg.zeros(2, 4), fg.zeros(2, 5)))
    with pytest.raises(ValueError, match="LSTMCell: Expected input to be 1D or 2D, got 3D"):
        c(fg.zeros(2, 2, 3))
    with pytest.raises(RuntimeError, match="unbatched 1-D input, hx should also be 1-D"):
        nn.RNNCell(3, 4)(fg.zeros(3), fg.zeros(2, 4))


# --------------------------------------------------------------------------- #
# Gradients against finite differences (functional_call: parameters are inputs)
# --------------------------------------------------------------------------- #
def _grad_case(m, x, hx):
    params = {k: np.asarray(v.data) for k, v in m.named_parameters()}

    def f(params, x, hx):
        out = nn.functional_call(m, params, (x, hx))
        return tuple(_data(t) for t in _flat(out))
    return f, params


@pytest.mark.parametrize("cls,kw", [
    ("RNN", dict(num_layers=2, bidirectional=True)),
    ("RNN", dict(nonlinearity="relu", batch_first=True)),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(proj_size=2, batch_first=True)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
], ids=["rnn_tanh_2x_bidir", "rnn_relu_bf", "lstm_2x_bidir", "lstm_proj", "gru_2x_bidir_bf"])
def test_check_grads_layers(cls, kw):
    fg.manual_seed(0)
    m = getattr(nn, cls)(2, 3, **kw).double()
    d = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 2) if kw.get("batch_first") else (4, 2, 2))
    h0 = rng.standard_normal((d * layers, 2, kw.get("proj_size") or 3))
    hx = (h0, rng.standard_normal((d * layers, 2, 3))) if cls == "LSTM" else h0
    f, params = _grad_case(m, x, hx)
    check_grads(f, (params, x, hx), order=1)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_check_grads_cells_second_order(cls):
    fg.manual_seed(0)
    m = getattr(nn, cls)(2, 3).double()
    rng = np.random.default_rng(2)
    x, h = rng.standard_normal((2, 2)), rng.standard_normal((2, 3))
    hx = (h, rng.standard_normal((2, 3))) if cls == "LSTMCell" else h
    f, params = _grad_case(m, x, hx)
    check_grads(f, (params, x, hx), order=2)


def test_grad_and_tensor_backward_agree():
    """funcgrad.grad over the module (a pytree) and Tensor.backward give the same gradients."""
    m = nn.GRU(I, H, num_layers=2).double()
    x = np.random.default_rng(3).standard_normal((6, N, I))
    g = fg.grad(lambda model: model(x)[0].sum())(m)
    xt = fg.tensor(x, requires_grad=True)
    m(xt)[0].sum().backward()
    for (name, p), (_, q) in zip(m.named_parameters(), g.named_parameters()):
        np.testing.assert_allclose(np.asarray(q.data), np.asarray(p.grad.data), rtol=1e-12,
                                   err_msg=name)


def test_vmap_over_unbatched_sequences_matches_batched_call():
    m = nn.LSTM(I, H, bidirectional=True).double()
    xs = np.random.default_rng(4).standard_normal((N, L, I))
    out = fg.vmap(lambda x: _data(m(x)[0]))(xs)
    batched = m.__class__(I, H, bidirectional=True, batch_first=True).double()
    batched.load_state_dict(m.state_dict())
    np.testing.assert_allclose(np.asarray(out), np.asarray(batched(xs)[0].data), rtol=1e-12)


def test_transforms_see_through_tensor_arguments():
    """Regression (core.bind): an op mixing a raw traced value with a Tensor whose data is
    traced by the same transform (a parameter under functional_call) keeps both derivatives."""
    lin = nn.Linear(3, 4, bias=False).double()
    x, w = np.arange(6.0).reshape(2, 3), np.ones((4, 3))
    y, y_dot = fg.jvp(lambda w, x: _data(nn.functional_call(lin, {"weight": w}, (x,))),
                      (w, x), (w, np.zeros_like(x)))
    np.testing.assert_allclose(np.asarray(y_dot), x @ w.T)
    gw = fg.grad(lambda w, x: fg.numpy.sum(
        _data(nn.functional_call(lin, {"weight": w}, (x,))) ** 2))(w, x)
    np.testing.assert_allclose(np.asarray(gw), 2 * (x @ w.T).T @ x)


def test_long_sequence_input_gradient():
    """A 40-step sequence (the tree-sliced input path) against finite differences."""
    m = nn.RNN(2, 3).double()
    x = np.random.default_rng(5).standard_normal((40, 1, 2)) * 0.5
    check_grads(lambda x: _data(m(x)[0]), (x,), order=1)


# --------------------------------------------------------------------------- #
# Parity with PyTorch
# --------------------------------------------------------------------------- #
RTOL, ATOL = 1e-6, 1e-10


def _cmp(ours, theirs, what):
    a = np.asarray(ours.data if isinstance(ours, fg.Tensor) else ours)
    b = theirs.detach().numpy()
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


def _parity(torch, make, x_shape, state_shapes):
    t_m = make(torch.nn).double()
    f_m = make(nn).double()
    assert list(f_m.state_dict().keys()) == list(t_m.state_dict().keys())
    f_m.load_state_dict({k: v.detach().numpy() for k, v in t_m.state_dict().items()})
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in (x_shape,) + tuple(state_shapes)]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    f_in = [fg.tensor(a, requires_grad=True) for a in arrays]

    def call(m, ins):
        if len(ins) == 1:
            return m(ins[0])
        return m(ins[0], tuple(ins[1:]) if len(ins) == 3 else ins[1])
    t_out, f_out = _flat(call(t_m, t_in)), _flat(call(f_m, f_in))
    assert len(t_out) == len(f_out)
    cts = [rng.standard_normal(tuple(o.shape)) for o in t_out]
    sum((o * torch.tensor(c)).sum() for o, c in zip(t_out, cts)).backward()
    total = None
    for k, (o, t, c) in enumerate(zip(f_out, t_out, cts)):
        _cmp(o, t, f"output {k}")
        term = (o * fg.tensor(c)).sum()
        total = term if total is None else total + term
    total.backward()
    for k, (a, b) in enumerate(zip(f_in, t_in)):
        _cmp(a.grad, b.grad, f"gradient of input {k}")
    t_params = dict(t_m.named_parameters())
    for name, p in f_m.named_parameters():
        _cmp(p.grad, t_params[name].grad, f"gradient of {name}")


LAYER_CASES = [
    ("rnn_tanh", lambda n: n.RNN(3, 4, num_layers=2, bidirectional=True)),
    ("rnn_relu", lambda n: n.RNN(3, 4, num_layers=2, bidirectional=True, nonlinearity="relu")),
    ("lstm", lambda n: n.LSTM(3, 4, num_layers=2, bidirectional=True)),
    ("lstm_proj", lambda n: n.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)),
    ("gru", lambda n: n.GRU(3, 4, num_layers=2, bidirectional=True)),
    ("gru_nobias", lambda n: n.GRU(3, 4, num_layers=2, bias=False)),
]


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("with_state", [False, True], ids=["no_h0", "h0"])
@pytest.mark.parametrize("name,make", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_parity_layers(name, make, with_state, batch_first):
    torch = _torch()

    def build(n):
        m = make(n)
        m.batch_first = batch_first
        return m
    probe = make(nn)
    d = 2 if probe.bidirectional else 1
    x_shape = (N, 7, 3) if batch_first else (7, N, 3)
    states = ()
    if with_state:
        states = ((d * probe.num_layers, N, probe.proj_size or 4),)
        if name.startswith("lstm"):
            states += ((d * probe.num_layers, N, 4),)
    _parity(torch, build, x_shape, states)


@pytest.mark.parametrize("name,make", LAYER_CASES[::2], ids=[c[0] for c in LAYER_CASES[::2]])
def test_parity_unbatched(name, make):
    _parity(_torch(), make, (6, 3), ())


CELL_CASES = [
    ("rnn_cell_tanh", lambda n: n.RNNCell(3, 4), 1),
    ("rnn_cell_relu", lambda n: n.RNNCell(3, 4, nonlinearity="relu"), 1),
    ("lstm_cell", lambda n: n.LSTMCell(3, 4), 2),
    ("gru_cell", lambda n: n.GRUCell(3, 4), 1),
    ("gru_cell_nobias", lambda n: n.GRUCell(3, 4, bias=False), 1),
]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("name,make,nstates", CELL_CASES, ids=[c[0] for c in CELL_CASES])
def test_parity_cells(name, make, nstates, batched):
    batch = (N,) if batched else ()
    _parity(_torch(), make, batch + (3,), (batch + (4,),) * nstates)
