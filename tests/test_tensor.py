"""The PyTorch-style Tensor surface: creation, dtypes, indexing, setitem, shapes,
promotion, conversions, in-place operations, printing, randomness, the example."""
import copy
import pathlib
import pickle
import runpy

import numpy as np
import pytest

import funcgrad as torch  # the PyTorch-style front, used the way PyTorch code uses it
import funcgrad as fg

pytestmark = [*globals().get("pytestmark", []), pytest.mark.usefixtures("on_backend")]  # every backend

ROOT = pathlib.Path(__file__).resolve().parent.parent


def arr(t):
    return t.detach().numpy()


# --------------------------------------------------------------------------- #
# Creation and dtype inference
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("data,dtype", [
    ([1.0, 2.0], torch.float32), ([1, 2], torch.int64), ([True, False], torch.bool),
    (3.5, torch.float32), (7, torch.int64), ([1, 2.5], torch.float32),
    (np.ones(2), torch.float64), (np.ones(2, np.int32), torch.int32),
    (np.float64(1.0), torch.float64), ([[1, 2], [3, 4]], torch.int64),
])
def test_tensor_dtype_inference(data, dtype):
    assert torch.tensor(data).dtype == dtype


def test_dtype_names_and_defaults():
    assert torch.float == torch.float32 and torch.double == torch.float64
    assert torch.long == torch.int64 and torch.int == torch.int32
    assert torch.half == torch.float16 and torch.bool == np.dtype(bool)
    assert torch.float32 == np.float32  # a NumPy dtype: NumPy code accepts it
    assert torch.get_default_dtype() == torch.float32
    assert torch.finfo(torch.float32).eps == np.finfo(np.float32).eps
    assert torch.iinfo(torch.int8).max == 127
    assert isinstance(torch.zeros(1).dtype, torch.dtype)


def test_builtins_are_not_shadowed_inside_funcgrad_modules():
    import funcgrad.torch_api as api
    assert api.bool is torch.bool and api.float is torch.float32
    assert torch.Size([2, 3]).numel() == 6  # Size.numel uses the builtin int


def test_set_default_dtype():
    try:
        torch.set_default_dtype(torch.float64)
        assert torch.tensor([1.0]).dtype == torch.float64
        assert torch.zeros(2).dtype == torch.float64
        assert (torch.tensor([1, 2]) * 0.5).dtype == torch.float64
    finally:
        torch.set_default_dtype(torch.float32)
    with pytest.raises(TypeError, match="floating-point"):
        torch.set_default_dtype(torch.int64)


