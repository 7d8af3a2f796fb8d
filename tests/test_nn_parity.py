"""Layer parity with PyTorch: same weights (copied through state_dict), float64 inputs.

Every case builds the layer with the same constructor call on ``torch.nn`` and
``funcgrad.nn``, checks that the state_dict keys and the parameter names agree,
loads torch's state_dict into the funcgrad layer, runs both forward on the same
float64 input and backward with the same output cotangent, and compares the
outputs, the input gradients, the parameter gradients and the buffers (running
statistics) to 1e-6 relative.
"""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.nn as fnn


torch = pytest.importorskip("torch", reason="parity tests need PyTorch (pip install torch==2.13.0)")
tnn = torch.nn

RTOL, ATOL = 1e-6, 1e-10
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def _inputs(specs, rng):
    out = []
    for s in specs:
        if isinstance(s, np.ndarray):
            out.append(s)
        else:
            out.append(rng.standard_normal(s))
    return out


def _compare(a, b, what):
    a = np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    if a.dtype.kind in "iub":
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


def check_parity(make, specs, train=False, scale=1.0, rng=None, grad_inputs=True, steps=1,
                 call=None):
    """Build ``make(nn)`` in both libraries and compare forward, backward and buffers."""
    rng = np.random.default_rng(0) if rng is None else rng
    t_layer = make(tnn).double()
    f_layer = make(fnn).double()
    t_sd = t_layer.state_dict()
    assert list(f_layer.state_dict().keys()) == list(t_sd.keys())
    assert [n for n, _ in f_layer.named_parameters()] == \
        [n for n, _ in t_layer.named_parameters()]
    f_layer.load_state_dict({k: v.detach().numpy() for k, v in t_sd.items()})
    t_layer.train(train)
    f_layer.train(train)
    for step in range(steps):
        xs = [x * scale if x.dtype.kind == "f" else x for x in _inputs(specs, rng)]
        t_in = [torch.tensor(x, requires_grad=grad_inputs and x.dtype.kind == "f") for x in xs]
        f_in = [fg.Tensor(x.copy(), requires_grad=grad_inputs and x.dtype.kind == "f")
                for x in xs]
        t_out = call(t_layer, *t_in) if call else t_layer(*t_in)
        f_out = call(f_layer, *f_in) if call else f_layer(*f_in)
        t_outs = t_out if isinstance(t_out, tuple) else (t_out,)
        f_outs = f_out if isinstance(f_out, tuple) else (f_out,)
        assert len(t_outs) == len(f_outs)
        for i, (a, b) in enumerate(zip(f_outs, t_outs)):
            _compare(a._data, b, f"output {i} (step {step})")
        out_t, out_f = t_outs[0], f_outs[0]
        if out_t.requires_grad:
            ct = rng.standard_normal(tuple(out_t.shape))
            out_t.backward(torch.tensor(ct))
            out_f.backward(fg.Tensor(ct))
            for i, (a, b) in enumerate(zip(f_in, t_in)):
                if b.grad is not None:
                    _compare(a.grad._data, b.grad, f"input {i} grad")
            t_params = dict(t_layer.named_parameters())
            for name, p in f_layer.named_parameters():
                tp = t_params[name]
                if tp.grad is None:
                    assert p.grad is None or not np.any(p.grad._data), name
                else:
                    _compare(p.grad._data, tp.grad, f"grad of {name}")
            t_layer.zero_grad()
            f_layer.zero_grad()
        t_bufs = dict(t_layer.named_buffers())
        for name, b in f_layer.named_buffers():
            _compare(b._data, t_bufs[name], f"buffer {name} after step {step}")
    return f_layer, t_layer


