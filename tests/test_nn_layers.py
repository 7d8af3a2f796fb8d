"""nn layers: output shapes for every layer and option, parameters and default init,
train/eval behaviour, nn.init, and error messages (no PyTorch needed)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.nn as nn

pytestmark = [*globals().get("pytestmark", []), pytest.mark.usefixtures("on_backend")]  # every backend


def _x(*shape, seed=0):
    return fg.Tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


# (id, layer, input shape, expected output shape)
SHAPES = [
    ("linear", lambda: nn.Linear(3, 4), (2, 3), (2, 4)),
    ("linear_3d", lambda: nn.Linear(3, 4, bias=False), (2, 5, 3), (2, 5, 4)),
    ("identity", lambda: nn.Identity(), (2, 3), (2, 3)),
    ("conv1d", lambda: nn.Conv1d(2, 4, 3), (2, 2, 7), (2, 4, 5)),
    ("conv1d_stride_pad_dil", lambda: nn.Conv1d(2, 4, 3, 2, 1, 2), (2, 2, 9), (2, 4, 4)),
    ("conv1d_same", lambda: nn.Conv1d(2, 3, 4, padding="same"), (2, 2, 7), (2, 3, 7)),
    ("conv1d_valid", lambda: nn.Conv1d(2, 3, 3, padding="valid"), (2, 2, 7), (2, 3, 5)),
    ("conv1d_circular", lambda: nn.Conv1d(2, 3, 3, padding=1, padding_mode="circular"),
     (1, 2, 5), (1, 3, 5)),
    ("conv2d", lambda: nn.Conv2d(3, 8, 3, padding=1), (2, 3, 6, 5), (2, 8, 6, 5)),
    ("conv2d_stride", lambda: nn.Conv2d(3, 8, (3, 1), stride=(2, 1)), (1, 3, 7, 5),
     (1, 8, 3, 5)),
    ("conv2d_groups", lambda: nn.Conv2d(4, 8, 3, groups=4), (1, 4, 5, 5), (1, 8, 3, 3)),
    ("conv2d_dilation", lambda: nn.Conv2d(1, 1, 3, dilation=2), (1, 1, 7, 7), (1, 1, 3, 3)),
    ("conv2d_reflect", lambda: nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"),
     (1, 1, 4, 4), (1, 2, 4, 4)),
    ("conv2d_unbatched", lambda: nn.Conv2d(3, 2, 3), (3, 5, 5), (2, 3, 3)),
    ("conv3d", lambda: nn.Conv3d(1, 2, 3, padding=1), (1, 1, 4, 4, 4), (1, 2, 4, 4, 4)),
    ("convT1d", lambda: nn.ConvTranspose1d(2, 3, 3, stride=2, output_padding=1),
     (1, 2, 4), (1, 3, 10)),
    ("convT2d", lambda: nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1), (1, 4, 5, 5),
     (1, 2, 10, 10)),
    ("maxpool1d", lambda: nn.MaxPool1d(2), (2, 3, 7), (2, 3, 3)),
    ("maxpool1d_ceil", lambda: nn.MaxPool1d(2, ceil_mode=True), (2, 3, 7), (2, 3, 4)),
    ("maxpool2d", lambda: nn.MaxPool2d(2), (2, 3, 8, 8), (2, 3, 4, 4)),
    ("maxpool2d_pad", lambda: nn.MaxPool2d(3, 2, 1), (1, 1, 7, 7), (1, 1, 4, 4)),
    ("avgpool1d", lambda: nn.AvgPool1d(3, 1, 1), (2, 3, 7), (2, 3, 7)),
    ("avgpool2d", lambda: nn.AvgPool2d(2, ceil_mode=True), (1, 2, 5, 5), (1, 2, 3, 3)),
    ("adaptive_avg1d", lambda: nn.AdaptiveAvgPool1d(4), (2, 3, 10), (2, 3, 4)),
    ("adaptive_avg2d", lambda: nn.AdaptiveAvgPool2d((1, 1)), (2, 3, 5, 7), (2, 3, 1, 1)),
    ("adaptive_avg2d_int", lambda: nn.AdaptiveAvgPool2d(3), (2, 3, 5, 7), (2, 3, 3, 3)),
    ("adaptive_max2d", lambda: nn.AdaptiveMaxPool2d((2, 4)), (2, 3, 5, 7), (2, 3, 2, 4)),
    ("flatten", lambda: nn.Flatten(), (2, 3, 4, 5), (2, 60)),
    ("flatten_range", lambda: nn.Flatten(1, 2), (2, 3, 4, 5), (2, 12, 5)),
    ("unflatten", lambda: nn.Unflatten(1, (3, 4)), (2, 12), (2, 3, 4)),
    ("dropout", lambda: nn.Dropout(), (4, 5), (4, 5)),
    ("dropout1d", lambda: nn.Dropout1d(), (4, 5, 3), (4, 5, 3)),
    ("dropout2d", lambda: nn.Dropout2d(0.2), (2, 4, 3, 3), (2, 4, 3, 3)),
    ("alpha_dropout", lambda: nn.AlphaDropout(0.1), (4, 5), (4, 5)),
    ("layernorm", lambda: nn.LayerNorm([3, 4]), (2, 3, 4), (2, 3, 4)),
    ("rmsnorm", lambda: nn.RMSNorm(4), (2, 4), (2, 4)),
    ("batchnorm1d", lambda: nn.BatchNorm1d(3), (4, 3), (4, 3)),
    ("batchnorm2d", lambda: nn.BatchNorm2d(3), (4, 3, 2, 2), (4, 3, 2, 2)),
    ("groupnorm", lambda: nn.GroupNorm(3, 6), (2, 6, 4), (2, 6, 4)),
    ("instancenorm2d", lambda: nn.InstanceNorm2d(3), (2, 3, 4, 4), (2, 3, 4, 4)),
    ("zeropad2d", lambda: nn.ZeroPad2d(1), (1, 2, 3, 3), (1, 2, 5, 5)),
    ("upsample", lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 3, 3),
     (1, 2, 6, 6)),
    ("softmax", lambda: nn.Softmax(dim=-1), (2, 5), (2, 5)),
    ("prelu", lambda: nn.PReLU(3), (2, 3, 4), (2, 3, 4)),
    ("glu", lambda: nn.GLU(), (2, 6), (2, 3)),
]


@pytest.mark.parametrize("make, in_shape, out_shape",
                         [pytest.param(m, i, o, id=n) for n, m, i, o in SHAPES])
def test_output_shapes_and_float32(make, in_shape, out_shape):
    layer = make()
    out = layer(_x(*in_shape))
    assert tuple(out.shape) == out_shape
    assert out.dtype == np.float32
    assert out.requires_grad == any(p.requires_grad for p in layer.parameters())


ACTIVATIONS = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "Sigmoid", "Tanh",
               "SiLU", "Mish", "Softplus", "Hardtanh", "Hardswish", "Hardsigmoid",
               "LogSigmoid", "Softsign", "Tanhshrink", "Hardshrink", "Softshrink", "PReLU",
               "LogSoftmax", "Softmin"]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_keep_shape_and_backprop(name):
    layer = getattr(nn, name)()
    x = fg.Tensor(np.linspace(-3, 3, 24).reshape(2, 3, 4).astype(np.float32) + 0.01,
                  requires_grad=True)
    out = layer(x)
    assert tuple(out.shape) == (2, 3, 4) and out.dtype == np.float32
    out.sum().backward()
    assert x.grad is not None and np.all(np.isfinite(x.grad._data))


def test_parameter_names_and_shapes_follow_pytorch():
    cases = [
        (nn.Linear(3, 4), {"weight": (4, 3), "bias": (4,)}),
        (nn.Bilinear(3, 2, 4), {"weight": (4, 3, 2), "bias": (4,)}),
        (nn.Conv2d(4, 6, (3, 2), groups=2), {"weight": (6, 2, 3, 2), "bias": (6,)}),
        (nn.ConvTranspose2d(4, 6, 3, groups=2, bias=False), {"weight": (4, 3, 3, 3)}),
        (nn.Embedding(7, 2), {"weight": (7, 2)}),
        (nn.LayerNorm((2, 3)), {"weight": (2, 3), "bias": (2, 3)}),
        (nn.GroupNorm(2, 4), {"weight": (4,), "bias": (4,)}),
        (nn.PReLU(), {"weight": (1,)}),
    ]
    for layer, want in cases:
        assert {n: tuple(p.shape) for n, p in layer.named_parameters()} == want
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert bn.num_batches_tracked.dtype == np.int64
    assert list(nn.BatchNorm1d(3, affine=False, track_running_stats=False).state_dict()) == []
    assert list(nn.InstanceNorm2d(3).state_dict()) == []


def test_default_init_bounds():
    fg.manual_seed(0)
    lin = nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)
    w, b = lin.weight._data, lin.bias._data
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound
    conv = nn.Conv2d(4, 8, 3, groups=2)
    fan_in = 2 * 9
    assert np.abs(conv.weight._data).max() <= 1 / math.sqrt(fan_in)
    convt = nn.ConvTranspose2d(4, 6, 3)  # fan_in from weight.size(1) * k*k, as PyTorch
    assert np.abs(convt.bias._data).max() <= 1 / math.sqrt(6 * 9)
    emb = nn.Embedding(1000, 8, padding_idx=3)
    assert abs(emb.weight._data.std() - 1) < 0.05 and not np.any(emb.weight._data[3])
    assert nn.Linear(2, 2, dtype=fg.float64).weight.dtype == np.float64


def test_init_is_reproducible_with_manual_seed():
    fg.manual_seed(42)
    a = nn.Conv2d(2, 3, 3).weight._data.copy()
    fg.manual_seed(42)
    b = nn.Conv2d(2, 3, 3).weight._data
    np.testing.assert_array_equal(a, b)


def test_linear_shape_error_message():
    with pytest.raises(ValueError) as err:
        nn.Linear(784, 128)(fg.Tensor(np.zeros((64, 28, 28), np.float32)))
    assert str(err.value) == ("Linear(in_features=784, out_features=128): expected input with "
                              "last dimension 784, got shape (64, 28, 28)")


def test_constructor_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="not supported for strided"):
        nn.Conv1d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="dropout probability"):
        nn.Dropout(1.2)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(_x(2, 3))


def test_convtranspose_output_size():
    m = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
    x = _x(1, 2, 4, 4)
    assert tuple(m(x).shape) == (1, 2, 7, 7)
    assert tuple(m(x, output_size=(8, 8)).shape) == (1, 2, 8, 8)
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        m(x, output_size=(9, 9))


def test_maxpool_return_indices_and_adaptive_max_indices():
    x = fg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    out, idx = nn.MaxPool2d(2, return_indices=True)(x)
    np.testing.assert_array_equal(idx._data[0, 0], [[5, 7], [13, 15]])
    out, idx = nn.AdaptiveMaxPool2d(2, return_indices=True)(x)
    np.testing.assert_array_equal(idx._data[0, 0], [[5, 7], [13, 15]])
    assert idx.dtype == np.int64


def test_batchnorm_train_eval_and_cumulative_momentum():
    bn = nn.BatchNorm1d(2, momentum=None).double()
    xs = [np.random.default_rng(i).standard_normal((8, 2)) for i in range(3)]
    for x in xs:
        out = bn(fg.Tensor(x))
        np.testing.assert_allclose(out._data.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean._data, np.mean([x.mean(0) for x in xs], 0))
    np.testing.assert_allclose(bn.running_var._data,
                               np.mean([x.var(0, ddof=1) for x in xs], 0))
    assert int(bn.num_batches_tracked._data) == 3
    bn.eval()
    x = xs[0]
    expect = (x - bn.running_mean._data) / np.sqrt(bn.running_var._data + bn.eps)
    np.testing.assert_allclose(bn(fg.Tensor(x))._data, expect, rtol=1e-12)
    assert int(bn.num_batches_tracked._data) == 3
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked._data) == 0 and np.all(bn.running_var._data == 1)


def test_dropout_modules_train_vs_eval():
    x = fg.Tensor(np.ones((50, 40), np.float32))
    d = nn.Dropout(0.5)
    out = d(x)._data
    assert set(np.unique(out)) <= {0.0, 2.0} and 0.4 < (out == 0).mean() < 0.6
    d.eval()
    np.testing.assert_array_equal(d(x)._data, x._data)
    d2 = nn.Dropout2d(0.5).eval()
    np.testing.assert_array_equal(d2(_x(2, 3, 4, 4))._data, _x(2, 3, 4, 4)._data)


def test_embedding_padding_idx_gradient_is_zero():
    emb = nn.Embedding(5, 3, padding_idx=0)
    out = emb(fg.Tensor(np.array([[0, 1, 0], [2, 0, 4]])))
    (out * out).sum().backward()
    assert not np.any(emb.weight.grad._data[0])
    assert np.any(emb.weight.grad._data[1]) and not np.any(emb.weight.grad._data[3])


def test_embedding_max_norm_renormalises_rows_in_place():
    emb = nn.Embedding(4, 3, max_norm=1.0)
    with fg.no_grad():
        emb.weight._assign(np.full((4, 3), 2.0, np.float32))
    emb(fg.Tensor(np.array([1, 2])))
    norms = np.linalg.norm(emb.weight._data, axis=1)
    assert norms[1] <= 1.0 + 1e-5 and norms[2] <= 1.0 + 1e-5 and norms[0] > 3


# --------------------------------------------------------------------------- #
# nn.init
# --------------------------------------------------------------------------- #
def test_init_functions():
    init = nn.init
    w = nn.Parameter(fg.Tensor(np.zeros((300, 200), np.float32)))
    fg.manual_seed(0)
    init.uniform_(w, -0.5, 0.5)
    assert w._data.min() >= -0.5 and w._data.max() <= 0.5
    init.normal_(w, 1.0, 0.1)
    assert abs(w._data.mean() - 1.0) < 0.01 and abs(w._data.std() - 0.1) < 0.01
    init.xavier_uniform_(w, gain=2.0)
    assert np.abs(w._data).max() <= 2.0 * math.sqrt(6 / 500)
    init.xavier_normal_(w)
    assert abs(w._data.std() - math.sqrt(2 / 500)) < 0.005
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w._data.std() - math.sqrt(2 / 300)) < 0.005
    init.kaiming_uniform_(w, a=0.1)
    bound = math.sqrt(2 / (1 + 0.01)) * math.sqrt(3 / 200)
    assert np.abs(w._data).max() <= bound * (1 + 1e-6)
    init.trunc_normal_(w, std=1.0, a=-1.5, b=0.5)
    assert w._data.min() >= -1.5 and w._data.max() <= 0.5
    init.constant_(w, 0.3)
    assert np.all(w._data == np.float32(0.3))
    init.zeros_(w)
    init.ones_(w)
    assert np.all(w._data == 1)
    q = nn.Parameter(fg.Tensor(np.zeros((3, 5))))
    init.orthogonal_(q)
    np.testing.assert_allclose(q._data @ q._data.T, np.eye(3), atol=1e-12)
    e = fg.Tensor(np.zeros((3, 4)))
    init.eye_(e)
    np.testing.assert_array_equal(e._data, np.eye(3, 4))
    c = fg.Tensor(np.zeros((2, 2, 3, 3)))
    init.dirac_(c)
    assert c._data[0, 0, 1, 1] == 1 and c._data[1, 1, 1, 1] == 1 and c._data.sum() == 2
    assert w.requires_grad and w.dtype == np.float32


def test_calculate_gain_and_fans():
    init = nn.init
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("conv2d") == 1
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    w = fg.Tensor(np.zeros((8, 4, 3, 3)))
    assert init._calculate_fan_in_and_fan_out(w) == (36, 72)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(fg.Tensor(np.zeros(3)))


def test_init_on_parameter_requiring_grad_keeps_it_a_leaf():
    p = nn.Parameter(fg.Tensor(np.zeros(3)))
    nn.init.normal_(p)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
