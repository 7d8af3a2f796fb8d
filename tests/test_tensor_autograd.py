"""Autograd through the Tensor front: .grad, accumulation, errors, grad modes, in-place,
higher order, and bit-identical gradients with funcgrad.grad."""
import numpy as np
import pytest

import funcgrad as torch  # the PyTorch-style front, used the way PyTorch code uses it
import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.nn.functional as F
from funcgrad.prims.indexing import take_along_axis

pytestmark = [*globals().get("pytestmark", []), pytest.mark.usefixtures("on_backend")]  # every backend


def _t(a, dtype=torch.float64):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=dtype, requires_grad=True)


X = np.array([[0.3, -1.2, 0.8], [1.5, 0.1, -0.4]])

# (name, f on Tensors, analytic gradient as a function of the NumPy input)
GRADS = [
    ("square_sum", lambda x: (x * x).sum(), lambda a: 2 * a),
    ("sin_times_x", lambda x: (x.sin() * x).sum(), lambda a: np.cos(a) * a + np.sin(a)),
    ("exp_mean", lambda x: x.exp().mean(), lambda a: np.exp(a) / a.size),
    ("tanh_pow", lambda x: (torch.tanh(x) ** 3).sum(),
     lambda a: 3 * np.tanh(a) ** 2 * (1 - np.tanh(a) ** 2)),
    ("relu", lambda x: torch.relu(x).sum(), lambda a: (a > 0).astype(float)),
    ("sigmoid", lambda x: torch.sigmoid(x).sum(),
     lambda a: np.exp(-a) / (1 + np.exp(-a)) ** 2),
    ("div_scalar", lambda x: (1.0 / (x * x + 1)).sum(), lambda a: -2 * a / (a * a + 1) ** 2),
    ("row_sum_sq", lambda x: (x.sum(dim=1) ** 2).sum(),
     lambda a: np.repeat(2 * a.sum(1, keepdims=True), a.shape[1], 1)),
    ("max_dim", lambda x: x.max(dim=1).values.sum(),
     lambda a: (np.arange(3) == a.argmax(1)[:, None]).astype(float)),
    ("softmax_first", lambda x: torch.softmax(x, dim=1)[:, 0].sum(),
     lambda a: _softmax_first_grad(a)),
    ("slice_index", lambda x: (x[:, 1:] * 3).sum() + x[0, 0],
     lambda a: np.array([[1.0, 3, 3], [0, 3, 3]])),
    ("transpose_matmul", lambda x: (x.T @ x).trace(), lambda a: 2 * a),
    ("mean_var", lambda x: x.var(unbiased=False),
     lambda a: 2 * (a - a.mean()) / a.size),
]


def _softmax_first_grad(a):
    e = np.exp(a - a.max(1, keepdims=True))
    s = e / e.sum(1, keepdims=True)
    g = -s[:, :1] * s
    g[:, 0] += s[:, 0]
    return g


@pytest.mark.parametrize("name,f,df", GRADS, ids=[g[0] for g in GRADS])
def test_grad_after_backward(name, f, df):
    x = _t(X)
    f(x).backward()
    assert x.grad.dtype == torch.float64 and tuple(x.grad.shape) == X.shape
    np.testing.assert_allclose(x.grad.numpy(), df(X), rtol=1e-12, atol=1e-14)


def test_grad_of_float32_leaf_is_float32():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype == torch.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_gradients_accumulate_over_backward_calls():
    x = _t([1.0, 2.0])
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    y = (x ** 3).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0 + 6.0, 8.0 + 24.0])
    x.grad = None
    (2 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_second_backward_without_retain_graph_raises():
    x = _t([1.0, 2.0])
    y = (x.sin() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_non_scalar_backward_needs_gradient():
    x = _t([1.0, 2.0])
    y = x * 3
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar "
                                           "outputs"):
        y.backward()
    y.backward(torch.tensor([1.0, 0.5], dtype=torch.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 1.5])


def test_backward_on_tensor_not_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.ones(2).sum().backward()


def test_no_grad_enable_grad_set_grad_enabled():
    x = _t([1.0])
    with torch.no_grad():
        y = x * 2
        with torch.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert torch.is_grad_enabled()

    @torch.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad


def test_detach_cuts_the_graph():
    x = _t([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    (x * d).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])  # d counted as a constant


def test_requires_grad_only_for_float_tensors():
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        torch.zeros(2, dtype=torch.int64, requires_grad=True)
    assert torch.tensor([1.0]).requires_grad_().requires_grad


def test_leaf_and_grad_fn():
    x = _t([1.0])
    y = x * 2
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.grad_fn is not None
    assert torch.ones(1).is_leaf


def test_inplace_change_of_saved_tensor_raises_version_error():
    x = _t([1.0, 2.0])
    y = x * 1
    z = y.sin()  # saves y
    y.mul_(2)
    assert y._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_on_leaf_requiring_grad_raises_unless_no_grad():
    w = _t([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w += 1
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w[0] = 3.0
    with torch.no_grad():
        w -= 0.5
        w[1] = 7.0
    assert w.is_leaf and w.requires_grad and w._version == 2
    np.testing.assert_array_equal(w.detach().numpy(), [0.5, 7.0])
    (w * w).sum().backward()  # still a working leaf
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 14.0])


def test_inplace_on_non_leaf_is_recorded():
    x = _t([1.0, 2.0, 3.0])
    y = x * 2
    y += x          # y = 3x
    y.mul_(x)       # y = 3x^2
    y[0] = 10.0     # constant at 0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 12.0, 18.0])


def test_setitem_with_a_value_that_requires_grad():
    v = _t([5.0])
    z = torch.zeros(3, dtype=torch.float64)
    z[1:2] = v * 2
    assert z.requires_grad and not z.is_leaf
    (z * torch.tensor([1.0, 3.0, 1.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [6.0])


def test_autograd_grad_create_graph_second_derivative():
    x = _t([1.0, 2.0, 3.0])
    y = (x ** 3).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0, 27.0])
    assert g.requires_grad
    (h,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0, 18.0])
    assert x.grad is None  # autograd.grad does not accumulate