# (id, constructor, input shapes, options)
LINEAR = [
    ("linear", lambda nn: nn.Linear(3, 4), [(2, 3)], {}),
    ("linear_nobias_3d", lambda nn: nn.Linear(3, 4, bias=False), [(2, 5, 3)], {}),
    ("linear_1d_input", lambda nn: nn.Linear(3, 2), [(3,)], {}),
    ("bilinear", lambda nn: nn.Bilinear(3, 2, 4), [(5, 3), (5, 2)], {}),
    ("bilinear_nobias", lambda nn: nn.Bilinear(3, 2, 4, bias=False), [(5, 3), (5, 2)], {}),
    ("identity", lambda nn: nn.Identity(7, foo=1), [(2, 3)], {}),
    ("flatten", lambda nn: nn.Flatten(), [(2, 3, 4)], {}),
    ("flatten_0_1", lambda nn: nn.Flatten(0, 1), [(2, 3, 4)], {}),
    ("unflatten", lambda nn: nn.Unflatten(1, (2, 3)), [(4, 6)], {}),
]

CONV = [
    ("conv1d", lambda nn: nn.Conv1d(2, 4, 3), [(2, 2, 7)], {}),
    ("conv1d_stride_pad_dil", lambda nn: nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=2),
     [(2, 2, 9)], {}),
    ("conv1d_groups_nobias", lambda nn: nn.Conv1d(4, 6, 3, groups=2, bias=False),
     [(1, 4, 6)], {}),
    ("conv1d_same_even", lambda nn: nn.Conv1d(2, 3, 4, padding="same"), [(2, 2, 7)], {}),
    ("conv1d_valid", lambda nn: nn.Conv1d(2, 3, 3, padding="valid"), [(2, 2, 7)], {}),
    ("conv1d_reflect", lambda nn: nn.Conv1d(2, 3, 3, padding=2, padding_mode="reflect"),
     [(1, 2, 6)], {}),
    ("conv1d_unbatched", lambda nn: nn.Conv1d(2, 3, 3), [(2, 6)], {}),
    ("conv2d", lambda nn: nn.Conv2d(2, 3, 3), [(2, 2, 5, 5)], {}),
    ("conv2d_asym", lambda nn: nn.Conv2d(2, 4, (2, 3), stride=(2, 1), padding=(1, 2),
                                         dilation=(1, 2)), [(1, 2, 6, 7)], {}),
    ("conv2d_groups", lambda nn: nn.Conv2d(4, 4, 3, padding=1, groups=4), [(1, 4, 5, 4)], {}),
    ("conv2d_same_dilated", lambda nn: nn.Conv2d(2, 3, 3, padding="same", dilation=2),
     [(1, 2, 6, 6)], {}),
    ("conv2d_replicate", lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="replicate"),
     [(1, 2, 5, 4)], {}),
    ("conv2d_circular", lambda nn: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="circular"),
     [(1, 2, 5, 4)], {}),
    ("conv2d_reflect_same", lambda nn: nn.Conv2d(2, 2, 4, padding="same",
                                                 padding_mode="reflect"), [(1, 2, 6, 5)], {}),
    ("conv2d_unbatched", lambda nn: nn.Conv2d(2, 3, 3, bias=False), [(2, 5, 5)], {}),
    ("conv3d", lambda nn: nn.Conv3d(2, 2, 2, stride=2, padding=1), [(1, 2, 3, 4, 3)], {}),
    ("convT1d", lambda nn: nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1),
     [(2, 2, 5)], {}),
    ("convT2d", lambda nn: nn.ConvTranspose2d(2, 3, 3), [(1, 2, 4, 4)], {}),
    ("convT2d_groups", lambda nn: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                     output_padding=1, groups=2),
     [(1, 4, 3, 3)], {}),
    ("convT2d_dilation_nobias", lambda nn: nn.ConvTranspose2d(2, 2, (2, 3), stride=(1, 2),
                                                              dilation=2, bias=False),
     [(1, 2, 3, 3)], {}),
    ("convT2d_output_size", lambda nn: nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1),
     [(1, 2, 3, 3)], {"call": lambda m, x: m(x, output_size=(6, 6))}),
]