def test_factories_sizes_and_options():
    assert torch.zeros(2, 3).shape == (2, 3) and torch.zeros((2, 3)).shape == (2, 3)
    assert torch.ones([4]).shape == (4,) and torch.empty(0).shape == (0,)
    assert torch.full((2,), 7).dtype == torch.int64
    assert torch.full((2,), 7.0).dtype == torch.float32
    assert torch.eye(3).numpy().trace() == 3.0
    assert torch.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert torch.arange(5).dtype == torch.int64
    assert torch.arange(0, 1, 0.25).dtype == torch.float32
    np.testing.assert_allclose(arr(torch.arange(0, 1, 0.25)), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(arr(torch.linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1])
    z = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    assert z.requires_grad and z.dtype == torch.float64 and z.is_leaf
    like = torch.ones_like(torch.zeros(2, 3, dtype=torch.int32))
    assert like.dtype == torch.int32 and like.shape == (2, 3)
    assert torch.full_like(torch.zeros(2), 3.0).tolist() == [3.0, 3.0]
    assert torch.zeros_like(z).requires_grad is False


def test_tensor_copies_and_from_numpy_shares():
    a = np.arange(3.0)
    t = torch.tensor(a)
    a[0] = 100.0
    assert t[0].item() == 0.0
    s = torch.from_numpy(a)
    assert s.numpy() is a
    assert torch.as_tensor(a).numpy() is a
    u = torch.tensor(t)
    assert u is not t and torch.equal(u, t)
    with pytest.raises(TypeError, match="expected np.ndarray"):
        torch.from_numpy([1, 2])


def test_tensor_of_one_element_tensors():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    t = torch.tensor([x[0], x[1] * 2])
    assert not t.requires_grad and t.tolist() == [1.0, 4.0]


def test_devices():
    t = torch.ones(2, device="cpu")
    assert t.device == torch.device("cpu") and str(t.device) == "cpu"
    assert t.to("cpu") is t and t.cpu() is t


def test_cuda_request_without_gpu_is_a_clear_error():
    if _cuda_usable():
        pytest.skip("a GPU is usable here: the error path cannot be exercised")
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.ones(2).to("cuda")


def _cuda_usable():
    from funcgrad.device import cuda_is_available
    return cuda_is_available()


# --------------------------------------------------------------------------- #
# Attributes
# --------------------------------------------------------------------------- #
def test_shape_size_dim_numel():
    x = torch.zeros(2, 3, 4)
    assert x.shape == torch.Size([2, 3, 4]) and repr(x.shape) == "torch.Size([2, 3, 4])"
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.size == 24  # NumPy's meaning of the attribute still holds
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24 and torch.numel(x) == 24
    assert x.element_size() == 4 and x.nbytes == 96
    assert x.T.shape == (4, 3, 2) and x.mT.shape == (2, 4, 3)
    assert x.stride() == (12, 4, 1) and x.is_contiguous()
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.size(3)


# --------------------------------------------------------------------------- #
# Indexing
# --------------------------------------------------------------------------- #
@pytest.fixture
def x():
    return torch.arange(24.0).reshape(2, 3, 4)


INDICES = [
    1, -1, (0, 1), (slice(None), 1), (Ellipsis, 0), (None, 0), (0, None, slice(1, 3)),
    (slice(None, None, 2), slice(None), slice(1, None, 2)), [0, 1], ([1, 0], [2, 0]),
    (0, [2, 1, 0]), (Ellipsis, [3, 0]), (slice(None), [[0], [2]], [1, 3]),
]


@pytest.mark.parametrize("idx", INDICES, ids=[repr(i) for i in INDICES])
def test_indexing_matches_numpy(x, idx):
    assert np.array_equal(arr(x[idx]), arr(x).copy()[idx])


def test_indexing_with_tensors(x):
    a = arr(x)
    it = torch.tensor([1, 0])
    assert np.array_equal(arr(x[it]), a[[1, 0]])
    assert np.array_equal(arr(x[:, torch.tensor([2, 0])]), a[:, [2, 0]])
    mask = x > 10
    assert np.array_equal(arr(x[mask]), a[a > 10])
    row_mask = torch.tensor([True, False])
    assert np.array_equal(arr(x[row_mask]), a[[True, False]])
    assert x[torch.tensor(1)].shape == (3, 4)


def test_index_out_of_range_is_clear(x):
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 2"):
        x[5]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0, 0]


def test_iteration_len_and_unbind(x):
    assert len(x) == 2
    assert [t.shape for t in x] == [(3, 4), (3, 4)]
    assert [t.shape for t in x.unbind(1)] == [(2, 4)] * 3
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(torch.tensor(1.0))


# --------------------------------------------------------------------------- #
# __setitem__
# --------------------------------------------------------------------------- #
def test_setitem_variants():
    t = torch.zeros(3, 4)
    t[0] = 1.0
    t[1, 2] = 5
    t[:, 3] = torch.tensor([7.0, 8.0, 9.0])
    t[t == 0] = -1.0
    t[torch.tensor([2]), 0] = 3.0
    expect = np.array([[1, 1, 1, 7], [-1, -1, 5, 8], [3, -1, -1, 9]], dtype=np.float32)
    assert np.array_equal(arr(t), expect) and t.dtype == torch.float32
    assert t._version == 5


def test_setitem_casts_to_the_tensor_dtype_and_does_not_touch_shared_arrays():
    a = np.zeros(3, dtype=np.int64)
    t = torch.from_numpy(a)
    view = t[:2]
    t[0] = 2.7
    assert t.dtype == torch.int64 and t.tolist() == [2, 0, 0]
    assert a.tolist() == [0, 0, 0] and view.tolist() == [0, 0]  # arrays are never mutated


