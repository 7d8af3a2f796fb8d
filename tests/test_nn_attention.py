"""Attention and Transformers: scaled_dot_product_attention, MultiheadAttention,
TransformerEncoder/Decoder(Layer), Transformer.

Shapes for the options, finite-difference gradient checks (float64, tiny
sizes, both modes, second order), vmap, and PyTorch parity: the same weights
(through state_dict), float64 inputs, outputs and input/parameter gradients
to 1e-6 relative.
"""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.nn as nn
import funcgrad.nn.functional as F
import funcgrad.numpy as fnp
from funcgrad.testing import check_grads


RTOL, ATOL = 1e-6, 1e-10
pytestmark = [pytest.mark.filterwarnings("ignore:Support for mismatched"),
              pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")]


def _torch():
    return pytest.importorskip("torch", reason="parity tests need PyTorch "
                                               "(pip install torch==2.13.0)")


def _np(x):
    if x is None:
        return None
    if hasattr(x, "detach"):
        return x.detach().numpy()
    return np.asarray(x._data if isinstance(x, fg.Tensor) else x)


def _close(a, b, what):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


def _parity(make, inputs, call, rng, train=False):
    """Build ``make(nn)`` in both libraries; compare outputs and all gradients."""
    torch = _torch()
    t_mod = make(torch.nn).double()
    f_mod = make(nn).double()
    t_sd = t_mod.state_dict()
    assert list(f_mod.state_dict()) == list(t_sd)
    f_mod.load_state_dict({k: v.numpy() for k, v in t_sd.items()})
    t_mod.train(train)
    f_mod.train(train)
    t_in = [torch.tensor(x, requires_grad=x.dtype.kind == "f") if isinstance(x, np.ndarray)
            else x for x in inputs]
    f_in = [fg.Tensor(x.copy(), requires_grad=x.dtype.kind == "f")
            if isinstance(x, np.ndarray) else x for x in inputs]
    t_out, f_out = call(t_mod, *t_in), call(f_mod, *f_in)
    t_outs = t_out if isinstance(t_out, tuple) else (t_out,)
    f_outs = f_out if isinstance(f_out, tuple) else (f_out,)
    for i, (a, b) in enumerate(zip(f_outs, t_outs)):
        assert (a is None) == (b is None), f"output {i}: None on one side only"
        if b is not None:
            _close(a, b, f"output {i}")
    ct = rng.standard_normal(tuple(t_outs[0].shape))
    t_outs[0].backward(torch.tensor(ct))
    f_outs[0].backward(fg.Tensor(ct))
    for i, (a, b) in enumerate(zip(f_in, t_in)):
        if getattr(b, "grad", None) is not None:
            _close(a.grad, b.grad, f"input {i} grad")
    t_params = dict(t_mod.named_parameters())
    assert [n for n, _ in f_mod.named_parameters()] == list(t_params)
    for name, p in f_mod.named_parameters():
        _close(p.grad, t_params[name].grad, f"grad of {name}")
    return f_mod, t_mod


# --------------------------------------------------------------------------- #
# scaled_dot_product_attention
# --------------------------------------------------------------------------- #
def test_sdpa_shapes_and_options(rng):
    q = rng.standard_normal((2, 3, 4, 5))
    k = rng.standard_normal((2, 3, 6, 5))
    v = rng.standard_normal((2, 3, 6, 7))
    assert F.scaled_dot_product_attention(q, k, v).shape == (2, 3, 4, 7)
    assert F.scaled_dot_product_attention(q[0, 0], k[0, 0], v[0, 0]).shape == (4, 7)
    assert F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 6), bool)).shape \
        == (2, 3, 4, 7)
    assert F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.1).shape \
        == (2, 3, 4, 7)
    out = F.scaled_dot_product_attention(q, k[:, :1], v[:, :1], enable_gqa=True)
    assert out.shape == (2, 3, 4, 7)
    # A bool mask and the equivalent float mask agree; is_causal is the lower triangle.
    keep = np.tril(np.ones((4, 6), bool))
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    b = F.scaled_dot_product_attention(q, k, v, attn_mask=np.where(keep, 0.0, -np.inf))
    c = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(a, c, rtol=1e-12)
    # Tensors in, Tensor out.
    t = F.scaled_dot_product_attention(fg.tensor(q), fg.tensor(k), fg.tensor(v))
    assert isinstance(t, fg.Tensor) and t.dtype == np.float64