POOL = [
    ("maxpool1d", lambda nn: nn.MaxPool1d(2), [(2, 3, 7)], {}),
    ("maxpool1d_ceil", lambda nn: nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True),
     [(2, 3, 8)], {}),
    ("maxpool2d", lambda nn: nn.MaxPool2d(2), [(2, 2, 4, 5)], {}),
    ("maxpool2d_ceil_pad", lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True), [(1, 2, 6, 7)], {}),
    ("maxpool2d_dilation", lambda nn: nn.MaxPool2d(2, stride=1, dilation=2), [(1, 2, 5, 5)], {}),
    ("maxpool2d_indices", lambda nn: nn.MaxPool2d(2, return_indices=True), [(1, 2, 4, 6)], {}),
    ("maxpool2d_unbatched", lambda nn: nn.MaxPool2d((2, 1)), [(2, 4, 3)], {}),
    ("maxpool3d", lambda nn: nn.MaxPool3d(2), [(1, 1, 4, 4, 2)], {}),
    ("avgpool1d", lambda nn: nn.AvgPool1d(3, 2, 1, count_include_pad=False), [(2, 2, 7)], {}),
    ("avgpool2d", lambda nn: nn.AvgPool2d(2), [(2, 2, 4, 4)], {}),
    ("avgpool2d_ceil_nopad", lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True,
                                                     count_include_pad=False),
     [(1, 2, 6, 5)], {}),
    ("avgpool2d_ceil_pad", lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True), [(1, 2, 6, 5)], {}),
    ("avgpool2d_divisor", lambda nn: nn.AvgPool2d(2, divisor_override=3), [(1, 2, 4, 4)], {}),
    ("avgpool3d", lambda nn: nn.AvgPool3d(2, stride=1), [(1, 1, 3, 3, 3)], {}),
    ("adaptive_avg1d", lambda nn: nn.AdaptiveAvgPool1d(3), [(2, 2, 7)], {}),
    ("adaptive_avg2d", lambda nn: nn.AdaptiveAvgPool2d((3, 2)), [(1, 2, 7, 5)], {}),
    ("adaptive_avg2d_1", lambda nn: nn.AdaptiveAvgPool2d(1), [(2, 3, 4, 4)], {}),
    ("adaptive_avg2d_none", lambda nn: nn.AdaptiveAvgPool2d((None, 2)), [(1, 2, 3, 6)], {}),
    ("adaptive_avg3d", lambda nn: nn.AdaptiveAvgPool3d((2, 1, 3)), [(1, 1, 3, 2, 5)], {}),
    ("adaptive_max1d", lambda nn: nn.AdaptiveMaxPool1d(3), [(2, 2, 7)], {}),
    ("adaptive_max2d", lambda nn: nn.AdaptiveMaxPool2d((3, 2)), [(1, 2, 7, 5)], {}),
    ("adaptive_max2d_idx", lambda nn: nn.AdaptiveMaxPool2d((2, 3), return_indices=True),
     [(2, 2, 5, 7)], {}),
    ("lppool2d", lambda nn: nn.LPPool2d(2, 2), [(1, 2, 4, 4)], {}),
]