# --------------------------------------------------------------------------- #
# Shapes
# --------------------------------------------------------------------------- #
def test_view_reshape_and_errors():
    t = torch.arange(16.0)
    assert t.view(4, 4).shape == (4, 4) and t.view(-1, 8).shape == (2, 8)
    assert t.reshape((2, 2, 4)).shape == (2, 2, 4) and t.view(2, 8).view_as(t).shape == (16,)
    with pytest.raises(RuntimeError, match=r"shape '\[3, 5\]' is invalid for input of size 16"):
        t.view(3, 5)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        t.view(-1, -1)
    with pytest.raises(RuntimeError, match="is invalid for input of size 16"):
        t.reshape(3, -1)


def test_broadcast_to_and_expand():
    row = torch.tensor([1.0, 2.0, 3.0])
    assert torch.broadcast_to(row, (2, 3)).tolist() == [[1, 2, 3], [1, 2, 3]]
    assert row.expand(4, -1).shape == (4, 3)
    assert torch.ones(3, 1).expand(3, 5).shape == (3, 5)
    assert row.expand_as(torch.zeros(2, 3)).shape == (2, 3)
    with pytest.raises(RuntimeError) as e:
        torch.broadcast_to(torch.ones(2, 3), (3, 3))
    assert "Target sizes: [3, 3]" in str(e.value) and "Tensor sizes: [2, 3]" in str(e.value)
    with pytest.raises(RuntimeError, match="must match the existing size"):
        row.expand(2, 4)


def test_shape_methods():
    t = torch.arange(24.0).reshape(2, 3, 4)
    assert t.flatten().shape == (24,) and t.flatten(1).shape == (2, 12)
    assert t.flatten(0, 1).shape == (6, 4) and t.unflatten(2, (2, 2)).shape == (2, 3, 2, 2)
    assert t.permute(2, 0, 1).shape == (4, 2, 3) and t.transpose(0, 2).shape == (4, 3, 2)
    assert t[0].t().shape == (4, 3) and t.movedim(0, -1).shape == (3, 4, 2)
    assert t.unsqueeze(1).shape == (2, 1, 3, 4) and t.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert torch.zeros(1, 3, 1).squeeze().shape == (3,)
    assert torch.zeros(1, 3, 1).squeeze(0).shape == (3, 1)
    assert torch.zeros(2, 3).squeeze(0).shape == (2, 3)  # not size 1: left alone
    assert t.repeat(2, 1, 1).shape == (4, 3, 4) and t.contiguous() is t
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        t.t()
    with pytest.raises(IndexError, match="Dimension out of range"):
        t.transpose(0, 3)


def test_join_and_split():
    a, b = torch.ones(2, 3), torch.zeros(2, 3)
    assert torch.cat([a, b]).shape == (4, 3) and torch.cat((a, b), dim=1).shape == (2, 6)
    assert torch.concat([a, b], -1).shape == (2, 6)
    assert torch.stack([a, b]).shape == (2, 2, 3) and torch.stack([a, b], 2).shape == (2, 3, 2)
    assert [p.shape[0] for p in torch.arange(10).split(4)] == [4, 4, 2]
    assert [p.shape[0] for p in torch.arange(10).split([3, 7])] == [3, 7]
    assert [p.shape[0] for p in torch.arange(10).chunk(3)] == [4, 4, 2]
    assert torch.cat([torch.ones(2, dtype=torch.int64), torch.ones(2)]).dtype == torch.float32
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        torch.cat([torch.ones(2, 3), torch.ones(2, 4)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        torch.stack([torch.ones(2), torch.ones(3)])


# --------------------------------------------------------------------------- #
# Type promotion (PyTorch's rules, not NumPy's)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("make,dtype", [
    (lambda: torch.tensor([1, 2]) * 2.5, torch.float32),                  # NumPy: float64
    (lambda: torch.tensor([1, 2]) + torch.ones(2), torch.float32),        # NumPy: float64
    (lambda: torch.ones(2) + torch.ones(2, dtype=torch.float64), torch.float64),
    (lambda: torch.ones(2) + torch.tensor(1.0, dtype=torch.float64), torch.float32),
    (lambda: torch.ones(2, dtype=torch.int32) + torch.tensor(1), torch.int32),
    (lambda: torch.ones(2, dtype=torch.int32) + 1, torch.int32),
    (lambda: torch.tensor([1, 2]) / 2, torch.float32),
    (lambda: torch.tensor([True]) + 1, torch.int64),
    (lambda: torch.tensor([True]) * 1.5, torch.float32),
    (lambda: torch.ones(2, dtype=torch.float16) + torch.ones(2, dtype=torch.int64),
     torch.float16),
    (lambda: 2.0 ** torch.tensor([1, 2]), torch.float32),
    (lambda: torch.sqrt(torch.tensor([4])), torch.float32),
    (lambda: torch.ones(2) * np.float64(2.0), torch.float32),
    (lambda: torch.where(torch.tensor([True]), 1.0, 0.0), torch.float32),
    (lambda: torch.tensor([1, 2]).sum(), torch.int64),
])
def test_type_promotion(make, dtype):
    assert make().dtype == dtype