def test_sdpa_matches_the_formula(rng):
    q, k, v = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    s = q @ k.T / 2.0
    w = np.exp(s - s.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v), w @ v, rtol=1e-12)


def test_sdpa_fully_masked_rows_give_zeros_without_nan(rng):
    q, k, v = (rng.standard_normal((3, 4, 5)) for _ in range(3))
    mask = np.ones((4, 4), bool)
    mask[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert np.all(out[:, 1] == 0) and np.all(np.isfinite(out))
    g = fg.grad(lambda q, k, v: fnp.sum(F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask) ** 2), argnums=(0, 1, 2))(q, k, v)
    assert all(np.all(np.isfinite(x)) for x in g)
    assert np.all(g[0][:, 1] == 0)


def test_sdpa_dropout_zeroes_weights_and_rescales(rng):
    q, k = rng.standard_normal((1, 8, 4)), rng.standard_normal((1, 8, 4))
    v = np.eye(8)[None]  # the output *is* the (dropped-out) weight matrix
    fg.manual_seed(0)
    w = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    full = F.scaled_dot_product_attention(q, k, v)
    kept = w != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(w[kept], 2 * full[kept], rtol=1e-12)


def test_sdpa_errors(rng):
    q = rng.standard_normal((2, 3, 4))
    with pytest.raises(ValueError, match="is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), bool),
                                       is_causal=True)
    with pytest.raises(ValueError, match="key"):
        F.scaled_dot_product_attention(q, q[..., :2], q)
    with pytest.raises(TypeError, match="bool and floating"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), np.int64))
    with pytest.raises(ValueError, match="at least 2 dims"):
        F.scaled_dot_product_attention(q[0, 0], q[0, 0], q[0, 0])


@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal"])
def test_sdpa_gradients_match_finite_differences(rng, mask):
    q = rng.standard_normal((2, 3, 2))
    k = rng.standard_normal((2, 4, 2))
    v = rng.standard_normal((2, 4, 3))
    kw = {}
    if mask == "bool":
        m = rng.random((3, 4)) < 0.7
        m[:, 0] = True
        kw = {"attn_mask": m}
    elif mask == "float":
        kw = {"attn_mask": rng.standard_normal((3, 4))}
    elif mask == "causal":
        kw = {"is_causal": True}
    check_grads(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw), (q, k, v),
                order=2)


def test_sdpa_vmap_matches_batched(rng):
    q, k, v = (rng.standard_normal((3, 4, 2)) for _ in range(3))
    mask = np.tril(np.ones((4, 4), bool))
    per = fg.vmap(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))(
        q, k, v)
    np.testing.assert_allclose(per, F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                               rtol=1e-12)
    shared_k = fg.vmap(lambda q: F.scaled_dot_product_attention(q, k[0], v[0]))(q)
    np.testing.assert_allclose(shared_k, F.scaled_dot_product_attention(q, k[0], v[0]),
                               rtol=1e-12)


@pytest.mark.parametrize("case", ["plain", "bool", "float_broadcast", "causal", "scale", "gqa",
                                  "masked_row"])