ACTIVATIONS = [
    ("relu", lambda nn: nn.ReLU(), {}),
    ("relu6", lambda nn: nn.ReLU6(), {"scale": 4.0}),
    ("leaky_relu", lambda nn: nn.LeakyReLU(0.2), {}),
    ("elu", lambda nn: nn.ELU(0.5), {}),
    ("selu", lambda nn: nn.SELU(), {}),
    ("celu", lambda nn: nn.CELU(1.5), {}),
    ("gelu", lambda nn: nn.GELU(), {"scale": 2.0}),
    ("gelu_tanh", lambda nn: nn.GELU(approximate="tanh"), {"scale": 2.0}),
    ("sigmoid", lambda nn: nn.Sigmoid(), {}),
    ("tanh", lambda nn: nn.Tanh(), {}),
    ("silu", lambda nn: nn.SiLU(), {}),
    ("mish", lambda nn: nn.Mish(), {}),
    ("softplus", lambda nn: nn.Softplus(), {}),
    ("softplus_beta_threshold", lambda nn: nn.Softplus(beta=2.0, threshold=5.0),
     {"scale": 3.0}),
    ("hardtanh", lambda nn: nn.Hardtanh(-0.5, 0.7), {}),
    ("hardswish", lambda nn: nn.Hardswish(), {"scale": 3.0}),
    ("hardsigmoid", lambda nn: nn.Hardsigmoid(), {"scale": 3.0}),
    ("logsigmoid", lambda nn: nn.LogSigmoid(), {"scale": 5.0}),
    ("softsign", lambda nn: nn.Softsign(), {}),
    ("tanhshrink", lambda nn: nn.Tanhshrink(), {}),
    ("threshold", lambda nn: nn.Threshold(0.1, 20.0), {}),
    ("hardshrink", lambda nn: nn.Hardshrink(0.3), {}),
    ("softshrink", lambda nn: nn.Softshrink(0.3), {}),
    ("softmax", lambda nn: nn.Softmax(dim=1), {}),
    ("softmax_last", lambda nn: nn.Softmax(dim=-1), {"scale": 30.0}),
    ("log_softmax", lambda nn: nn.LogSoftmax(dim=1), {"scale": 30.0}),
    ("softmin", lambda nn: nn.Softmin(dim=0), {}),
    ("softmax2d", lambda nn: nn.Softmax2d(), {}),
    ("glu", lambda nn: nn.GLU(dim=-1), {}),
    ("prelu", lambda nn: nn.PReLU(), {}),
    ("prelu_channels", lambda nn: nn.PReLU(3, init=0.1), {}),
]

NORM = [
    ("layernorm", lambda nn: nn.LayerNorm(4), [(2, 3, 4)], {}),
    ("layernorm_2d", lambda nn: nn.LayerNorm((3, 4), eps=1e-3), [(2, 3, 4)], {}),
    ("layernorm_noaffine", lambda nn: nn.LayerNorm(4, elementwise_affine=False), [(5, 4)], {}),
    ("layernorm_nobias", lambda nn: nn.LayerNorm(4, bias=False), [(5, 4)], {}),
    ("rmsnorm", lambda nn: nn.RMSNorm(4), [(2, 3, 4)], {}),
    ("rmsnorm_eps", lambda nn: nn.RMSNorm((3, 4), eps=1e-3), [(2, 3, 4)], {}),
    ("batchnorm1d_train", lambda nn: nn.BatchNorm1d(3), [(4, 3)], {"train": True, "steps": 2}),
    ("batchnorm1d_3d", lambda nn: nn.BatchNorm1d(3, momentum=0.3), [(4, 3, 5)],
     {"train": True, "steps": 2}),
    ("batchnorm1d_eval", lambda nn: nn.BatchNorm1d(3), [(4, 3, 5)], {"train": False}),
    ("batchnorm2d_train", lambda nn: nn.BatchNorm2d(3), [(2, 3, 2, 3)],
     {"train": True, "steps": 2}),
    ("batchnorm2d_cumulative", lambda nn: nn.BatchNorm2d(2, momentum=None), [(2, 2, 3, 3)],
     {"train": True, "steps": 3}),
    ("batchnorm2d_noaffine", lambda nn: nn.BatchNorm2d(2, affine=False, eps=1e-3),
     [(3, 2, 2, 2)], {"train": True}),
    ("batchnorm2d_notrack", lambda nn: nn.BatchNorm2d(2, track_running_stats=False),
     [(3, 2, 2, 2)], {"train": True}),
    ("batchnorm2d_notrack_eval", lambda nn: nn.BatchNorm2d(2, track_running_stats=False),
     [(3, 2, 2, 2)], {"train": False}),
    ("batchnorm3d", lambda nn: nn.BatchNorm3d(2), [(2, 2, 2, 2, 2)], {"train": True}),
    ("groupnorm", lambda nn: nn.GroupNorm(2, 4), [(2, 4, 3)], {}),
    ("groupnorm_noaffine", lambda nn: nn.GroupNorm(1, 4, affine=False), [(2, 4, 2, 2)], {}),
    ("groupnorm_nobias", lambda nn: nn.GroupNorm(2, 4, bias=False), [(2, 4, 3)], {}),
    ("batchnorm1d_nobias", lambda nn: nn.BatchNorm1d(3, bias=False), [(4, 3)], {"train": True}),
    ("instancenorm1d", lambda nn: nn.InstanceNorm1d(3), [(2, 3, 5)], {"train": True}),
    ("instancenorm2d", lambda nn: nn.InstanceNorm2d(3), [(2, 3, 3, 4)], {"train": True}),
    ("instancenorm2d_affine_track", lambda nn: nn.InstanceNorm2d(3, affine=True,
                                                                  track_running_stats=True),
     [(2, 3, 3, 4)], {"train": True, "steps": 2}),
    ("instancenorm2d_track_eval", lambda nn: nn.InstanceNorm2d(3, track_running_stats=True),
     [(2, 3, 3, 4)], {"train": False}),
    ("instancenorm2d_unbatched", lambda nn: nn.InstanceNorm2d(3), [(3, 3, 4)], {"train": True}),
    ("local_response_norm", lambda nn: nn.LocalResponseNorm(3), [(2, 5, 3)], {}),
]

