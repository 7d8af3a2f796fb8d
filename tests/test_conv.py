"""funcgrad.numpy.conv against PyTorch (values and gradients, float64), plus errors.

The generic properties of the primitives (finite differences, JVP/VJP
transposition, second order, vmap against a loop) run from tests/specs/conv.py;
here the question is whether the semantics are PyTorch's: output sizes,
padding, ceil_mode, count_include_pad, tie-breaking, return_indices.
"""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.numpy import conv as C

RTOL, ATOL = 1e-10, 1e-12


def _torch():
    return pytest.importorskip("torch", reason="PyTorch parity checks need torch")


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL)


def _vjp_both(f, args, ct):
    out, pullback = fg.vjp(f, *args)
    return out, pullback(ct)


def _torch_vjp(torch, f, args, ct):
    targs = [torch.tensor(a, requires_grad=True) for a in args]
    out = f(*targs)
    out.backward(torch.tensor(ct))
    return out.detach().numpy(), [t.grad.numpy() for t in targs]


# --------------------------------------------------------------------------- #
# Convolution
# --------------------------------------------------------------------------- #
CONV_CASES = [
    # (x shape, w shape, kwargs)
    ((2, 3, 9), (4, 3, 3), dict()),
    ((2, 4, 10), (6, 2, 3), dict(stride=2, padding=2, dilation=2, groups=2)),
    ((1, 2, 7), (4, 2, 4), dict(padding="same", dilation=2)),
    ((2, 3, 8, 7), (5, 3, 3, 3), dict(padding=1)),
    ((2, 4, 9, 8), (6, 2, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    ((1, 3, 6, 6), (6, 1, 3, 3), dict(padding=1, groups=3)),  # depthwise, multiplier 2
    ((2, 2, 7, 6), (3, 2, 2, 3), dict(padding="same")),
    ((2, 4, 3, 3), (8, 2, 3, 3), dict(groups=2)),  # C_out/groups > output pixels
    ((2, 4, 6, 6), (10, 2, 3, 3), dict(stride=2, groups=2)),  # the same, strided
    # Stride 1 lowerings: full flat columns (one input channel, like LeNet's
    # first layer), shifted rows, per-example and one-product weight gradients.
    ((2, 1, 9, 8), (6, 1, 5, 5), dict()),
    ((2, 6, 7, 6), (4, 6, 3, 3), dict(padding=1, dilation=(2, 1))),
    ((2, 2, 5, 6), (12, 2, 2, 2), dict()),
    ((2, 2, 4, 4, 5), (4, 1, 2, 3, 2), dict(padding=1, groups=2)),
    ((2, 2, 7, 6), (3, 2, 3, 3), dict(padding="valid", stride=3)),
    ((1, 2, 5, 6, 4), (2, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=(1, 0, 1))),
    ((2, 4, 5, 5, 5), (4, 2, 3, 3, 3), dict(dilation=2, padding=2, groups=2)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("xs,ws,kw", CONV_CASES)
def test_conv_matches_torch(xs, ws, kw):
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    tconv = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[len(xs)]
    want = tconv(torch.tensor(x), torch.tensor(w), **kw).numpy()
    ct = rng.standard_normal(want.shape)
    got, (gx, gw) = _vjp_both(lambda a, b: C.conv(a, b, **kw), (x, w), ct)
    _, (tx, tw) = _torch_vjp(torch, lambda a, b: tconv(a, b, **kw), (x, w), ct)
    _close(got, want)
    _close(gx, tx)
    _close(gw, tw)
    assert got.flags.c_contiguous


@pytest.mark.parametrize("xs,ws,kw", [c for c in CONV_CASES if len(c[0]) > 3][:6])
def test_conv_weight_gradient_without_per_example_sums(xs, ws, kw, monkeypatch):
    """Large weights take one product over (N, pixels) instead of N partial sums."""
    from funcgrad.prims import conv as P
    monkeypatch.setattr(P, "_per_example_fits", lambda *a: False)
    test_conv_matches_torch(xs, ws, kw)


CONV_T_CASES = [
    ((2, 3, 5), (3, 2, 3), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 4), (4, 3, 2), dict(stride=3, dilation=2, groups=2, output_padding=2)),
    ((2, 4, 4, 3), (4, 3, 3, 2), dict(stride=2, padding=(1, 0), output_padding=(1, 0))),
    ((1, 2, 3, 3), (2, 2, 3, 3), dict(stride=1, dilation=3, output_padding=2)),  # op < dilation
    ((2, 6, 3, 4), (6, 1, 3, 3), dict(stride=2, padding=1, groups=6)),
    ((1, 2, 3, 3, 2), (2, 2, 2, 2, 3), dict(stride=(2, 1, 2), padding=(0, 1, 1),
                                            output_padding=(1, 0, 0))),
]


@pytest.mark.parametrize("xs,ws,kw", CONV_T_CASES)
def test_conv_transpose_matches_torch(xs, ws, kw):
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    tconv = {3: F.conv_transpose1d, 4: F.conv_transpose2d, 5: F.conv_transpose3d}[len(xs)]
    want = tconv(torch.tensor(x), torch.tensor(w), **kw).numpy()
    ct = rng.standard_normal(want.shape)
    got, (gx, gw) = _vjp_both(lambda a, b: C.conv_transpose(a, b, **kw), (x, w), ct)
    _, (tx, tw) = _torch_vjp(torch, lambda a, b: tconv(a, b, **kw), (x, w), ct)
    _close(got, want)
    _close(gx, tx)
    _close(gw, tw)


def test_conv_transpose_is_the_adjoint_of_conv():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 3))
    kw = dict(stride=2, padding=1, dilation=(1, 2), groups=2)
    y = C.conv(x, w, **kw)
    u = rng.standard_normal(y.shape)
    # conv with stride 2 maps both 9 and 10 rows to the same output size;
    # output_padding picks 9 rows (and 8 columns) back.
    back = C.conv_transpose(u, w, output_padding=(0, 1), **kw)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(y, u), np.vdot(x, back), rtol=1e-12)