def test_result_type_and_promote_types():
    assert torch.result_type(torch.tensor([1, 2]), 2.5) == torch.float32
    assert torch.promote_types(torch.int64, torch.float16) == torch.float16
    assert torch.promote_types(torch.uint8, torch.int8) == torch.int16
    assert torch.promote_types(torch.complex64, torch.float64) == torch.complex128
    assert torch.can_cast(torch.int32, torch.float32)
    assert not torch.can_cast(torch.float32, torch.int64)


# --------------------------------------------------------------------------- #
# Conversions
# --------------------------------------------------------------------------- #
def test_item_tolist_float_int_format():
    loss = torch.tensor(0.123456)
    assert f"{loss:.3f}" == "0.123" and f"{torch.tensor([2]):d}" == "2"
    assert isinstance(loss.item(), float) and float(loss) == pytest.approx(0.123456)
    assert int(torch.tensor([3.7])) == 3 and torch.tensor([[1, 2]]).tolist() == [[1, 2]]
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted"):
        torch.ones(2).item()
    with pytest.raises(ValueError, match="only one element tensors"):
        float(torch.ones(2))
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{torch.ones(2):.3f}"
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(torch.ones(2))
    assert bool(torch.tensor([1.0])) and [10, 20][torch.tensor(1)] == 20


def test_numpy_and_array_interface():
    t = torch.arange(3.0)
    assert t.numpy().dtype == np.float32 and np.asarray(t).tolist() == [0, 1, 2]
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Use tensor.detach\(\).numpy\(\) instead"):
        x.numpy()
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(x)
    assert x.detach().numpy().tolist() == [1, 1]


def test_to_and_casts():
    t = torch.tensor([1.5, 2.5])
    assert t.to(torch.float64).dtype == torch.float64 and t.double().dtype == torch.float64
    assert t.long().tolist() == [1, 2] and t.int().dtype == torch.int32
    assert t.half().dtype == torch.float16 and t.bool().dtype == torch.bool
    assert t.to(torch.float32) is t and t.to("cpu", torch.float64).dtype == torch.float64
    assert t.type() == "torch.FloatTensor" and t.long().type() == "torch.LongTensor"
    assert t.type(torch.float64).dtype == torch.float64
    assert t.type("torch.DoubleTensor").dtype == torch.float64
    assert t.to(torch.zeros(1, dtype=torch.int64)).dtype == torch.int64
    assert t.type_as(torch.zeros(1, dtype=torch.float64)).dtype == torch.float64
    assert t.new_zeros(2, 2).dtype == torch.float32 and t.new_ones(3).shape == (3,)
    assert t.new_tensor([1, 2]).dtype == torch.float32
    assert t.new_full((2,), 4.0).tolist() == [4.0, 4.0]


def test_copy_deepcopy_pickle():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    c = copy.deepcopy(w)
    assert c is not w and c.requires_grad and c.grad.tolist() == [2.0, 4.0]
    p = pickle.loads(pickle.dumps(w))
    assert p.requires_grad and p.tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(w * 2)


# --------------------------------------------------------------------------- #
# In-place operations
# --------------------------------------------------------------------------- #
def test_inplace_methods():
    t = torch.ones(3)
    assert t.add_(1) is t and t.tolist() == [2, 2, 2]
    t.mul_(torch.tensor([1.0, 2.0, 3.0])).sub_(1).div_(2)
    assert t.tolist() == [0.5, 1.5, 2.5]
    t.clamp_(max=2.0)
    assert t.tolist() == [0.5, 1.5, 2.0]
    t.add_(torch.ones(3), alpha=2)
    assert t.tolist() == [2.5, 3.5, 4.0]
    t.zero_()
    assert t.tolist() == [0, 0, 0]
    t.fill_(7)
    assert t.tolist() == [7, 7, 7]
    t.copy_(torch.tensor([1, 2, 3]))
    assert t.tolist() == [1, 2, 3] and t.dtype == torch.float32
    t.unsqueeze_(0)
    assert t.shape == (1, 3)
    assert t._version == 10