PADDING = [
    ("zeropad2d", lambda nn: nn.ZeroPad2d((1, 2, 0, 1)), [(1, 2, 3, 3)], {}),
    ("constantpad1d", lambda nn: nn.ConstantPad1d(2, 3.5), [(1, 2, 3)], {}),
    ("constantpad2d_neg", lambda nn: nn.ConstantPad2d((-1, 2, 1, -1), 1.0), [(1, 2, 4, 4)], {}),
    ("reflectionpad1d", lambda nn: nn.ReflectionPad1d((2, 1)), [(1, 2, 4)], {}),
    ("reflectionpad2d", lambda nn: nn.ReflectionPad2d(2), [(1, 2, 3, 4)], {}),
    ("replicationpad1d", lambda nn: nn.ReplicationPad1d((3, 1)), [(1, 2, 3)], {}),
    ("replicationpad2d", lambda nn: nn.ReplicationPad2d((1, 0, 2, 3)), [(1, 1, 3, 3)], {}),
    ("circularpad2d", lambda nn: nn.CircularPad2d((1, 2, 2, 0)), [(1, 1, 3, 4)], {}),
    ("upsample_nearest", lambda nn: nn.Upsample(scale_factor=2), [(1, 2, 3, 2)], {}),
    ("upsample_nearest_size", lambda nn: nn.Upsample(size=(5, 3)), [(1, 2, 3, 2)], {}),
    ("upsample_bilinear", lambda nn: nn.Upsample(size=(5, 4), mode="bilinear"),
     [(1, 2, 3, 3)], {}),
    ("upsample_bilinear_ac", lambda nn: nn.Upsample(scale_factor=2, mode="bilinear",
                                                    align_corners=True), [(1, 2, 3, 3)], {}),
    ("upsample_linear", lambda nn: nn.Upsample(scale_factor=1.5, mode="linear"),
     [(1, 2, 4)], {}),
    ("zeropad3d", lambda nn: nn.ZeroPad3d((1, 0, 0, 1, 1, 1)), [(1, 1, 2, 2, 2)], {}),
    ("reflectionpad3d", lambda nn: nn.ReflectionPad3d(1), [(1, 1, 2, 3, 3)], {}),
    ("replicationpad3d", lambda nn: nn.ReplicationPad3d((0, 1, 2, 0, 1, 1)),
     [(1, 1, 2, 2, 2)], {}),
    ("circularpad3d", lambda nn: nn.CircularPad3d(1), [(1, 1, 2, 2, 3)], {}),
    ("upsampling_nearest2d", lambda nn: nn.UpsamplingNearest2d(scale_factor=3),
     [(1, 1, 2, 2)], {}),
    ("upsampling_bilinear2d", lambda nn: nn.UpsamplingBilinear2d(size=(4, 5)),
     [(1, 2, 3, 2)], {}),
    ("pixel_shuffle", lambda nn: nn.PixelShuffle(2), [(2, 8, 2, 3)], {}),
    ("pixel_unshuffle", lambda nn: nn.PixelUnshuffle(2), [(1, 2, 4, 6)], {}),
    ("channel_shuffle", lambda nn: nn.ChannelShuffle(3), [(2, 6, 2, 2)], {}),
    ("unfold", lambda nn: nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
     [(2, 3, 5, 6)], {}),
    ("unfold_unbatched", lambda nn: nn.Unfold(2), [(2, 3, 3)], {}),
    ("fold", lambda nn: nn.Fold((4, 5), (2, 2), padding=(0, 1), stride=(2, 1)),
     [(2, 3 * 4, 2 * 6)], {}),
    ("fold_dilation", lambda nn: nn.Fold(5, 2, dilation=2), [(1, 2 * 4, 9)], {}),
    ("cosine_similarity", lambda nn: nn.CosineSimilarity(dim=1), [(3, 4), (3, 4)], {}),
    ("pairwise_distance", lambda nn: nn.PairwiseDistance(p=3.0), [(3, 4), (3, 4)], {}),
]