def test_sdpa_parity_with_torch(rng, case):
    torch = _torch()
    q = rng.standard_normal((2, 4, 3, 5))
    k = rng.standard_normal((2, 4 if case != "gqa" else 2, 6, 5))
    v = rng.standard_normal((2, 4 if case != "gqa" else 2, 6, 3))
    kw, tkw = {}, {}
    if case in ("bool", "masked_row"):
        m = rng.random((3, 6)) < 0.6
        m[:, 2] = True
        if case == "masked_row":
            m[1] = False
        kw, tkw = {"attn_mask": m}, {"attn_mask": torch.tensor(m)}
    elif case == "float_broadcast":
        m = rng.standard_normal((2, 1, 3, 6))
        kw, tkw = {"attn_mask": m}, {"attn_mask": torch.tensor(m)}
    elif case == "causal":
        kw = tkw = {"is_causal": True}
    elif case == "scale":
        kw = tkw = {"scale": 0.37}
    elif case == "gqa":
        kw = tkw = {"enable_gqa": True}
    t_in = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    f_in = [fg.Tensor(x.copy(), requires_grad=True) for x in (q, k, v)]
    t_out = torch.nn.functional.scaled_dot_product_attention(*t_in, **tkw)
    f_out = F.scaled_dot_product_attention(*f_in, **kw)
    _close(f_out, t_out, "output")
    ct = rng.standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(ct))
    f_out.backward(fg.Tensor(ct))
    for name, a, b in zip("qkv", f_in, t_in):
        _close(a.grad, b.grad, f"grad of {name}")


# --------------------------------------------------------------------------- #
# MultiheadAttention
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("kw", [{}, {"kdim": 3, "vdim": 5}, {"bias": False},
                                {"add_bias_kv": True, "add_zero_attn": True}])
def test_mha_state_dict_keys_match_torch(kw):
    torch = _torch()
    f = nn.MultiheadAttention(8, 2, **kw)
    t = torch.nn.MultiheadAttention(8, 2, **kw)
    assert list(f.state_dict()) == list(t.state_dict())
    for name, p in f.state_dict().items():
        assert tuple(p.shape) == tuple(t.state_dict()[name].shape), name


def test_mha_initialisation():
    fg.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4)
    assert mha.in_proj_weight.dtype == np.float32
    bound = np.sqrt(6.0 / (16 + 48))  # xavier_uniform_ on (3E, E)
    w = mha.in_proj_weight._data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert not np.any(mha.in_proj_bias._data) and not np.any(mha.out_proj.bias._data)
    assert mha.q_proj_weight is None and mha.bias_k is None
    sep = nn.MultiheadAttention(16, 4, kdim=6, vdim=7, add_bias_kv=True)
    assert sep.in_proj_weight is None and sep.k_proj_weight.shape == (16, 6)
    assert np.any(sep.bias_k._data) and sep.bias_k.shape == (1, 1, 16)
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)


def test_mha_shapes_for_all_options(rng):
    L, S, N, E, H = 4, 6, 3, 8, 2
    mha = nn.MultiheadAttention(E, H)
    q, kv = fg.randn(L, N, E), fg.randn(S, N, E)
    out, w = mha(q, kv, kv)
    assert out.shape == (L, N, E) and w.shape == (N, L, S)
    out, w = mha(q, kv, kv, average_attn_weights=False)
    assert w.shape == (N, H, L, S)
    out, w = mha(q, kv, kv, need_weights=False)
    assert out.shape == (L, N, E) and w is None
    out, w = mha(q[:, 0], kv[:, 0], kv[:, 0])  # unbatched
    assert out.shape == (L, E) and w.shape == (L, S)
    out, w = mha(q[:, 0], kv[:, 0], kv[:, 0], average_attn_weights=False)
    assert w.shape == (H, L, S)
    bf = nn.MultiheadAttention(E, H, batch_first=True, kdim=3, vdim=5)
    out, w = bf(fg.randn(N, L, E), fg.randn(N, S, 3), fg.randn(N, S, 5))
    assert out.shape == (N, L, E) and w.shape == (N, L, S)
    kpm = np.zeros((N, S), bool)
    kpm[:, -2:] = True
    _, w = mha(q, kv, kv, key_padding_mask=kpm)
    assert np.all(w._data[..., -2:] == 0)
    np.testing.assert_allclose(w._data.sum(-1), 1.0, rtol=1e-5)


def test_mha_errors(rng):
    mha = nn.MultiheadAttention(8, 2)
    x = fg.randn(4, 2, 8)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match="2D attn_mask"):
        mha(x, x, x, attn_mask=np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="embedding dimension"):
        mha(fg.randn(4, 2, 6), x, x)
    with pytest.raises(ValueError, match="3-D"):
        mha(x, x[:, 0], x[:, 0])