def test_inplace_operators_rebind_the_same_tensor():
    t = torch.zeros(2)
    ref = t
    t += 1
    t *= 3
    t -= torch.ones(2)
    t /= 2
    t **= 2
    assert t is ref and t.tolist() == [1.0, 1.0] and t._version == 5


def test_inplace_dtype_and_shape_errors():
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        torch.zeros(3, dtype=torch.int64).add_(1.5)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                                           r"broadcast shape \[2, 3\]"):
        torch.zeros(3).add_(torch.ones(2, 3))
    t = torch.zeros(2, dtype=torch.float64)
    t += torch.ones(2, dtype=torch.float32)  # same category: allowed
    assert t.dtype == torch.float64


def test_random_inplace_fills():
    torch.manual_seed(3)
    a = torch.empty(1000).uniform_(-1, 1)
    assert a.min().item() >= -1 and a.max().item() < 1 and a.dtype == torch.float32
    torch.manual_seed(3)
    assert torch.equal(torch.empty(1000).uniform_(-1, 1), a)
    b = torch.zeros(20000, dtype=torch.float64).normal_(2.0, 0.5)
    assert b.dtype == torch.float64
    assert abs(b.mean().item() - 2.0) < 0.02 and abs(b.std().item() - 0.5) < 0.02
    with pytest.raises(RuntimeError, match="leaf Variable"):
        torch.zeros(2, requires_grad=True).normal_()


# --------------------------------------------------------------------------- #
# Randomness
# --------------------------------------------------------------------------- #
def test_manual_seed_reproducibility_and_random_factories():
    torch.manual_seed(42)
    a = (torch.rand(3), torch.randn(2, 2), torch.randint(0, 10, (4,)), torch.randperm(5))
    torch.manual_seed(42)
    b = (torch.rand(3), torch.randn(2, 2), torch.randint(0, 10, (4,)), torch.randperm(5))
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    assert a[0].dtype == torch.float32 and a[1].shape == (2, 2)
    assert a[2].dtype == torch.int64 and 0 <= a[2].min().item() and a[2].max().item() < 10
    assert sorted(a[3].tolist()) == [0, 1, 2, 3, 4]
    assert torch.randint(5, (3,)).max().item() < 5  # randint(high, size)
    assert not torch.equal(torch.randn(3), torch.randn(3))


def test_normal_forms_and_generator():
    torch.manual_seed(0)
    assert torch.normal(0.0, 1.0, size=(2, 3)).shape == (2, 3)
    m = torch.normal(torch.zeros(4), torch.ones(4))
    assert m.shape == (4,) and m.dtype == torch.float32
    g = torch.Generator().manual_seed(5)
    x = torch.randn(3, generator=g)
    g.manual_seed(5)
    assert torch.equal(torch.randn(3, generator=g), x)
    assert torch.rand_like(torch.zeros(2, dtype=torch.float64)).dtype == torch.float64
    assert torch.randn_like(torch.zeros(2, 2)).shape == (2, 2)
    state = torch.get_rng_state()
    u = torch.rand(2)
    torch.set_rng_state(state)
    assert torch.equal(torch.rand(2), u)


# --------------------------------------------------------------------------- #
# Top-level math and reductions
# --------------------------------------------------------------------------- #
A = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -0.5]], dtype=np.float32)