CONTAINERS = [
    ("sequential_cnn", lambda nn: nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8, 3)), [(2, 1, 4, 4)], {"train": True}),
    ("sequential_mlp_eval", lambda nn: nn.Sequential(
        nn.Linear(4, 5), nn.LayerNorm(5), nn.GELU(), nn.Dropout(0.5), nn.Linear(5, 2)),
     [(3, 4)], {"train": False}),
]


def _cases(table):
    return [pytest.param(make, specs, opts, id=cid) for cid, make, specs, opts in table]


@pytest.mark.parametrize("make, specs, opts", _cases(LINEAR + CONV + POOL + NORM + PADDING
                                                     + CONTAINERS))
def test_layer_parity(make, specs, opts):
    check_parity(make, specs, **opts)


@pytest.mark.parametrize("make, opts", [pytest.param(m, o, id=i) for i, m, o in ACTIVATIONS])
def test_activation_parity(make, opts):
    check_parity(make, [(2, 3, 4, 2)], **opts)


def test_prelu_parity_1d_input_and_channel_errors():
    check_parity(lambda nn: nn.PReLU(3), [(2, 3)])
    check_parity(lambda nn: nn.PReLU(), [(3,)])
    with pytest.raises(RuntimeError, match="channel size = 1"):
        tnn.PReLU(3)(torch.ones(3))
    with pytest.raises(ValueError, match="weight has 3 entries but the input of shape"):
        fnn.PReLU(3)(fg.Tensor(np.ones(3)))


def test_embedding_parity():
    idx = np.array([[1, 3, 1], [0, 9, 3]])
    check_parity(lambda nn: nn.Embedding(10, 3), [idx])


def test_embedding_padding_idx_parity_grad_is_zero():
    idx = np.array([[1, 2, 1], [0, 1, 3]])
    f_layer, _ = check_parity(lambda nn: nn.Embedding(5, 3, padding_idx=1), [idx])
    out = f_layer(fg.Tensor(idx))
    fg.nn.functional.mse_loss(out, fg.Tensor(np.ones(out.shape))).backward()
    assert not np.any(f_layer.weight.grad._data[1])
    assert np.any(f_layer.weight.grad._data[2])