def test_conv_second_order_matches_torch():
    torch = _torch()
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2))
    kw = dict(stride=(2, 1), padding=1)

    def loss(w, x):
        return fnp.sum(fnp.tanh(C.conv(x, w, **kw)) ** 2)

    got = fg.grad(lambda x: fnp.sum(fg.grad(loss)(w, x) ** 2))(x)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tl = torch.sum(torch.tanh(torch.nn.functional.conv2d(tx, tw, **kw)) ** 2)
    (g,) = torch.autograd.grad(tl, tw, create_graph=True)
    torch.sum(g ** 2).backward()
    np.testing.assert_allclose(got, tx.grad.numpy(), rtol=1e-9)


def test_per_example_gradients_with_vmap():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 3, 7, 7))
    w = rng.standard_normal((4, 3, 3, 3))

    def loss(w, xi):
        h = C.conv(xi[None], w, padding=1, stride=2)
        return fnp.sum(C.max_pool(fnp.tanh(h), 2, ceil_mode=True) ** 2)

    got = fg.vmap(fg.grad(loss), in_axes=(None, 0))(w, x)
    want = np.stack([fg.grad(loss)(w, x[i]) for i in range(len(x))])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv_keeps_float32():
    x = np.ones((1, 2, 5, 5), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    y, pullback = fg.vjp(lambda x, w: C.conv(x, w, padding=1), x, w)
    gx, gw = pullback(np.ones(y.shape, np.float32))
    assert y.dtype == gx.dtype == gw.dtype == np.float32


def test_conv_output_shape():
    assert C.conv_output_shape((28, 28), (5, 5)) == (24, 24)
    assert C.conv_output_shape((28, 27), (5, 3), stride=2, padding=(2, 0),
                               dilation=(1, 2)) == (14, 12)


# --------------------------------------------------------------------------- #
# Pooling
# --------------------------------------------------------------------------- #
MAX_POOL_CASES = [
    ((2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 10), dict(kernel_size=2, dilation=3, ceil_mode=True)),
    ((2, 3, 7, 7), dict(kernel_size=2)),
    ((2, 3, 7, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 8, 9), dict(kernel_size=(3, 2), stride=(2, 1), dilation=(2, 1), padding=1)),
    ((3, 6, 5), dict(kernel_size=(2, 3), stride=1)),  # unbatched (C, H, W)
    ((2, 1, 5, 6, 5), dict(kernel_size=(2, 3, 2), stride=2, padding=(1, 1, 0),
                           ceil_mode=True)),
]


def _torch_pool(torch, name, nd):
    return getattr(torch.nn.functional, f"{name}{nd}d")


def _nd(shape, kw):
    k = kw["kernel_size"]
    return len(k) if isinstance(k, tuple) else len(shape) - 2


@pytest.mark.parametrize("xs,kw", MAX_POOL_CASES)
def test_max_pool_matches_torch(xs, kw):
    torch = _torch()
    rng = np.random.default_rng(5)
    x = rng.standard_normal(xs)
    tpool = _torch_pool(torch, "max_pool", _nd(xs, kw))
    want, want_idx = tpool(torch.tensor(x), return_indices=True, **kw)
    ct = rng.standard_normal(want.shape)
    got, (gx,) = _vjp_both(lambda a: C.max_pool(a, **kw), (x,), ct)
    _, (tx,) = _torch_vjp(torch, lambda a: tpool(a, **kw), (x,), ct)
    _close(got, want.numpy())
    _close(gx, tx)
    vals, idx = C.max_pool_with_indices(x, **kw)
    _close(vals, want.numpy())
    np.testing.assert_array_equal(idx, want_idx.numpy())
    assert idx.dtype == np.int64


def test_max_pool_ties_go_to_the_first_maximum_like_torch():
    torch = _torch()
    rng = np.random.default_rng(6)
    x = rng.integers(0, 3, size=(2, 2, 6, 6)).astype(np.float64)  # many ties
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)):
        want, want_idx = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True,
                                                        **kw)
        ct = rng.standard_normal(want.shape)
        _, (gx,) = _vjp_both(lambda a: C.max_pool(a, **kw), (x,), ct)
        _, (tx,) = _torch_vjp(torch, lambda a: torch.nn.functional.max_pool2d(a, **kw),
                              (x,), ct)
        _close(gx, tx)
        np.testing.assert_array_equal(C.max_pool(x, return_indices=True, **kw)[1],
                                      want_idx.numpy())