MATH = [
    ("exp", torch.exp, np.exp), ("log_abs", lambda t: torch.log(torch.abs(t)),
                                 lambda a: np.log(np.abs(a))),
    ("sqrt_abs", lambda t: torch.sqrt(t.abs()), lambda a: np.sqrt(np.abs(a))),
    ("sin", torch.sin, np.sin), ("cos", torch.cos, np.cos), ("tanh", torch.tanh, np.tanh),
    ("sigmoid", torch.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    ("relu", torch.relu, lambda a: np.maximum(a, 0)),
    ("neg", torch.neg, np.negative), ("sign", torch.sign, np.sign),
    ("pow", lambda t: torch.pow(t, 2), lambda a: a ** 2),
    ("clamp", lambda t: torch.clamp(t, -0.5, 1.0), lambda a: np.clip(a, -0.5, 1.0)),
    ("clip_min", lambda t: t.clip(min=0.0), lambda a: np.maximum(a, 0)),
    ("maximum", lambda t: torch.maximum(t, t.T.reshape(2, 3)),
     lambda a: np.maximum(a, a.T.reshape(2, 3))),
    ("sum_dim", lambda t: torch.sum(t, 1), lambda a: a.sum(1)),
    ("sum_keepdim", lambda t: t.sum(dim=0, keepdim=True), lambda a: a.sum(0, keepdims=True)),
    ("mean", torch.mean, np.mean), ("std", torch.std, lambda a: a.std(ddof=1)),
    ("var_dim", lambda t: torch.var(t, 0, unbiased=False), lambda a: a.var(0)),
    ("var_correction", lambda t: t.var(dim=1, correction=0), lambda a: a.var(1)),
    ("prod", lambda t: t.prod(1), lambda a: a.prod(1)),
    ("amax", lambda t: t.amax(1), lambda a: a.max(1)),
    ("cumsum", lambda t: torch.cumsum(t, dim=1), lambda a: a.cumsum(1)),
    ("logsumexp", lambda t: torch.logsumexp(t, 1),
     lambda a: np.log(np.exp(a).sum(1))),
    ("softmax", lambda t: torch.softmax(t, dim=0),
     lambda a: np.exp(a) / np.exp(a).sum(0)),
    ("log_softmax", lambda t: torch.log_softmax(t, dim=1),
     lambda a: a - np.log(np.exp(a).sum(1, keepdims=True))),
    ("norm", torch.norm, np.linalg.norm), ("norm_p1", lambda t: t.norm(p=1, dim=1),
                                           lambda a: np.abs(a).sum(1)),
    ("matmul", lambda t: torch.matmul(t, t.T), lambda a: a @ a.T),
    ("mm", lambda t: torch.mm(t.T, t), lambda a: a.T @ a),
    ("outer", lambda t: torch.outer(t[0], t[1]), lambda a: np.outer(a[0], a[1])),
    ("dot", lambda t: torch.dot(t[0], t[1]), lambda a: a[0] @ a[1]),
    ("einsum", lambda t: torch.einsum("ij,kj->ik", t, t), lambda a: a @ a.T),
    ("tril", torch.tril, np.tril), ("triu", lambda t: torch.triu(t, 1),
                                     lambda a: np.triu(a, 1)),
    ("where", lambda t: torch.where(t > 0, t, torch.zeros_like(t)),
     lambda a: np.where(a > 0, a, 0)),
    ("masked_fill", lambda t: t.masked_fill(t < 0, 9.0), lambda a: np.where(a < 0, 9, a)),
    ("gather", lambda t: torch.gather(t, 1, torch.tensor([[2, 0], [1, 1]])),
     lambda a: np.take_along_axis(a, np.array([[2, 0], [1, 1]]), 1)),
    ("index_select", lambda t: t.index_select(1, torch.tensor([2, 0])), lambda a: a[:, [2, 0]]),
    ("flip", lambda t: t.flip(0), lambda a: a[::-1]),
    ("div_floor", lambda t: torch.div(t, 0.3, rounding_mode="floor"),
     lambda a: np.floor_divide(a, np.float32(0.3))),
    ("remainder", lambda t: t % 0.75, lambda a: np.remainder(a, np.float32(0.75))),
]


@pytest.mark.parametrize("name,f,ref", MATH, ids=[m[0] for m in MATH])
def test_top_level_math_matches_numpy(name, f, ref):
    out = f(torch.from_numpy(A.copy()))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(arr(out), ref(A), rtol=1e-6, atol=1e-6)
    assert out.dtype == np.asarray(ref(A)).dtype or out.dtype == torch.float32


def test_max_min_semantics():
    t = torch.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    assert torch.max(t).item() == 7.0 and t.min().item() == 0.0
    r = torch.max(t, 1)
    assert r.values.tolist() == [5.0, 7.0] and r.indices.tolist() == [1, 0]
    values, indices = t.min(dim=0, keepdim=True)
    assert values.shape == (1, 3) and indices.tolist() == [[0, 1, 0]]
    assert torch.max(t, torch.full((2, 3), 3.0)).tolist() == [[3, 5, 3], [7, 3, 7]]
    assert t.argmax().item() == 3 and t.argmax(dim=1).tolist() == [1, 0]
    assert t.argmin(1, keepdim=True).shape == (2, 1)


def test_sorting():
    t = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    s = torch.sort(t)
    assert s.values.tolist() == [[1, 2, 3], [0, 4, 5]] and s.indices.tolist() == [[1, 2, 0],
                                                                                   [0, 2, 1]]
    assert t.sort(dim=1, descending=True).values.tolist() == [[3, 2, 1], [5, 4, 0]]
    assert t.argsort(dim=0).tolist() == [[1, 0, 0], [0, 1, 1]]
    v, i = torch.topk(t, 2)
    assert v.tolist() == [[3, 2], [5, 4]] and i.tolist() == [[0, 2], [1, 2]]
    assert t.topk(1, dim=0, largest=False).values.tolist() == [[0, 1, 2]]
    assert t.flatten().median().item() == 2.0
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        t.topk(4)


def test_comparisons_and_logic():
    a, b = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, 3.5])
    assert (a == b).tolist() == [True, False, False] and (a > b).dtype == torch.bool
    assert a.eq(b).tolist() == (a == b).tolist() and a.ge(2).tolist() == [False, True, True]
    assert torch.equal(a, a.clone()) and not torch.equal(a, b)
    assert not torch.equal(a, torch.ones(2))
    assert torch.allclose(a, a + 1e-7) and not torch.allclose(a, b)
    assert torch.isclose(a, b).tolist() == [True, False, False]
    assert (~(a > 1)).tolist() == [True, False, False]
    assert ((a > 1) & (b > 1)).tolist() == [False, False, True]
    assert torch.all(a > 0).item() and not torch.any(a > 5).item()
    assert (a > 1).any(dim=0).item() and torch.is_tensor(a) and not torch.is_tensor([1])
    assert 2.0 in a and 9.0 not in a