def test_embedding_scale_grad_by_freq_parity():
    idx = np.array([[1, 2, 1], [1, 4, 3]])
    check_parity(lambda nn: nn.Embedding(5, 3, scale_grad_by_freq=True), [idx])


def test_embedding_max_norm_renormalises_like_torch():
    idx = np.array([[1, 2], [2, 4]])

    def make(nn):
        return nn.Embedding(5, 3, max_norm=0.5)
    t_layer, f_layer = make(tnn).double(), make(fnn).double()
    f_layer.load_state_dict({k: v.detach().numpy() for k, v in t_layer.state_dict().items()})
    with torch.no_grad():
        t_out = t_layer(torch.tensor(idx))
    f_out = f_layer(fg.Tensor(idx))
    _compare(f_out._data, t_out, "output")
    _compare(f_layer.weight._data, t_layer.weight, "renormalised weight")


def test_embedding_from_pretrained_parity():
    w = np.random.default_rng(1).standard_normal((4, 2))
    t = tnn.Embedding.from_pretrained(torch.tensor(w))
    f = fnn.Embedding.from_pretrained(fg.Tensor(w))
    assert f.weight.requires_grad is False and t.weight.requires_grad is False
    idx = np.array([3, 0])
    _compare(f(fg.Tensor(idx))._data, t(torch.tensor(idx)), "from_pretrained")


def test_maxpool_indices_match_torch_exactly():
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 7))
    t_out, t_idx = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, ceil_mode=True,
                                                  return_indices=True)
    f_out, f_idx = fg.nn.functional.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(np.asarray(f_idx), t_idx.numpy())
    np.testing.assert_allclose(f_out, t_out.numpy())


@pytest.mark.parametrize("nd, shape", [(1, (2, 3, 8)), (2, (2, 2, 4, 6)), (3, (1, 2, 4, 4, 2))])
def test_max_unpool_parity(nd, shape):
    x = np.random.default_rng(nd).standard_normal(shape)
    pool = getattr(torch.nn.functional, f"max_pool{nd}d")
    t_out, t_idx = pool(torch.tensor(x), 2, return_indices=True)
    f_out, f_idx = getattr(fg.nn.functional, f"max_pool{nd}d_with_indices")(x, 2)
    np.testing.assert_array_equal(np.asarray(f_idx), t_idx.numpy())
    check_parity(lambda nn: getattr(nn, f"MaxUnpool{nd}d")(2), [t_out.numpy(), t_idx.numpy()])
    sizes = tuple(shape[-nd:])
    check_parity(lambda nn: getattr(nn, f"MaxUnpool{nd}d")(2), [t_out.numpy(), t_idx.numpy()],
                 call=lambda m, a, i: m(a, i, output_size=sizes))


def test_adaptive_max_with_indices_alias_matches_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 7))
    t_out, t_idx = torch.nn.functional.adaptive_max_pool1d(torch.tensor(x), 3, True)
    f_out, f_idx = fg.nn.functional.adaptive_max_pool1d_with_indices(x, 3)
    np.testing.assert_array_equal(np.asarray(f_idx), t_idx.numpy())
    np.testing.assert_allclose(np.asarray(f_out), t_out.numpy())


def test_gumbel_softmax_shapes_and_straight_through():
    fg.manual_seed(0)
    logits = fg.Tensor(np.random.default_rng(0).standard_normal((4, 5)), requires_grad=True)
    soft = fg.nn.functional.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft._data.sum(-1), 1.0)
    hard = fg.nn.functional.gumbel_softmax(logits, hard=True)
    assert set(np.unique(hard._data)) == {0.0, 1.0}
    np.testing.assert_array_equal(hard._data.sum(-1), 1.0)
    (hard * fg.Tensor(np.arange(5.0))).sum().backward()
    assert logits.grad is not None and np.any(logits.grad._data)


