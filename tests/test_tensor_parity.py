"""The Tensor front against PyTorch: values, gradients, dtypes and promotion.

Each expression is written once against a module ``T`` (``torch`` or
``funcgrad``) and evaluated by both; values and gradients must agree in
float64 to ~1e-12.
"""
import numpy as np
import pytest

import funcgrad as fg

pytestmark = [*globals().get("pytestmark", []), pytest.mark.usefixtures("on_backend")]  # every backend

torch = pytest.importorskip("torch", reason="parity tests need PyTorch (pip install torch==2.13.0)")

RTOL, ATOL = 1e-12, 1e-13


def _idx(T):
    return T.tensor([[0], [2], [1]])


def _setitem(T, x, y):
    z = x.clone()
    z[0] = y[1]
    z[:, 1] = 0.5
    return (z * z).sum()


def _inplace_chain(T, x, y):
    z = x * 1
    z.add_(y)
    z.mul_(2)
    z += 1
    return (z * z).mean()


EXPRESSIONS = {
    "mul_add": lambda T, x, y: (x * y + x).sum(),
    "div_pow": lambda T, x, y: (x / (y.abs() + 1) ** 2).sum(),
    "rdiv_rsub": lambda T, x, y: (2.0 / (x * x + 1) - (1 - y)).sum(),
    "exp_log": lambda T, x, y: (x.exp() + (y.abs() + 1).log()).mean(),
    "tanh_sigmoid": lambda T, x, y: (T.tanh(x) * T.sigmoid(y)).sum(),
    "sin_cos": lambda T, x, y: (x.sin() * y.cos()).sum(),
    "sqrt_rsqrt": lambda T, x, y: (x.abs() + 1).sqrt().sum() + (y * y + 1).rsqrt().sum(),
    "relu": lambda T, x, y: T.relu(x).pow(2).sum() + y.relu().sum(),
    "softmax": lambda T, x, y: (T.softmax(x, dim=1) * y).sum(),
    "log_softmax_gather": lambda T, x, y: -T.log_softmax(x, dim=1).gather(1, _idx(T)).mean(),
    "logsumexp": lambda T, x, y: T.logsumexp(x * y, dim=1).sum(),
    "matmul": lambda T, x, y: (x @ y.T).tanh().sum(),
    "mm_bmm": lambda T, x, y: T.mm(x, y.t()).sum() + T.bmm(x[None], y.mT[None]).pow(2).sum(),
    "einsum": lambda T, x, y: T.einsum("ij,ij->i", x, y).exp().sum(),
    "max_dim": lambda T, x, y: x.max(dim=1).values.sum() + y.min(0)[0].sum(),
    "max_min_all": lambda T, x, y: x.max() * y.min(),
    "amax_amin": lambda T, x, y: x.amax(dim=0).sum() - y.amin(dim=(0, 1)),
    "maximum": lambda T, x, y: T.maximum(x, y).sum() + T.minimum(x, y * 2).sum(),
    "std_var": lambda T, x, y: x.std(dim=0).sum() + y.var() + x.std(1, unbiased=False).sum(),
    "mean_keepdim": lambda T, x, y: (x - x.mean(dim=1, keepdim=True)).pow(2).mean(),
    "norm": lambda T, x, y: x.norm() + y.norm(dim=1).sum() + x.norm(p=1),
    "clamp": lambda T, x, y: (x.clamp(-0.5, 0.5) * y).sum() + y.clamp(min=0.1).sum(),
    "where": lambda T, x, y: T.where(x > 0, x * y, -x).sum(),
    "masked_fill": lambda T, x, y: (x.masked_fill(y > 0.5, 0.0) * y).sum(),
    "indexing": lambda T, x, y: (x[1:, ::2] * y[:-1, 1::2]).sum() + x[[0, 2]].pow(2).sum()
    + x[x > 0].sum() + x[..., None][1, 2, 0] * y[-1, -1],
    "index_select": lambda T, x, y: x.index_select(1, T.tensor([0, 3, 3])).sum() * y.sum(),
    "reshape_permute": lambda T, x, y: (x.reshape(4, 3).permute(1, 0).flatten().cumsum(0)
                                        * y.view(-1)).sum(),
    "transpose_expand": lambda T, x, y: (x.unsqueeze(0).expand(2, 3, 4).transpose(0, 2)
                                         * y.T[:, :, None]).sum(),
    "cat_stack": lambda T, x, y: T.cat([x, y], dim=1).sum(dim=0).prod()
    + T.stack([x, y], dim=2).pow(3).sum(),
    "split_chunk": lambda T, x, y: sum(p.exp().sum() for p in x.split(3, dim=1))
    + sum(c.sum() ** 2 for c in y.chunk(2, dim=1)),
    "sort_topk": lambda T, x, y: x.sort(dim=1).values[:, 0].sum()
    + (x.topk(2, dim=1).values * y[:, :2]).sum(),
    "cumsum_prod": lambda T, x, y: (x.cumsum(1) * y).sum() + (y[0] + 2).prod(),
    "abs_sign": lambda T, x, y: (x.abs() * y.sign()).sum() + y.abs().mean(),
    "squeeze_repeat": lambda T, x, y: (x[:, None].squeeze(1).repeat(2, 1) ** 2).sum()
    + y.unsqueeze(-1).repeat(1, 1, 2).sum(),
    "tril_triu_diag": lambda T, x, y: T.tril(x).sum() + T.triu(y, 1).pow(2).sum()
    + T.diag(x[:, :3]).sum(),
    "setitem": _setitem,
    "inplace_chain": _inplace_chain,
    "outer_dot": lambda T, x, y: T.outer(x[0], y[1]).sum() + T.dot(x[1], y[2]),
    "lerp_pow_scalar": lambda T, x, y: T.lerp(x, y, 0.3).sum() + (2.0 ** x).sum(),
}


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(3, 4)), rng.normal(size=(3, 4))