def test_max_pool_nan_propagates():
    x = np.array([[[1.0, np.nan, 3.0, 2.0]]])
    np.testing.assert_array_equal(C.max_pool(x, 2), [[[np.nan, 3.0]]])
    assert C.max_pool(x, 2, return_indices=True)[1].tolist() == [[[1, 2]]]


AVG_POOL_CASES = [
    ((2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 9), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((2, 3, 7, 7), dict(kernel_size=2)),
    ((2, 3, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 3, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                        count_include_pad=False)),
    ((2, 3, 6, 7), dict(kernel_size=(2, 3), stride=(3, 2), ceil_mode=True)),
    ((2, 3, 6, 7), dict(kernel_size=3, padding=1, divisor_override=5)),
    ((1, 2, 5, 4, 6), dict(kernel_size=(2, 2, 3), stride=2, padding=(1, 0, 1),
                           ceil_mode=True, count_include_pad=False)),
]


@pytest.mark.parametrize("xs,kw", AVG_POOL_CASES)
def test_avg_pool_matches_torch(xs, kw):
    torch = _torch()
    rng = np.random.default_rng(7)
    x = rng.standard_normal(xs)
    tpool = _torch_pool(torch, "avg_pool", _nd(xs, kw))
    if len(xs) == 3:
        kw_t = {k: v for k, v in kw.items() if k != "divisor_override"}
    else:
        kw_t = kw
    want = tpool(torch.tensor(x), **kw_t).numpy()
    ct = rng.standard_normal(want.shape)
    got, (gx,) = _vjp_both(lambda a: C.avg_pool(a, **kw), (x,), ct)
    _, (tx,) = _torch_vjp(torch, lambda a: tpool(a, **kw_t), (x,), ct)
    _close(got, want)
    _close(gx, tx)


def test_avg_pool_keeps_float32_and_averages_ints_in_float64():
    assert C.avg_pool(np.ones((1, 1, 4, 4), np.float32), 3, padding=1).dtype == np.float32
    out = C.avg_pool(np.arange(16).reshape(1, 1, 4, 4), 2)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out[0, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_the_array_api_stays_on_a_cupy_device():
    """Through the NumPy-backed CuPy test double (no GPU): results stay on the
    device and equal the NumPy backend's (the primitives themselves are run
    on it by tests/test_cupy_double.py; this covers the wrappers' constants)."""
    from tests.cupy_double import installed
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))

    def f(x, w):
        h = C.conv(x, w, padding=1)
        a = C.avg_pool(h, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        m, idx = C.max_pool(h, 2, ceil_mode=True, return_indices=True)
        t = C.conv_transpose(h, w, padding=1)
        return fnp.sum(a ** 2) + fnp.sum(m ** 2) + fnp.sum(t * x), idx

    want, want_idx = f(x, w)
    want_g = fg.grad(lambda x, w: f(x, w)[0], argnums=(0, 1))(x, w)
    with installed() as cp:
        got, got_idx = f(cp.asarray(x), cp.asarray(w))
        got_g = fg.grad(lambda x, w: f(x, w)[0], argnums=(0, 1))(cp.asarray(x), cp.asarray(w))
        for g, v in [(got, want), (got_idx, want_idx)] + list(zip(got_g, want_g)):
            assert type(g) is cp.ndarray
            np.testing.assert_allclose(g.get(), v, rtol=1e-12)


# --------------------------------------------------------------------------- #
# Errors: at the call, naming the operation, the shapes and the fix
# --------------------------------------------------------------------------- #
def test_conv_rejects_an_unbatched_input():
    with pytest.raises(ValueError, match=r"conv2d: expected input with 4 dims \(N, C, H, W\), "
                                         r"got shape \(3, 28, 28\).*x\[None\]"):
        C.conv(np.ones((3, 28, 28)), np.ones((6, 3, 5, 5)))


def test_conv_names_the_channel_mismatch():
    with pytest.raises(ValueError, match=r"conv2d: .*weight.shape\[1\] \* groups = 2 \* 2 = 4 "
                                         r"channels.*has 6.*\(8, 3, 3, 3\)"):
        C.conv(np.ones((1, 6, 8, 8)), np.ones((8, 2, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="divisible by groups"):
        C.conv(np.ones((1, 6, 8, 8)), np.ones((5, 3, 3, 3)), groups=2)


def test_conv_rejects_a_kernel_larger_than_the_padded_input():
    with pytest.raises(ValueError, match=r"conv2d: the kernel, of size \(5, 3\) after "
                                         r"dilation, is larger than the padded input, of "
                                         r"size \(4, 6\)"):
        C.conv(np.ones((1, 1, 4, 4)), np.ones((1, 1, 5, 3)), padding=(0, 1))
    with pytest.raises(ValueError, match="of size \\(5,\\) after dilation"):
        C.conv(np.ones((1, 1, 4)), np.ones((1, 1, 3)), dilation=2)


def test_conv_parameter_errors():
    x, w = np.ones((1, 1, 6, 6)), np.ones((1, 1, 3, 3))
    with pytest.raises(ValueError, match="conv2d: padding='same' is not supported for strided"):
        C.conv(x, w, stride=2, padding="same")
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a tuple of 2 ints, "
                                        r"got \(1, 1, 1\)"):
        C.conv(x, w, stride=(1, 1, 1))
    with pytest.raises(ValueError, match="conv2d: stride must be positive"):
        C.conv(x, w, stride=0)
    with pytest.raises(TypeError, match=r"conv2d: padding must be 'same', 'valid', an int, "
                                        r"a tuple of 2 ints or a tuple of 2 \(before, after\) "
                                        r"pairs, got \(1, \(0, 1\)\)"):
        C.conv(x, w, padding=(1, (0, 1)))
    with pytest.raises(ValueError, match="conv2d: padding must be non-negative"):
        C.conv(x, w, padding=-1)
    with pytest.raises(ValueError, match="conv2d: groups must be a positive int"):
        C.conv(x, w, groups=0)
    with pytest.raises(ValueError, match="conv: expected a weight with 3, 4 or 5 dims"):
        C.conv(x, np.ones((3, 3)))


def test_conv_transpose_errors():
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_padding must be smaller "
                                         r"than either stride or dilation"):
        C.conv_transpose(np.ones((1, 2, 4, 4)), np.ones((2, 1, 3, 3)), stride=2,
                         output_padding=2)
    with pytest.raises(ValueError, match=r"conv_transpose2d: .*weight.shape\[0\] = 3 "
                                         r"channels.*has 2"):
        C.conv_transpose(np.ones((1, 2, 4, 4)), np.ones((3, 1, 3, 3)))


def test_pool_errors():
    with pytest.raises(ValueError, match=r"max_pool2d: padding should be at most half of the "
                                         r"kernel size"):
        C.max_pool(np.ones((1, 1, 6, 6)), 3, padding=2)
    with pytest.raises(ValueError, match=r"max_pool2d: input of shape \(1, 1, 1, 1\) is too "
                                         r"small"):
        C.max_pool(np.ones((1, 1, 1, 1)), 2)
    with pytest.raises(ValueError, match=r"avg_pool2d: expected input with 3 or 4 dims "
                                         r"\(C, H, W\) or \(N, C, H, W\), got shape "
                                         r"\(1, 1, 1, 6, 6\)"):
        C.avg_pool(np.ones((1, 1, 1, 6, 6)), (2, 2))
    with pytest.raises(TypeError, match=r"max_pool2d: kernel_size must be an int or a tuple"):
        C.max_pool(np.ones((1, 1, 6, 6)), 2.5, spatial_dims=2)