def test_state_dict_keys_match_torch_for_every_layer():
    tables = LINEAR + CONV + POOL + NORM + PADDING + CONTAINERS
    makers = [m for _, m, _, _ in tables] + [m for _, m, _ in ACTIVATIONS] + [
        lambda nn: nn.Embedding(4, 2), lambda nn: nn.Dropout(), lambda nn: nn.Dropout2d(),
        lambda nn: nn.AlphaDropout(), lambda nn: nn.CrossEntropyLoss(weight=torch.ones(3)
                                                                     if nn is tnn else
                                                                     fg.Tensor(np.ones(3, np.float32))),
        lambda nn: nn.BCEWithLogitsLoss(pos_weight=torch.ones(2) if nn is tnn else
                                        fg.Tensor(np.ones(2, np.float32))),
        lambda nn: nn.BatchNorm1d(3, bias=False), lambda nn: nn.GroupNorm(1, 2, bias=False),
        lambda nn: nn.InstanceNorm1d(2, affine=True, track_running_stats=True),
        lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.ModuleDict({"a": nn.Conv1d(1, 1, 1)})]),
        lambda nn: nn.ParameterList([nn.Parameter(torch.ones(2) if nn is tnn
                                                  else fg.Tensor(np.ones(2, np.float32)))]),
    ]
    for make in makers:
        t_sd, f_sd = make(tnn).state_dict(), make(fnn).state_dict()
        assert list(f_sd) == list(t_sd)
        for k in t_sd:
            assert tuple(f_sd[k].shape) == tuple(t_sd[k].shape), k
            assert np.dtype(str(t_sd[k].dtype).replace("torch.", "")) == f_sd[k].dtype, k


def test_reprs_match_torch():
    makers = [
        lambda nn: nn.Linear(3, 4, bias=False),
        lambda nn: nn.Conv2d(2, 3, (3, 2), stride=2, padding=1, groups=1, bias=False,
                             padding_mode="reflect"),
        lambda nn: nn.ConvTranspose1d(2, 4, 3, stride=2, output_padding=1, groups=2),
        lambda nn: nn.BatchNorm2d(3, momentum=None),
        lambda nn: nn.BatchNorm1d(3, affine=False, bias=False),
        lambda nn: nn.InstanceNorm2d(3),
        lambda nn: nn.GroupNorm(2, 4, bias=False),
        lambda nn: nn.LayerNorm((2, 3)),
        lambda nn: nn.GELU(approximate="tanh"),
        lambda nn: nn.MaxPool2d(2),
        lambda nn: nn.AvgPool2d(3, 2),
        lambda nn: nn.AdaptiveAvgPool2d((1, 1)),
        lambda nn: nn.Dropout(0.1),
        lambda nn: nn.Embedding(10, 3, padding_idx=0),
        lambda nn: nn.Softmax(dim=1),
        lambda nn: nn.LeakyReLU(0.2),
        lambda nn: nn.GroupNorm(2, 4),
        lambda nn: nn.Flatten(),
        lambda nn: nn.Sequential(nn.Linear(2, 3), nn.ReLU(),
                                 nn.Sequential(nn.Linear(3, 3), nn.Tanh())),
        lambda nn: nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()]),
        lambda nn: nn.ParameterList([nn.Parameter(torch.ones(2, 3) if nn is tnn else
                                                  fg.Tensor(np.ones((2, 3), np.float32)))]),
        lambda nn: nn.RMSNorm(3),
        lambda nn: nn.Conv1d(2, 2, 3, padding="same"),
    ]
    for make in makers:
        assert repr(make(fnn)) == repr(make(tnn))


# Every test here also runs with each available backend as the default device.
pytestmark = [*(pytestmark if isinstance(pytestmark, list) else [pytestmark]),
              pytest.mark.usefixtures("on_backend")]