def test_mha_dropout_only_in_training():
    fg.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = fg.randn(5, 2, 8)
    a, b = mha(x, x, x)[0], mha(x, x, x)[0]
    assert not np.allclose(a._data, b._data)
    mha.eval()
    np.testing.assert_array_equal(mha(x, x, x)[0]._data, mha(x, x, x)[0]._data)


def test_mha_functional_gradients_match_finite_differences(rng):
    E, H, L, S, N = 4, 2, 3, 2, 2
    q = rng.standard_normal((L, N, E))
    kv = rng.standard_normal((S, N, E))
    w_in, b_in = rng.standard_normal((3 * E, E)) * 0.5, rng.standard_normal(3 * E)
    w_out, b_out = rng.standard_normal((E, E)) * 0.5, rng.standard_normal(E)
    kpm = np.array([[False, True], [False, False]])

    def f(q, kv, w_in, b_in, w_out, b_out):
        out, w = F.multi_head_attention_forward(q, kv, kv, E, H, w_in, b_in, None, None, False,
                                                0.0, w_out, b_out, key_padding_mask=kpm)
        return out, w
    check_grads(f, (q, kv, w_in, b_in, w_out, b_out), order=2)


def test_mha_under_grad_matches_backward(rng):
    mha = nn.MultiheadAttention(8, 2, batch_first=True).double()
    x = rng.standard_normal((2, 5, 8))

    def loss(m, x):
        return fnp.sum(m(x, x, x, need_weights=False)[0] ** 2)
    g = fg.grad(loss)(mha, x)
    (mha(fg.tensor(x), fg.tensor(x), fg.tensor(x))[0] ** 2).sum().backward()
    for (name, p), gp in zip(mha.named_parameters(), fg.tree_util.tree_leaves(g)):
        np.testing.assert_allclose(gp, p.grad._data, rtol=1e-10, err_msg=name)
    per = fg.vmap(lambda xi: mha(xi, xi, xi)[0])(x)  # unbatched per example
    np.testing.assert_allclose(_np(per), mha(fg.tensor(x), fg.tensor(x), fg.tensor(x))[0]._data,
                               rtol=1e-10)


MHA_CASES = [
    # id, constructor kwargs, masks (key_padding, attn), need_weights, average, self-attention
    ("default", {}, "kpm", True, True, False),
    ("batch_first", {"batch_first": True}, "both", True, True, False),
    ("batch_first_self", {"batch_first": True}, "attn", True, False, True),
    ("no_weights", {}, "both", False, True, False),
    ("kdim_vdim", {"kdim": 3, "vdim": 5}, "kpm", True, True, False),
    ("kdim_vdim_bf", {"kdim": 3, "vdim": 5, "batch_first": True}, "attn3d", False, True,
     False),
    ("bias_kv_zero_attn", {"add_bias_kv": True, "add_zero_attn": True}, "both", True, False,
     False),
    ("no_bias", {"bias": False}, "float", True, True, True),
]


