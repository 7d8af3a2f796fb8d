"""nn.Module: registration, iteration, modes, state_dict, conversion, hooks, containers,
the pytree bridge (grad / vmap / functional_call over models) and nn.utils."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.nn as nn
import funcgrad.nn.functional as F
from funcgrad.tree_util import keystr, tree_flatten_with_path, tree_leaves, tree_map

pytestmark = [*globals().get("pytestmark", []), pytest.mark.usefixtures("on_backend")]  # every backend


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 5)
        self.block = nn.Sequential(nn.Linear(5, 5), nn.BatchNorm1d(5))
        self.head = nn.Linear(5, 3, bias=False)
        self.register_buffer("scale", fg.Tensor(np.array(2.0, np.float32)))
        self.register_buffer("cache", fg.Tensor(np.zeros(3, np.float32)), persistent=False)

    def forward(self, x):
        return self.head(F.relu(self.block(self.fc1(x)))) * self.scale


def _x(*shape, seed=0):
    return fg.Tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


# --------------------------------------------------------------------------- #
# Registration and iteration
# --------------------------------------------------------------------------- #
def test_named_parameters_buffers_children_modules():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "fc1.weight", "fc1.bias", "block.0.weight", "block.0.bias", "block.1.weight",
        "block.1.bias", "head.weight"]
    assert [n for n, _ in net.named_buffers()] == [
        "scale", "cache", "block.1.running_mean", "block.1.running_var",
        "block.1.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["fc1", "block", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "block", "block.0", "block.1",
                                                   "head"]
    assert len(list(net.parameters())) == 7
    assert [n for n, _ in net.named_parameters(recurse=False)] == []
    assert [n for n, _ in net.block.named_parameters(prefix="b")][0] == "b.0.weight"
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())


def test_shared_parameters_appear_once():
    m = nn.Module()
    m.a = nn.Linear(3, 3)
    m.b = nn.Linear(3, 3)
    m.b.weight = m.a.weight
    names = [n for n, _ in m.named_parameters()]
    assert names == ["a.weight", "a.bias", "b.bias"]
    assert len(list(m.named_parameters(remove_duplicate=False))) == 4
    m.c = m.a  # the same module twice
    assert [n for n, _ in m.named_modules()] == ["", "a", "b"]
    assert list(m.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias", "c.weight",
                                    "c.bias"]


def test_setattr_rules_and_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign 'Tensor' as parameter 'weight' "
                                        r"\(torch.nn.Parameter or None expected\)"):
        m.weight = fg.Tensor(np.ones((2, 2)))
    m.bias = None
    assert m.bias is None and "bias" in m._parameters
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'foo'"):
        m.foo  # noqa: B018
    m.foo = 3  # plain attribute
    assert m.foo == 3
    del m.weight
    assert "weight" not in dict(m.named_parameters())

    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Bad()
    with pytest.raises(KeyError, match="contain"):
        nn.Module().register_buffer("a.b", None)
    with pytest.raises(TypeError, match="buffer"):
        nn.Module().register_buffer("a", np.ones(2))


def test_buffer_reassignment_and_persistence():
    net = Net()
    net.scale = fg.Tensor(np.array(3.0, np.float32))
    assert net.scale._data == 3.0 and "scale" in net._buffers
    with pytest.raises(TypeError, match="cannot assign 'int' as buffer 'scale'"):
        net.scale = 1
    sd = net.state_dict()
    assert "cache" not in sd and "scale" in sd


def test_train_eval_and_requires_grad_and_zero_grad():
    net = Net()
    assert net.training and net.block[1].training
    net.eval()
    assert not net.training and not net.block[1].training
    net.train()
    assert net.block[1].training
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_(True)
    net(_x(3, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not np.any(p.grad._data) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = lin(_x(3, 2))
    np.testing.assert_allclose(out._data, np.broadcast_to(lin.bias._data + 1, (3, 2)))
    assert calls == [fg.Size([3, 2])]
    h1.remove()
    h2.remove()
    assert not lin._forward_hooks and not lin._forward_pre_hooks


def test_apply_and_get_submodule():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Linear", "BatchNorm1d", "Sequential", "Linear", "Net"]
    assert net.get_submodule("block.1") is net.block[1]
    assert net.get_parameter("block.0.bias") is net.block[0].bias
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        net.get_submodule("block.nope")


# --------------------------------------------------------------------------- #
# state_dict / load_state_dict
# --------------------------------------------------------------------------- #
def test_state_dict_values_are_detached_tensors():
    lin = nn.Linear(3, 2)
    sd = lin.state_dict()
    assert list(sd) == ["weight", "bias"]
    assert type(sd["weight"]) is fg.Tensor and not sd["weight"].requires_grad
    np.testing.assert_array_equal(sd["weight"]._data, lin.weight._data)
    assert lin.state_dict(keep_vars=True)["weight"] is lin.weight


def test_load_state_dict_roundtrip_and_copies():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    x = _x(4, 4)
    np.testing.assert_allclose(a(x)._data, b(x)._data)
    w_before = b.fc1.weight
    res = b.load_state_dict({k: np.asarray(v._data, dtype=np.float64)
                             for k, v in a.state_dict().items()})
    assert b.fc1.weight is w_before and b.fc1.weight.dtype == np.float32
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert b.fc1.weight._version >= 1


def test_load_state_dict_errors_list_keys_and_shapes():
    net = Net()
    sd = net.state_dict()
    del sd["head.weight"]
    sd["extra"] = fg.Tensor(np.ones(1))
    sd["fc1.weight"] = fg.Tensor(np.ones((3, 4)))
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    msg = str(err.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:")
    assert 'Missing key(s) in state_dict: "head.weight".' in msg
    assert 'Unexpected key(s) in state_dict: "extra".' in msg
    assert ("size mismatch for fc1.weight: copying a param with shape [3, 4] from checkpoint, "
            "the shape in current model is [5, 4].") in msg
    assert msg.index("Missing") < msg.index("Unexpected") < msg.index("size mismatch")
    del sd["fc1.weight"]
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc1.weight", "head.weight"]
    assert res.unexpected_keys == ["extra"]


def test_load_state_dict_from_torch_tensors():
    torch = pytest.importorskip("torch",
                                reason="parity tests need PyTorch (pip install torch==2.13.0)")
    t = torch.nn.Linear(3, 2)
    f = nn.Linear(3, 2)
    f.load_state_dict(t.state_dict())
    np.testing.assert_array_equal(f.weight._data, t.weight.detach().numpy())


# --------------------------------------------------------------------------- #
# Conversion, copying, printing
# --------------------------------------------------------------------------- #
def test_to_double_float_keeps_parameter_objects():
    net = Net()
    w = net.fc1.weight
    net.double()
    assert net.fc1.weight is w and isinstance(w, nn.Parameter) and w.dtype == np.float64
    assert net.block[1].running_mean.dtype == np.float64
    assert net.block[1].num_batches_tracked.dtype == np.int64  # integer buffers stay
    net.to(fg.float32)
    assert w.dtype == np.float32
    net.to(dtype=np.float64).to("cpu")
    assert w.dtype == np.float64 and w.requires_grad
    with pytest.raises(TypeError, match="floating point"):
        net.to(np.int32)


def test_deepcopy_and_pickle_give_independent_models():
    net = Net()
    clone = copy.deepcopy(net)
    assert clone.fc1.weight is not net.fc1.weight
    np.testing.assert_array_equal(clone.fc1.weight._data, net.fc1.weight._data)
    clone(_x(2, 4)).sum().backward()
    assert net.fc1.weight.grad is None and clone.fc1.weight.grad is not None
    restored = pickle.loads(pickle.dumps(net))
    assert isinstance(restored.fc1.weight, nn.Parameter)
    np.testing.assert_array_equal(restored.fc1.weight._data, net.fc1.weight._data)


def test_repr_nested_and_parameter_repr():
    net = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.2)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.2, inplace=False)\n"
        "  )\n"
        ")")
    p = nn.Parameter(fg.Tensor(np.zeros(2, np.float32)))
    assert repr(p).startswith("Parameter containing:\ntensor([0., 0.]")
    assert "requires_grad=True" in repr(p)
    assert "fc1" in dir(Net())


# --------------------------------------------------------------------------- #
# Containers
# --------------------------------------------------------------------------- #
def test_sequential_indexing_slicing_and_mutation():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is seq[1]
    seq.append(nn.Sigmoid())
    assert list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and isinstance(seq[1], nn.Linear)
    seq.insert(1, nn.Tanh())
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear", "Sigmoid"]
    assert seq(_x(5, 2)).shape == fg.Size([5, 1])
    with pytest.raises(IndexError, match="out of range"):
        seq[10]  # noqa: B018
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert len(seq + named) == 6


def test_modulelist_moduledict_parameterlist_parameterdict():
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    ml.append(nn.ReLU())
    ml += [nn.Tanh()]
    assert len(ml) == 4 and isinstance(ml[1:3], nn.ModuleList)
    assert [n for n, _ in ml.named_parameters()][:2] == ["0.weight", "0.bias"]
    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert list(md.keys()) == ["enc", "dec"] and "enc" in md
    assert list(md.state_dict())[0] == "enc.weight"
    pl = nn.ParameterList([nn.Parameter(fg.Tensor(np.ones(2))), fg.Tensor(np.zeros(3))])
    assert len(pl) == 2 and isinstance(pl[1], nn.Parameter)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    pd = nn.ParameterDict({"a": nn.Parameter(fg.Tensor(np.ones(1)))})
    pd["b"] = fg.Tensor(np.ones(2))
    assert list(pd.keys()) == ["a", "b"] and list(pd.state_dict()) == ["a", "b"]


# --------------------------------------------------------------------------- #
# The pytree bridge
# --------------------------------------------------------------------------- #
def _mlp():
    fg.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()


def _data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((5, 4)), np.array([0, 2, 1, 1, 0])


def test_module_is_a_pytree_with_dotted_keys():
    net = Net()
    paths = [keystr(p) for p, _ in tree_flatten_with_path(net)[0]]
    assert paths == [".fc1.weight", ".fc1.bias", ".block.0.weight", ".block.0.bias",
                     ".block.1.weight", ".block.1.bias", ".head.weight", ".scale", ".cache",
                     ".block.1.running_mean", ".block.1.running_var"]
    leaves = tree_leaves(net)
    assert leaves[0] is net.fc1.weight._data
    doubled = tree_map(lambda v: v * 2, net)
    assert type(doubled) is Net and doubled is not net
    assert isinstance(doubled.fc1.weight, nn.Parameter)
    np.testing.assert_allclose(doubled.fc1.weight._data, 2 * net.fc1.weight._data)
    assert doubled.fc1.in_features == 4
    # the integer buffer is static and shared
    assert doubled.block[1].num_batches_tracked is net.block[1].num_batches_tracked


def test_grad_over_model_equals_backward():
    model = _mlp()
    x, y = _data()

    def loss_fn(m, x, y):
        return F.cross_entropy(m(x), y)
    grads = fg.grad(loss_fn)(model, x, y)
    assert type(grads) is nn.Sequential
    loss_fn(model, fg.Tensor(x), fg.Tensor(y)).backward()
    for (name, p), (gname, g) in zip(model.named_parameters(), grads.named_parameters()):
        assert name == gname
        np.testing.assert_array_equal(g._data, p.grad._data)  # the same engine: bit-identical
    # a functional SGD step over the two trees
    new = tree_map(lambda p, g: p - 0.1 * g, model, grads)
    assert float(loss_fn(new, x, y)._data) < float(loss_fn(model, x, y)._data)


def test_grad_with_shared_parameters_sums_both_uses():
    m = nn.Module()
    m.a = nn.Linear(3, 3, bias=False).double()
    m.b = nn.Linear(3, 3, bias=False).double()
    m.b.weight = m.a.weight
    x = np.random.default_rng(0).standard_normal((2, 3))
    g = fg.grad(lambda mod: (mod.b(mod.a(x)) ** 2).sum())(m)
    assert g.a.weight is g.b.weight
    (m.b(m.a(fg.Tensor(x))) ** 2).sum().backward()
    np.testing.assert_allclose(g.a.weight._data, m.a.weight.grad._data, rtol=1e-12)


def test_vmap_of_model_equals_batched_forward():
    model = _mlp()
    x, _ = _data()
    per_example = fg.vmap(lambda xi: model(xi))(x)
    np.testing.assert_allclose(np.asarray(per_example._data), model(fg.Tensor(x))._data,
                               rtol=1e-12)
    # ensembling: vmap over a stack of models' parameters
    stacked = tree_map(lambda *vs: np.stack(vs), _mlp(), tree_map(lambda v: v * 0.5, _mlp()))
    outs = fg.vmap(lambda m: m(x))(stacked)
    np.testing.assert_allclose(np.asarray(outs._data)[0], model(fg.Tensor(x))._data, rtol=1e-12)


def test_functional_call_with_doubled_weights():
    model = _mlp()
    x, _ = _data()
    params = {k: v * 2 for k, v in model.state_dict().items()}
    out = nn.functional_call(model, params, (fg.Tensor(x),))
    w1, b1, w2, b2 = (params[k]._data for k in ("0.weight", "0.bias", "2.weight", "2.bias"))
    expect = np.tanh(x @ w1.T + b1) @ w2.T + b2
    np.testing.assert_allclose(out._data, expect, rtol=1e-12)
    np.testing.assert_allclose(model[0].weight._data, w1 / 2)  # the model is unchanged
    # gradients flow to the given tensors; functional_call composes with grad
    w = fg.Tensor(w1, requires_grad=True)
    nn.functional_call(model, {"0.weight": w}, fg.Tensor(x)).sum().backward()
    assert w.grad is not None and model[0].weight.grad is None
    g = fg.grad(lambda p: nn.functional_call(model, p, (x,)).sum())(
        {k: v._data for k, v in model.named_parameters()})
    assert set(g) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    with pytest.raises(ValueError, match="unexpected key"):
        nn.functional_call(model, {"nope": w1}, (x,))
    with pytest.raises(ValueError, match="missing"):
        nn.functional_call(model, {"0.weight": w1}, (x,), strict=True)


def test_batchnorm_under_grad_updates_running_stats_like_backward():
    x = np.random.default_rng(0).standard_normal((6, 3))
    bn = nn.BatchNorm1d(3).double()
    ref = copy.deepcopy(bn)
    g = fg.grad(lambda m: (m(x) ** 3).sum())(bn)
    (ref(fg.Tensor(x)) ** 3).sum().backward()
    np.testing.assert_allclose(g.weight._data, ref.weight.grad._data, rtol=1e-12)
    np.testing.assert_allclose(g.bias._data, ref.bias.grad._data, rtol=1e-12)
    # running statistics reach the model (as with loss.backward()), once per call
    np.testing.assert_allclose(bn.running_mean._data, ref.running_mean._data, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var._data, ref.running_var._data, rtol=1e-12)
    assert int(bn.num_batches_tracked._data) == int(ref.num_batches_tracked._data) == 1
    assert not isinstance(bn.running_mean._data, fg.core.Tracer)


def test_batchnorm_under_vmap_explains_the_leak():
    bn = nn.BatchNorm1d(3).double()
    x = np.random.default_rng(0).standard_normal((4, 5, 3))
    with pytest.raises(RuntimeError, match="model.eval"):
        fg.vmap(lambda xi: bn(xi))(x)
    bn.eval()
    out = fg.vmap(lambda xi: bn(xi))(x)
    assert out.shape == (4, 5, 3)


# --------------------------------------------------------------------------- #
# nn.utils
# --------------------------------------------------------------------------- #
def test_clip_grad_norm_and_value():
    torch = None
    p1 = nn.Parameter(fg.Tensor(np.zeros(3)))
    p2 = nn.Parameter(fg.Tensor(np.zeros(2)))
    p1.grad = fg.Tensor(np.array([3.0, 0.0, 0.0]))
    p2.grad = fg.Tensor(np.array([0.0, 4.0]))
    total = nn.utils.clip_grad_norm_([p1, p2], max_norm=1.0)
    assert isinstance(total, fg.Tensor)
    np.testing.assert_allclose(total._data, 5.0)
    np.testing.assert_allclose(p1.grad._data, [3 / (5 + 1e-6), 0, 0])
    total = nn.utils.clip_grad_norm_([p1, p2], max_norm=10.0, norm_type="inf")
    np.testing.assert_allclose(total._data, 4 / (5 + 1e-6))
    p2.grad = fg.Tensor(np.array([np.inf, 0.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p1, p2], 1.0, error_if_nonfinite=True)
    p1.grad = fg.Tensor(np.array([3.0, -0.2, -5.0]))
    nn.utils.clip_grad_value_(p1, 1.0)
    np.testing.assert_allclose(p1.grad._data, [1.0, -0.2, -1.0])
    assert torch is None


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch",
                                reason="parity tests need PyTorch (pip install torch==2.13.0)")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s) for s in ((3, 2), (4,))]
    for norm_type in (2.0, 1.0, 3.0, float("inf")):
        tp = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        fp = [nn.Parameter(fg.Tensor(np.zeros(g.shape))) for g in grads]
        for t, f, g in zip(tp, fp, grads):
            t.grad = torch.tensor(g)
            f.grad = fg.Tensor(g.copy())
        tn = torch.nn.utils.clip_grad_norm_(tp, 0.5, norm_type)
        fn = nn.utils.clip_grad_norm_(fp, 0.5, norm_type)
        np.testing.assert_allclose(fn._data, tn.numpy(), rtol=1e-12)
        for t, f in zip(tp, fp):
            np.testing.assert_allclose(f.grad._data, t.grad.numpy(), rtol=1e-12)


def test_parameters_to_vector_roundtrip():
    lin = nn.Linear(3, 2)
    v = nn.utils.parameters_to_vector(lin.parameters())
    assert v.shape == fg.Size([8])
    nn.utils.vector_to_parameters(v * 0 + 1, lin.parameters())
    assert np.all(lin.weight._data == 1) and lin.weight.dtype == np.float32