def test_backward_create_graph_then_differentiate_grad():
    x = _t([0.5])
    y = (x.sin() * x).sum()
    y.backward(create_graph=True)
    gx = x.grad
    x.grad = None
    gx.sum().backward()
    a = 0.5
    np.testing.assert_allclose(x.grad.numpy(), [2 * np.cos(a) - a * np.sin(a)], rtol=1e-12)


def test_retain_grad_on_non_leaf():
    x = _t([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])
    h2 = x * 3
    (h2 * h2).sum().backward()
    assert h2.grad is None  # only retained on request, as in PyTorch


def test_to_dtype_and_clone_are_differentiable():
    x = _t([1.0, 2.0])
    (x.float().double() * x.clone()).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_tensor_code_under_functional_transforms():
    # Tensor methods run on traced data inside funcgrad.grad / vmap.
    a = np.array([[0.5, -1.0, 2.0], [0.3, 0.2, -0.7]])

    def f(t):
        return torch.log_softmax(t, dim=1).max(dim=1).values.sum() + t.std() + t.norm()

    g_tensor = fg.grad(f)(torch.tensor(a))
    x = _t(a)
    f(x).backward()
    np.testing.assert_allclose(g_tensor.numpy(), x.grad.numpy(), rtol=1e-12)
    rows = fg.vmap(lambda t: t.sum(dim=0) * t.amax())(torch.tensor(a))
    np.testing.assert_allclose(rows.numpy(), a.sum(1) * a.max(1))


# --------------------------------------------------------------------------- #
# The two fronts are one engine: bitwise-identical gradients.
# --------------------------------------------------------------------------- #
def _params():
    rng = np.random.default_rng(0)
    return {
        "W1": rng.normal(size=(5, 8)) * 0.5,                      # float64
        "b1": rng.normal(size=(8,)) * 0.1,
        "Wr": rng.normal(size=(8, 8)) * 0.3,
        "br": rng.normal(size=(8,)) * 0.1,
        "W2": (rng.normal(size=(8, 4)) * 0.5).astype(np.float32),  # float32
        "b2": (rng.normal(size=(4,)) * 0.1).astype(np.float32),
    }


def _data():
    rng = np.random.default_rng(1)
    return rng.normal(size=(16, 5)), rng.integers(0, 4, size=16)


def loss_tensor(p, x, y):
    """The MLP written as PyTorch code on Tensors."""
    h = torch.tanh(x @ p["W1"] + p["b1"])
    h = torch.relu(h @ p["Wr"] + p["br"])
    z = h.float() @ p["W2"] + p["b2"]
    logp = torch.log_softmax(z, dim=1)
    return -logp.gather(1, y[:, None]).mean()


def loss_arrays(p, x, y):
    """The same MLP written with funcgrad.numpy on arrays."""
    h = fnp.tanh(x @ p["W1"] + p["b1"])
    a = h @ p["Wr"] + p["br"]
    h = fnp.where(a > 0, a, 0.0)
    z = fnp.astype(h, np.float32) @ p["W2"] + p["b2"]
    logp = F.log_softmax(z, dim=1)  # the primitive torch.log_softmax runs
    return -fnp.mean(take_along_axis(logp, y[:, None], 1))


def test_backward_is_bit_identical_to_funcgrad_grad():
    params, (x, y) = _params(), _data()
    tparams = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in params.items()}
    loss = loss_tensor(tparams, torch.from_numpy(x), torch.from_numpy(y))
    loss.backward()
    value, grads = fg.value_and_grad(loss_arrays)(params, x, y)
    assert loss.dtype == np.float32 and value.dtype == np.float32
    assert np.array_equal(loss.item(), value)
    for k in params:
        g = tparams[k].grad.numpy()
        assert g.dtype == params[k].dtype == grads[k].dtype, k
        assert np.count_nonzero(g) > g.size // 2, k  # a real gradient, not zeros
        assert np.array_equal(g, grads[k]), f"{k}: max diff {np.abs(g - grads[k]).max()}"