def _run(T, fn, xa, ya):
    x = T.tensor(xa, dtype=T.float64, requires_grad=True)
    y = T.tensor(ya, dtype=T.float64, requires_grad=True)
    out = fn(T, x, y)
    out.backward()
    return (out.detach().numpy(),) + tuple(
        np.zeros_like(a) if t.grad is None else t.grad.numpy() for t, a in ((x, xa), (y, ya)))


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_value_and_gradient_match_pytorch(name):
    xa, ya = _inputs()
    ours = _run(fg, EXPRESSIONS[name], xa, ya)
    theirs = _run(torch, EXPRESSIONS[name], xa, ya)
    for what, a, b in zip(("value", "x.grad", "y.grad"), ours, theirs):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"{name}: {what}")


# Values only (integer results, selections, less common functions).
VALUES = {
    "div_trunc_int": lambda T, x: T.div(T.tensor([-7, 7, -8]), 2, rounding_mode="trunc"),
    "div_floor_int": lambda T, x: T.div(T.tensor([-7, 7]), 2, rounding_mode="floor"),
    "div_trunc": lambda T, x: T.div(x, 0.3, rounding_mode="trunc"),
    "fmod_remainder": lambda T, x: T.stack([T.fmod(x, 0.75), T.remainder(x, -0.75)]),
    "floordiv_mod_int": lambda T, x: T.stack([T.tensor([-7, 7]) // 2, T.tensor([-7, 7]) % 3]),
    "int_ops": lambda T, x: T.stack([T.tensor([2, 3]) ** 2, T.tensor([-2, 3]).abs(),
                                     T.sign(T.tensor([-2, 3]))]),
    "int_true_div": lambda T, x: T.tensor([3, 4]) / T.tensor([2, 2]),
    "round_half_even": lambda T, x: T.round(T.tensor([0.5, 1.5, 2.5, -0.5])),
    "scatter": lambda T, x: T.zeros(3, 4, dtype=T.float64).scatter(
        1, T.tensor([[0], [2], [3]]), x[:, :1]),
    "scatter_add": lambda T, x: T.zeros(3, 4, dtype=T.float64).scatter_add(
        1, T.tensor([[0, 0], [2, 2], [1, 3]]), x[:, :2]),
    "kthvalue_median": lambda T, x: T.stack([x.kthvalue(2, 1).values, x.median(1).values]),
    "median_all": lambda T, x: x.median(),
    "argmax_keepdim": lambda T, x: x.argmax(1, keepdim=True),
    "topk_smallest": lambda T, x: x.topk(2, largest=False).indices,
    "sort_stable": lambda T, x: T.sort(T.tensor([2, 1, 2, 1]), stable=True).indices,
    "nonzero": lambda T, x: (x > 0).nonzero(),
    "masked_select": lambda T, x: x.masked_select(x > 0),
    "roll_narrow": lambda T, x: x.roll(1, 1).narrow(1, 1, 2),
    "repeat_interleave": lambda T, x: x.repeat_interleave(2, dim=1),
    "take_along_dim": lambda T, x: T.take_along_dim(x, T.tensor([[0], [2], [1]]), 1),
    "cross": lambda T, x: T.cross(x[:, :3], x[:, 1:], dim=1),
    "norms": lambda T, x: T.stack([x.norm(3), x.norm(float("inf")), x.norm(p=1)]),
    "clamp_tensors": lambda T, x: x.clamp(min=T.zeros(4, dtype=T.float64),
                                          max=T.ones(4, dtype=T.float64)),
    "diag_offset": lambda T, x: T.diag(x, 1),
    "chunk": lambda T, x: T.arange(10).chunk(3)[2],
    "tile": lambda T, x: x.tile((2,)),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_match_pytorch(name):
    xa, _ = _inputs(1)
    ours = VALUES[name](fg, fg.tensor(xa))
    theirs = VALUES[name](torch, torch.tensor(xa))
    assert _name(ours.dtype) == _name(theirs.dtype) and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------- #
# dtypes and promotion
# --------------------------------------------------------------------------- #
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _t(T, name, ndim=1):
    shape = (2,) if ndim else ()
    return T.ones(shape, dtype=getattr(T, name))


def _name(d):
    s = str(d)
    return s.replace("torch.", "")


@pytest.mark.parametrize("a", DTYPES)
def test_promotion_table_matches_pytorch(a):
    for b in DTYPES:
        for ndim_b in (1, 0):
            for op in ("add", "mul"):
                ours = getattr(fg, op)(_t(fg, a), _t(fg, b, ndim_b)).dtype
                theirs = getattr(torch, op)(_t(torch, a), _t(torch, b, ndim_b)).dtype
                assert _name(ours) == _name(theirs), (a, b, ndim_b, op)
        assert _name(fg.promote_types(getattr(fg, a), getattr(fg, b))) == \
            _name(torch.promote_types(getattr(torch, a), getattr(torch, b)))


@pytest.mark.parametrize("a", DTYPES)
def test_scalar_promotion_and_division_match_pytorch(a):
    for s in (True, 3, 2.5):
        if a == "bool" and s is True:
            continue
        ops = [lambda u, v: u + v, lambda u, v: u * v, lambda u, v: u / v]
        if s is not True and a != "bool":  # PyTorch refuses `-` with bools
            ops.append(lambda u, v: v - u)
        for op in ops:
            ours, theirs = op(_t(fg, a), s).dtype, op(_t(torch, a), s).dtype
            assert _name(ours) == _name(theirs), (a, s)
    if a != "bool":
        assert _name((_t(fg, a) / _t(fg, a)).dtype) == _name((_t(torch, a) / _t(torch, a)).dtype)
        assert _name(fg.sqrt(_t(fg, a)).dtype) == _name(torch.sqrt(_t(torch, a)).dtype)


FACTORIES = {
    "tensor_int": lambda T: T.tensor([1, 2]),
    "tensor_float": lambda T: T.tensor([1.0, 2]),
    "tensor_bool": lambda T: T.tensor([True, False]),
    "tensor_scalar": lambda T: T.tensor(3.5),
    "tensor_np_f64": lambda T: T.tensor(np.ones(2)),
    "tensor_np_i32": lambda T: T.tensor(np.ones(2, np.int32)),
    "tensor_np_scalar": lambda T: T.tensor(np.float64(1.0)),
    "from_numpy_f64": lambda T: T.from_numpy(np.ones(2)),
    "as_tensor_f64": lambda T: T.as_tensor(np.ones(2)),
    "arange_int": lambda T: T.arange(5),
    "arange_float": lambda T: T.arange(0, 1, 0.1),
    "arange_step": lambda T: T.arange(1, 10, 3),
    "linspace": lambda T: T.linspace(0, 1, 7),
    "full_int": lambda T: T.full((2, 2), 3),
    "full_float": lambda T: T.full((2,), 3.0),
    "full_bool": lambda T: T.full((2,), True),
    "zeros": lambda T: T.zeros(2, 3),
    "ones_tuple": lambda T: T.ones((2, 3), dtype=T.float64),
    "eye": lambda T: T.eye(3, 2),
    "empty": lambda T: T.empty(2).zero_(),
    "zeros_like": lambda T: T.zeros_like(T.ones(2, dtype=T.int32)),
    "rand_dtype": lambda T: T.rand(2, 2).zero_(),
    "randint": lambda T: T.randint(0, 5, (3,)).zero_(),
    "randperm": lambda T: T.randperm(4).sort().values,
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories_match_pytorch(name):
    ours, theirs = FACTORIES[name](fg), FACTORIES[name](torch)
    assert _name(ours.dtype) == _name(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy().astype(np.float64),
                               theirs.numpy().astype(np.float64), rtol=1e-6)


def test_float64_default_dtype_matches_pytorch():
    prev_t, prev_f = torch.get_default_dtype(), fg.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        fg.set_default_dtype(fg.float64)
        for make in (lambda T: T.tensor([1.0]), lambda T: T.zeros(2),
                     lambda T: T.tensor([1, 2]) * 0.5, lambda T: T.arange(0.0, 2.0)):
            assert _name(make(fg).dtype) == _name(make(torch).dtype)
    finally:
        torch.set_default_dtype(prev_t)
        fg.set_default_dtype(prev_f)


REPRS = {
    "float": lambda T: T.tensor([1.5, -2.0, 3.25]),
    "whole": lambda T: T.tensor([[1.0, 2.0], [3.0, 4.0]]),
    "int": lambda T: T.tensor([[1, 2], [30, 4]]),
    "bool": lambda T: T.tensor([True, False]),
    "scalar": lambda T: T.tensor(2.5),
    "f64": lambda T: T.tensor([1.0, 2.0], dtype=T.float64),
    "i32": lambda T: T.tensor([1, 2], dtype=T.int32),
    "sci": lambda T: T.tensor([1e-5, 1e5]),
    "requires_grad": lambda T: T.tensor([1.0, 2.0], requires_grad=True),
    "grad_fn_sum": lambda T: T.tensor([1.0, 2.0], requires_grad=True).sum(),
    "grad_fn_mul": lambda T: T.tensor([1.0, 2.0], requires_grad=True) * 2,
}


@pytest.mark.parametrize("name", sorted(REPRS))
def test_repr_matches_pytorch(name):
    assert repr(REPRS[name](fg)) == repr(REPRS[name](torch))


ERRORS = {
    "view": lambda T: T.ones(4, 4).view(3, 5),
    "expand": lambda T: T.ones(2, 3).expand(2, 4),
    "broadcast_to": lambda T: T.broadcast_to(T.ones(2, 3), (3, 3)),
    "numpy_requires_grad": lambda T: T.ones(2, requires_grad=True).numpy(),
    "item": lambda T: T.ones(2).item(),
    "leaf_inplace": lambda T: T.ones(2, requires_grad=True).add_(1),
    "inplace_cast": lambda T: T.zeros(3, dtype=T.int64).add_(1.5),
    "inplace_shape": lambda T: T.zeros(3).add_(T.ones(2, 3)),
    "non_scalar_backward": lambda T: (T.ones(2, requires_grad=True) * 2).backward(),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_messages_start_like_pytorch(name):
    with pytest.raises(Exception) as theirs:
        ERRORS[name](torch)
    with pytest.raises(type(theirs.value)) as ours:
        ERRORS[name](fg)
    head = str(theirs.value).split(".")[0][:40]
    assert str(ours.value).startswith(head), (str(ours.value), str(theirs.value))


def test_tensor_basics_example_prints_what_pytorch_prints(tmp_path):
    # The tutorial with `import torch` instead of `import funcgrad as torch`: same output
    # (dtypes print as NumPy's, 'float32' rather than 'torch.float32').
    import contextlib
    import io
    import pathlib
    import re
    import runpy
    root = pathlib.Path(__file__).resolve().parent.parent
    src = (root / "examples" / "tensor_basics.py").read_text()
    assert src.count("import funcgrad as torch") == 1
    (tmp_path / "with_torch.py").write_text(src.replace("import funcgrad as torch",
                                                        "import torch"))
    outs = []
    for script in (root / "examples" / "tensor_basics.py", tmp_path / "with_torch.py"):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            runpy.run_path(str(script), run_name="__main__")
        outs.append(re.sub(r"(?<![=\w])torch\.(float|int|bool)", r"\1", buf.getvalue()))
    assert len(outs[0].splitlines()) > 80
    assert outs[0].splitlines() == outs[1].splitlines()