@pytest.mark.parametrize("case", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_mha_parity_with_torch(rng, case):
    torch = _torch()
    _, kw, masks, need, average, self_attn = case
    E, H, L, S, N = 8, 2, 4, 5, 3
    bf = kw.get("batch_first", False)
    kdim, vdim = kw.get("kdim", E), kw.get("vdim", E)

    def seq(n, d):
        return rng.standard_normal((N, n, d) if bf else (n, N, d))
    q = seq(L, E)
    k, v = (q, q) if self_attn else (seq(S, kdim), seq(S, vdim))
    S_ = L if self_attn else S
    kpm = rng.random((N, S_)) < 0.3
    kpm[:, 0] = False
    am = rng.random((L, S_)) < 0.3
    am[:, 1] = False
    mk = {}
    if masks in ("kpm", "both"):
        mk["key_padding_mask"] = kpm
    if masks in ("attn", "both"):
        mk["attn_mask"] = am
    if masks == "attn3d":
        mk["attn_mask"] = rng.standard_normal((N * H, L, S_))
    if masks == "float":
        mk["key_padding_mask"] = np.where(kpm, -np.inf, 0.0)
        mk["attn_mask"] = rng.standard_normal((L, S_))

    def call(mod, *xs):
        lib = torch if isinstance(mod, torch.nn.Module) else None
        wrap = (lambda m: torch.tensor(m)) if lib else (lambda m: m)
        if self_attn:
            xs = (xs[0], xs[0], xs[0])
        return mod(*xs, need_weights=need, average_attn_weights=average,
                   **{n: wrap(m) for n, m in mk.items()})
    inputs = [q] if self_attn else [q, k, v]
    _parity(lambda lib: lib.MultiheadAttention(E, H, **kw), inputs, call, rng)


def test_mha_unbatched_parity_with_torch(rng):
    torch = _torch()
    x = rng.standard_normal((4, 8))
    kpm = np.array([False, False, True, False])
    _parity(lambda lib: lib.MultiheadAttention(8, 2),
            [x], lambda m, x: m(x, x, x, key_padding_mask=(
                torch.tensor(kpm) if isinstance(m, torch.nn.Module) else kpm)), rng)


# --------------------------------------------------------------------------- #
# Transformer layers
# --------------------------------------------------------------------------- #
def test_transformer_layer_shapes():
    enc = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    assert enc(fg.randn(3, 5, 8)).shape == (3, 5, 8)
    assert enc(fg.randn(5, 8)).shape == (5, 8)  # unbatched
    dec = nn.TransformerDecoderLayer(8, 2, 16, norm_first=True)
    assert dec(fg.randn(4, 3, 8), fg.randn(6, 3, 8)).shape == (4, 3, 8)
    stack = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 3, nn.LayerNorm(8))
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    assert stack(fg.randn(5, 2, 8), mask=mask).shape == (5, 2, 8)
    model = nn.Transformer(8, 2, 1, 2, 16, batch_first=True)
    assert model(fg.randn(2, 6, 8), fg.randn(2, 4, 8)).shape == (2, 4, 8)
    with pytest.raises(RuntimeError, match="batch number"):
        model(fg.randn(2, 6, 8), fg.randn(3, 4, 8))
    with pytest.raises(RuntimeError, match="d_model"):
        model(fg.randn(2, 6, 8), fg.randn(2, 4, 6))
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_transformer_encoder_deep_copies_the_layer():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    enc = nn.TransformerEncoder(layer, 2)
    names = [n for n, _ in enc.named_parameters()]
    assert names[0] == "layers.0.self_attn.in_proj_weight" and "layers.1.norm2.bias" in names
    a, b = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert a is not b and a is not layer.linear1.weight
    np.testing.assert_array_equal(a._data, b._data)  # copies start equal, as in PyTorch


def test_generate_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(3)
    assert m.dtype == np.float32
    np.testing.assert_array_equal(m._data, [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=fg.float64).dtype == \
        np.float64


def test_transformer_dropout_train_vs_eval():
    fg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3)
    x = fg.randn(4, 2, 8)
    assert not np.allclose(layer(x)._data, layer(x)._data)
    layer.eval()
    np.testing.assert_array_equal(layer(x)._data, layer(x)._data)


def test_encoder_layer_gradients_match_finite_differences(rng):
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu",
                                       norm_first=True).double()
    params = {k: v._data for k, v in layer.named_parameters()}
    x = rng.standard_normal((3, 2, 4))
    mask = np.triu(np.full((3, 3), -np.inf), 1)
    check_grads(lambda p, x: nn.functional_call(layer, p, (x,), {"src_mask": mask}),
                (params, x), order=1)


def test_transformer_keys_match_torch():
    torch = _torch()
    f = nn.Transformer(8, 2, 2, 1, 16)
    t = torch.nn.Transformer(8, 2, 2, 1, 16)
    assert list(f.state_dict()) == list(t.state_dict())
    # xavier_uniform_ on every matrix, as PyTorch's _reset_parameters
    w = f.encoder.layers[0].linear1.weight._data
    assert np.abs(w).max() <= np.sqrt(6.0 / (8 + 16))