def test_backward_is_bit_identical_for_tensor_code_under_grad():
    # funcgrad.grad applied to the Tensor version itself gives the same bits too.
    params, (x, y) = _params(), _data()
    grads = fg.grad(loss_arrays)(params, x, y)
    tgrads = fg.grad(lambda p: loss_tensor(p, torch.from_numpy(x), torch.from_numpy(y)))(
        {k: torch.from_numpy(v) for k, v in params.items()})
    for k in params:
        assert np.array_equal(tgrads[k].numpy(), grads[k]), k


def test_custom_vjp_rule_is_recorded_on_the_tape():
    import funcgrad as fg
    import funcgrad.numpy as fnp
    calls = []

    @fg.custom_vjp
    def log1pexp(x):
        return fnp.log1p(fnp.exp(x))

    def bwd(x, ct):
        calls.append(1)
        return (ct * fnp.sigmoid(x),)
    log1pexp.defvjp(lambda x: (fnp.softplus(x), x), bwd)
    x = fg.tensor([-1.0, 0.0, 800.0], requires_grad=True)
    log1pexp(x).sum().backward()
    assert calls, "the custom rule was not used by backward()"
    np.testing.assert_allclose(x.grad.numpy(), 1 / (1 + np.exp(-np.array([-1.0, 0.0, 80.0]))),
                               rtol=1e-6)


def test_checkpoint_on_tensors_gives_closed_over_parameters_gradients():
    import funcgrad as fg
    fg.manual_seed(0)
    lin = fg.nn.Linear(3, 2)
    z = fg.randn(4, 3, requires_grad=True)
    fg.checkpoint(lambda v: fg.tanh(lin(v)))(z).sum().backward()
    gz, gw = z.grad.numpy().copy(), lin.weight.grad.numpy().copy()
    z.grad = None
    lin.weight.grad = None
    fg.tanh(lin(z)).sum().backward()
    np.testing.assert_allclose(gz, z.grad.numpy())
    np.testing.assert_allclose(gw, lin.weight.grad.numpy())


# --------------------------------------------------------------------------- #
# .data: PyTorch's view of a tensor's values outside autograd
# --------------------------------------------------------------------------- #
def test_data_is_a_tensor_outside_autograd_sharing_the_values():
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))
    d = p.data
    assert type(d) is torch.Tensor and not d.requires_grad and d.grad_fn is None
    np.testing.assert_array_equal(d.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(d.cpu().numpy(), d.numpy())
    assert d.size() == (3,) and d.dim() == 1


def test_in_place_operations_on_data_reach_the_tensor_without_a_version_bump():
    p = torch.nn.Parameter(torch.zeros(4))
    version = p._version
    p.data.fill_(0.5)
    np.testing.assert_array_equal(p.detach().numpy(), [0.5] * 4)
    p.data.add_(torch.ones(4), alpha=2.0)
    p.data[0] = 9.0
    p.data.clamp_(max=5.0)
    np.testing.assert_array_equal(p.detach().numpy(), [5.0, 2.5, 2.5, 2.5])
    p.data.zero_()
    p.data.copy_(torch.arange(4.0))
    np.testing.assert_array_equal(p.detach().numpy(), [0.0, 1.0, 2.0, 3.0])
    torch.manual_seed(0)
    p.data.normal_(0.0, 0.02)
    assert 0 < float(p.detach().abs().max()) < 0.2
    assert p._version == version  # as in PyTorch: .data is invisible to autograd


def test_assigning_data_replaces_values_shape_and_dtype():
    p = torch.nn.Parameter(torch.zeros(3))
    p.data = torch.ones(2, 2, dtype=torch.float64)
    assert tuple(p.shape) == (2, 2) and p.dtype == torch.float64 and p.requires_grad
    p.data = np.full(3, 7.0, np.float32)
    np.testing.assert_array_equal(p.detach().numpy(), [7.0] * 3)
    w = torch.nn.Parameter(torch.ones(2))
    w.data -= 0.5 * torch.ones(2)  # augmented assignment through .data
    np.testing.assert_array_equal(w.detach().numpy(), [0.5, 0.5])
    with pytest.raises(TypeError, match="Tensor.data must be set to a Tensor or an array"):
        p.data = [1.0, 2.0]


def test_manual_sgd_and_dcgan_style_init_through_data():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))

    def weights_init(m):  # the DCGAN tutorial's
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            torch.nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            torch.nn.init.normal_(m.weight.data, 1.0, 0.02)
            torch.nn.init.constant_(m.bias.data, 0)
    model.apply(weights_init)
    conv, bn = model[0], model[1]
    assert float(conv.weight.detach().std()) < 0.05
    np.testing.assert_array_equal(bn.bias.detach().numpy(), np.zeros(4, np.float32))
    x = torch.randn(2, 1, 5, 5)
    before = conv.weight.detach().numpy().copy()
    loss = model(x).pow(2).mean()
    loss.backward()
    for p in model.parameters():  # the pre-optim idiom
        p.data.add_(p.grad.data, alpha=-0.1)
    np.testing.assert_allclose(conv.weight.detach().numpy(),
                               before - 0.1 * conv.weight.grad.numpy(), rtol=1e-6)