def test_matmul_needs_one_dtype():
    with pytest.raises(RuntimeError, match="same dtype.*b.to\\(a.dtype\\)"):
        torch.ones(2, 2) @ torch.ones(2, 2, dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 "
                                           r"and 2x3\)"):
        torch.mm(torch.ones(2, 3), torch.ones(2, 3))


def test_mean_of_integers_needs_a_dtype():
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        torch.tensor([1, 2]).mean()
    assert torch.tensor([1, 2]).mean(dtype=torch.float64).item() == 1.5


# --------------------------------------------------------------------------- #
# Printing
# --------------------------------------------------------------------------- #
def test_repr_like_pytorch():
    assert repr(torch.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(torch.tensor([0.5, -2.25])) == "tensor([ 0.5000, -2.2500])"
    assert repr(torch.tensor([1, 2], dtype=torch.int32)) == "tensor([1, 2], dtype=torch.int32)"
    assert repr(torch.tensor(3.0, requires_grad=True)) == "tensor(3., requires_grad=True)"
    assert repr(torch.tensor([1.0], requires_grad=True) * 2) == \
        "tensor([2.], grad_fn=<MulBackward0>)"
    assert repr(torch.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"
    assert "..." in repr(torch.zeros(2000))
    assert str(torch.tensor([True])) == "tensor([True])"
    assert str(torch.tensor([True, False])) == "tensor([ True, False])"


def test_repr_of_traced_tensor_does_not_concretize():
    seen = []
    fg.grad(lambda t: (seen.append(repr(t)), (t * t).sum())[1])(torch.ones(2))
    assert seen and seen[0].startswith("tensor(<traced")


# --------------------------------------------------------------------------- #
# The tutorial example
# --------------------------------------------------------------------------- #
def test_tensor_basics_example_runs(capsys):
    runpy.run_path(str(ROOT / "examples" / "tensor_basics.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "First row: tensor([0., 1., 2., 3.])" in out
    assert "b.grad: tensor([0.2075, 0.1833, 0.1996])" in out
    assert "second derivative in x.grad: tensor([ 6., 12., 18.])" in out
    assert "Target sizes: [3, 5].  Tensor sizes: [4]" in out