def _mask_kw(torch, mod, **masks):
    if isinstance(mod, torch.nn.Module):
        return {k: torch.tensor(v) for k, v in masks.items()}
    return masks


ENCODER_CASES = [
    ("post_relu", {}),
    ("pre_gelu", {"norm_first": True, "activation": "gelu"}),
    ("batch_first_nobias", {"batch_first": True, "bias": False}),
    ("callable_activation", {"activation": "module_gelu"}),
]


@pytest.mark.parametrize("case", ENCODER_CASES, ids=[c[0] for c in ENCODER_CASES])
def test_encoder_layer_parity_with_torch(rng, case):
    torch = _torch()
    _, kw = case
    bf = kw.get("batch_first", False)
    x = rng.standard_normal((3, 5, 8) if bf else (5, 3, 8))
    kpm = np.zeros((3, 5), bool)
    kpm[0, 3:] = True
    causal = np.triu(np.ones((5, 5), bool), 1)

    def make(lib):
        k = dict(kw)
        if k.get("activation") == "module_gelu":
            k["activation"] = lib.GELU(approximate="tanh")
        return lib.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **k)
    _parity(make, [x], lambda m, x: m(x, **_mask_kw(torch, m, src_mask=causal,
                                                      src_key_padding_mask=kpm)), rng)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_parity_with_torch(rng, norm_first):
    torch = _torch()
    tgt, mem = rng.standard_normal((4, 2, 8)), rng.standard_normal((6, 2, 8))
    causal = np.triu(np.full((4, 4), -np.inf), 1)
    mkpm = np.zeros((2, 6), bool)
    mkpm[1, 4:] = True
    _parity(lambda lib: lib.TransformerDecoderLayer(8, 2, 16, dropout=0.0,
                                                    norm_first=norm_first),
            [tgt, mem], lambda m, t, s: m(t, s, **_mask_kw(
                torch, m, tgt_mask=causal, memory_key_padding_mask=mkpm)), rng)


def test_encoder_and_decoder_stacks_parity_with_torch(rng):
    torch = _torch()
    x = rng.standard_normal((5, 2, 8))
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3:] = True
    causal = np.triu(np.full((5, 5), -np.inf), 1)
    _parity(lambda lib: lib.TransformerEncoder(
        lib.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2, lib.LayerNorm(8),
        enable_nested_tensor=False),
        [x], lambda m, x: m(x, **_mask_kw(torch, m, mask=causal, src_key_padding_mask=kpm)),
        rng)
    mem = rng.standard_normal((3, 2, 8))
    _parity(lambda lib: lib.TransformerDecoder(
        lib.TransformerDecoderLayer(8, 2, 16, dropout=0.0), 2, lib.LayerNorm(8)),
        [x, mem], lambda m, t, s: m(t, s, **_mask_kw(torch, m, tgt_mask=causal)), rng)


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_parity_with_torch_in_eval_mode(rng, batch_first):
    torch = _torch()
    n, s, t = 2, 5, 4
    src = rng.standard_normal((n, s, 8) if batch_first else (s, n, 8))
    tgt = rng.standard_normal((n, t, 8) if batch_first else (t, n, 8))
    tgt_mask = np.triu(np.full((t, t), -np.inf), 1)
    src_kpm = np.zeros((n, s), bool)
    src_kpm[0, -1] = True

    def call(m, src, tgt):
        return m(src, tgt, **_mask_kw(torch, m, tgt_mask=tgt_mask, src_key_padding_mask=src_kpm,
                                      memory_key_padding_mask=src_kpm))
    _parity(lambda lib: lib.Transformer(8, 2, 2, 2, 16, dropout=0.0, batch_first=batch_first),
            [src, tgt], call, rng, train=False)


# Every test here also runs with each available backend as the default device.
pytestmark = [*(pytestmark if isinstance(pytestmark, list) else [pytestmark]),
              pytest.mark.usefixtures("on_backend")]
