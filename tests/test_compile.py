"""funcgrad.compile / compile_step: the jit's speed on the PyTorch-style front.

The reference is always the eager loop (zero_grad / backward / step) on an
identically initialised model: compiled training must give the same
parameters, buffers, optimizer state and random draws, bit for bit.
"""
import logging
import warnings
import weakref

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.nn as nn
import funcgrad.nn.functional as F
import funcgrad.optim as optim
import funcgrad.random as fr
from funcgrad._compile_support import split_program
from funcgrad.compile import CompiledModule, compile, compile_step
from funcgrad.core import ConcretizationError
from funcgrad.ir import make_ir

RNG = np.random.default_rng(0)


def _batches(n, x_shape, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    return [(fg.tensor(rng.standard_normal(x_shape).astype(np.float32)),
             fg.tensor(rng.integers(0, n_classes, x_shape[0]))) for _ in range(n)]


def mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 3))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(6, 3))


def bn_dropout_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Dropout(0.3), nn.Linear(4 * 4 * 4, 8), nn.BatchNorm1d(8),
                         nn.ReLU(), nn.Linear(8, 3))


def _twins(make, seed=0):
    fg.manual_seed(seed)
    a = make()
    fg.manual_seed(seed)
    return a, make()


def _eager_steps(model, opt, loss_fn, batches, scheduler=None):
    losses = []
    for x, y in batches:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
    return losses


def assert_same_training_state(m1, o1, m2, o2):
    s1, s2 = m1.state_dict(), m2.state_dict()
    assert list(s1) == list(s2)
    for k in s1:
        np.testing.assert_array_equal(s1[k]._data, s2[k]._data, err_msg=k)
        assert s1[k].dtype == s2[k].dtype
    d1, d2 = o1.state_dict(), o2.state_dict()
    assert d1["param_groups"] == d2["param_groups"]
    assert d1["state"].keys() == d2["state"].keys()
    for i in d1["state"]:
        assert d1["state"][i].keys() == d2["state"][i].keys()
        for k, v in d1["state"][i].items():
            w = d2["state"][i][k]
            np.testing.assert_array_equal(np.asarray(v._data), np.asarray(w._data))
            assert v.dtype == w.dtype


# --------------------------------------------------------------------------- #
# compile_step == the eager loop, bit for bit
# --------------------------------------------------------------------------- #
CASES = [
    ("mlp-sgd-momentum", mlp, (8, 6), optim.SGD, dict(lr=0.1, momentum=0.9)),
    ("mlp-sgd-nesterov-wd", mlp, (8, 6), optim.SGD,
     dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("cnn-adam", cnn, (4, 1, 6, 6), optim.Adam, dict(lr=1e-2)),
    ("mlp-adamw-amsgrad", mlp, (8, 6), optim.AdamW, dict(lr=1e-2, amsgrad=True)),
    ("bn-dropout-sgd", bn_dropout_net, (8, 1, 6, 6), optim.SGD,
     dict(lr=0.05, momentum=0.9, dampening=0.1)),
    ("mlp-rmsprop", mlp, (8, 6), optim.RMSprop, dict(lr=1e-2, momentum=0.5, centered=True)),
    ("mlp-adagrad", mlp, (8, 6), optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
]


@pytest.mark.parametrize("name, make, x_shape, opt_cls, kw", CASES, ids=[c[0] for c in CASES])
def test_compile_step_matches_eager_bitwise(name, make, x_shape, opt_cls, kw):
    batches = _batches(10, x_shape, 3)
    m1, m2 = _twins(make)
    o1, o2 = opt_cls(m1.parameters(), **kw), opt_cls(m2.parameters(), **kw)
    loss_fn = nn.CrossEntropyLoss()
    fg.manual_seed(7)  # dropout masks come from the global generator
    eager = _eager_steps(m1, o1, loss_fn, batches)
    key_after_eager = fr.default_generator.get_state()
    fg.manual_seed(7)
    step = compile_step(m2, o2, loss_fn)
    compiled = [step(x, y).item() for x, y in batches]
    assert compiled == eager
    assert_same_training_state(m1, o1, m2, o2)
    # the same number of draws was taken from the generator, in the same order
    np.testing.assert_array_equal(fr.default_generator.get_state(), key_after_eager)
    # SGD with momentum compiles twice (first step: no buffer yet), the others once
    assert step.cache_info()["traces"] == (2 if opt_cls is optim.SGD else 1)


def test_batchnorm_running_stats_and_counter_are_updated():
    m1, m2 = _twins(bn_dropout_net)
    o1, o2 = optim.Adam(m1.parameters()), optim.Adam(m2.parameters())
    batches = _batches(3, (8, 1, 6, 6), 3)
    step = compile_step(m2, o2, nn.CrossEntropyLoss())
    fg.manual_seed(1)
    _eager_steps(m1, o1, nn.CrossEntropyLoss(), batches)
    fg.manual_seed(1)
    for x, y in batches:
        step(x, y)
    bn = m2[1]
    assert int(bn.num_batches_tracked.item()) == 3
    assert not np.array_equal(bn.running_mean._data, np.zeros(4, np.float32))
    np.testing.assert_array_equal(bn.running_var._data, m1[1].running_var._data)


def test_eval_mode_keeps_buffers_and_retraces_once_per_mode():
    fg.manual_seed(0)
    model = bn_dropout_net()
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = compile_step(model, opt, nn.CrossEntropyLoss())
    (x, y), = _batches(1, (8, 1, 6, 6), 3)
    step(x, y)
    model.eval()
    before = {k: v._data.copy() for k, v in model.named_buffers()}
    step(x, y)
    step(x, y)
    for k, v in model.named_buffers():
        np.testing.assert_array_equal(v._data, before[k], err_msg=k)
    model.train()
    step(x, y)
    assert step.cache_info()["traces"] == 2


# --------------------------------------------------------------------------- #
# what retraces and what does not
# --------------------------------------------------------------------------- #
def test_no_retrace_across_steps_and_learning_rate_changes(caplog):
    m1, m2 = _twins(mlp)
    o1 = optim.SGD(m1.parameters(), lr=0.1, momentum=0.9)
    o2 = optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
    s1 = optim.lr_scheduler.StepLR(o1, step_size=2, gamma=0.5)
    s2 = optim.lr_scheduler.StepLR(o2, step_size=2, gamma=0.5)
    batches = _batches(8, (8, 6), 3)
    step = compile_step(m2, o2, nn.CrossEntropyLoss())
    with fg.config.override(log_retraces=True):
        with caplog.at_level(logging.WARNING, logger="funcgrad.jit"):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # no "scheduler before optimizer" warning
                for x, y in batches[:2]:
                    step(x, y)
                    s2.step()
                traces = step.cache_info()["traces"]
                caplog.clear()
                for x, y in batches[2:]:
                    step(x, y)
                    s2.step()
                    o2.param_groups[0]["lr"] *= 1.01  # a hand-made change too
    assert step.cache_info()["traces"] == traces == 2
    assert not caplog.records
    for x, y in batches:
        o1.zero_grad()
        nn.CrossEntropyLoss()(m1(x), y).backward()
        o1.step()
        s1.step()
        o1.param_groups[0]["lr"] *= 1.01 if s1.last_epoch > 2 else 1.0
    assert_same_training_state(m1, o1, m2, o2)


def test_retrace_on_new_batch_shape_only():
    fg.manual_seed(0)
    model = mlp()
    step = compile_step(model, optim.Adam(model.parameters()), nn.CrossEntropyLoss())
    (x, y), = _batches(1, (8, 6), 3)
    (x5, y5), = _batches(1, (5, 6), 3, seed=1)
    step(x, y)
    step(x, y)
    assert step.cache_info()["traces"] == 1
    step(x5, y5)  # the last, smaller batch of an epoch
    assert step.cache_info()["traces"] == 2
    step(x, y)
    step(x5, y5)
    assert step.cache_info()["traces"] == 2


def test_hyperparameter_change_retraces_and_is_honoured():
    m1, m2 = _twins(mlp)
    o1 = optim.SGD(m1.parameters(), lr=0.1, momentum=0.9)
    o2 = optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
    batches = _batches(4, (8, 6), 3)
    step = compile_step(m2, o2, nn.CrossEntropyLoss())
    for i, (x, y) in enumerate(batches):
        if i == 2:
            o1.param_groups[0]["momentum"] = o2.param_groups[0]["momentum"] = 0.5
        step(x, y)
        o1.zero_grad()
        nn.CrossEntropyLoss()(m1(x), y).backward()
        o1.step()
    assert step.cache_info()["traces"] == 3
    assert_same_training_state(m1, o1, m2, o2)


# --------------------------------------------------------------------------- #
# randomness
# --------------------------------------------------------------------------- #
def test_dropout_masks_differ_between_steps_and_match_eager():
    fg.manual_seed(0)
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(64, 1))
    opt = optim.SGD(model.parameters(), lr=0.0)  # parameters stay put: only masks vary
    step = compile_step(model, opt, lambda out, t: ((out - t) ** 2).mean(),
                        return_outputs=True)
    x, t = fg.ones(4, 64), fg.zeros(4, 1)
    fg.manual_seed(3)
    outs = [step(x, t)[1]._data.copy() for _ in range(4)]
    assert step.cache_info()["traces"] == 1
    for i in range(4):
        for j in range(i):
            assert not np.array_equal(outs[i], outs[j])
    fg.manual_seed(3)
    eager = [model(x)._data for _ in range(4)]
    for a, b in zip(outs, eager):
        np.testing.assert_array_equal(a, b)


def test_eager_dropout_still_draws_from_the_global_generator():
    # (nn/_random.py routes draws through a hook only while compile traces)
    fg.manual_seed(11)
    out = F.dropout(fg.ones(3, 5), 0.4)._data
    fg.manual_seed(11)
    keep = np.asarray(fr.uniform(fr.next_key(), (3, 5)) < 0.6, np.float32)
    np.testing.assert_array_equal(out, np.ones((3, 5), np.float32) * (keep / np.float32(0.6)))


# --------------------------------------------------------------------------- #
# which parameters are trained
# --------------------------------------------------------------------------- #
class _Partly(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.frozen = nn.Linear(4, 4)
        self.unused = nn.Linear(4, 4)
        self.not_in_opt = nn.Linear(4, 2)

    def forward(self, x):
        return self.not_in_opt(self.frozen(self.a(x)).relu())


def test_frozen_unused_and_unoptimized_parameters_behave_as_in_eager():
    m1, m2 = _twins(_Partly)
    for m in (m1, m2):
        m.frozen.requires_grad_(False)
    ps = lambda m: [*m.a.parameters(), *m.frozen.parameters(), *m.unused.parameters()]  # noqa
    o1 = optim.Adam(ps(m1), lr=0.1, weight_decay=0.1)
    o2 = optim.Adam(ps(m2), lr=0.1, weight_decay=0.1)
    batches = [(fg.randn(5, 4), fg.randn(5, 2)) for _ in range(3)]
    step = compile_step(m2, o2, nn.MSELoss())
    for x, y in batches:
        o1.zero_grad()
        nn.MSELoss()(m1(x), y).backward()
        o1.step()
        step(x, y)
    assert_same_training_state(m1, o1, m2, o2)
    assert m2.unused.weight not in o2.state and m2.frozen.weight not in o2.state


def test_optimizer_state_dict_round_trip_between_eager_and_compiled():
    m1, m2 = _twins(cnn)
    o1, o2 = optim.Adam(m1.parameters(), lr=1e-2), optim.Adam(m2.parameters(), lr=1e-2)
    batches = _batches(6, (4, 1, 6, 6), 3)
    loss_fn = nn.CrossEntropyLoss()
    _eager_steps(m1, o1, loss_fn, batches)
    _eager_steps(m2, o2, loss_fn, batches[:3])  # half eager ...
    o3 = optim.Adam(m2.parameters(), lr=1e-2)
    o3.load_state_dict(o2.state_dict())        # ... through a checkpoint ...
    step = compile_step(m2, o3, loss_fn)
    for x, y in batches[3:]:                   # ... and half compiled
        step(x, y)
    assert_same_training_state(m1, o1, m2, o3)


def test_param_groups_with_their_own_learning_rates():
    m1, m2 = _twins(mlp)

    def groups(m):
        return [{"params": m[0].parameters(), "lr": 0.2},
                {"params": [*m[2].parameters(), *m[4].parameters()]}]
    o1 = optim.SGD(groups(m1), lr=0.05, momentum=0.9)
    o2 = optim.SGD(groups(m2), lr=0.05, momentum=0.9)
    batches = _batches(4, (8, 6), 3)
    _eager_steps(m1, o1, nn.CrossEntropyLoss(), batches)
    step = compile_step(m2, o2, nn.CrossEntropyLoss())
    for x, y in batches:
        step(x, y)
    assert_same_training_state(m1, o1, m2, o2)


# --------------------------------------------------------------------------- #
# donation: in-place updates, but never of an array someone else holds
# --------------------------------------------------------------------------- #
def test_updates_are_in_place_unless_someone_holds_the_array():
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = compile_step(model, opt, nn.MSELoss())
    x, y = fg.randn(5, 4), fg.randn(5, 3)
    for _ in range(2):
        step(x, y)
    tensors = [*model.parameters(), model[1].running_mean]
    refs = [weakref.ref(t._data) for t in tensors]
    buf_ref = weakref.ref(opt.state[model[0].weight]["momentum_buffer"]._data)
    step(x, y)
    assert all(r() is t._data for r, t in zip(refs, tensors))  # written in place
    assert buf_ref() is opt.state[model[0].weight]["momentum_buffer"]._data

    held = model[0].weight._data                       # a reference the user keeps
    held_copy = held.copy()
    snapshot = opt.state_dict()["state"][0]["momentum_buffer"]
    snap_copy = snapshot._data.copy()
    sd = model.state_dict()                           # shares data with the model
    sd_bias = sd["0.bias"]._data.copy()
    step(x, y)
    np.testing.assert_array_equal(held, held_copy)
    np.testing.assert_array_equal(snapshot._data, snap_copy)
    np.testing.assert_array_equal(sd["0.bias"]._data, sd_bias)
    assert model[0].weight._data is not held


def test_donate_false_never_writes_inputs():
    fg.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = compile_step(model, opt, nn.MSELoss(), donate=False)
    x, y = fg.randn(5, 4), fg.randn(5, 3)
    step(x, y)
    step(x, y)
    ref = weakref.ref(model.weight._data)
    step(x, y)
    assert ref() is None or ref() is not model.weight._data


# --------------------------------------------------------------------------- #
# the call's options
# --------------------------------------------------------------------------- #
class _TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 2), nn.Linear(4, 2)

    def forward(self, u, v):
        return self.a(u) * self.b(v)


def test_num_inputs_and_return_outputs():
    m1, m2 = _twins(_TwoInputs)
    o1, o2 = optim.SGD(m1.parameters(), lr=0.1), optim.SGD(m2.parameters(), lr=0.1)
    u, v, t, w = fg.randn(5, 3), fg.randn(5, 4), fg.randn(5, 2), fg.rand(5, 2)

    def weighted(out, target, weight):
        return (weight * (out - target) ** 2).mean()
    step = compile_step(m2, o2, weighted, num_inputs=2, return_outputs=True)
    loss, out = step(u, v, t, w)
    expected_out = m1(u, v)
    eager = weighted(expected_out, t, w)
    eager.backward()
    o1.step()
    np.testing.assert_array_equal(out._data, expected_out._data)
    assert loss.item() == eager.item() and not loss.requires_grad
    assert_same_training_state(m1, o1, m2, o2)


def test_float64_model():
    m1, m2 = _twins(mlp)
    m1.double()
    m2.double()
    o1, o2 = optim.Adam(m1.parameters()), optim.Adam(m2.parameters())
    batches = [(x.double(), y) for x, y in _batches(3, (8, 6), 3)]
    _eager_steps(m1, o1, nn.CrossEntropyLoss(), batches)
    step = compile_step(m2, o2, nn.CrossEntropyLoss())
    for x, y in batches:
        step(x, y)
    assert_same_training_state(m1, o1, m2, o2)
    assert m2[0].weight.dtype == np.float64


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
def test_errors_are_clear():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = fg.randn(4, 3), fg.randn(4, 2)
    with pytest.raises(TypeError, match="expected a funcgrad.nn.Module"):
        compile_step(lambda x: x, opt, nn.MSELoss())
    with pytest.raises(TypeError, match="funcgrad.optim optimizer"):
        compile_step(model, object(), nn.MSELoss())
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        compile_step(model, opt, None)

    stranger = nn.Parameter(fg.zeros(2))
    bad = compile_step(model, optim.SGD([*model.parameters(), stranger], lr=0.1),
                       nn.MSELoss())
    with pytest.raises(ValueError, match=r"not a parameter of the model.*model.parameters"):
        bad(x, y)

    per_element = compile_step(model, opt, nn.MSELoss(reduction="none"))
    with pytest.raises(TypeError, match=r"scalar .*shape \(4, 2\).*reduction='mean'"):
        per_element(x, y)

    detached = compile_step(model, opt, lambda out, t: (t ** 2).mean())
    with pytest.raises(RuntimeError, match="does not depend on any parameter"):
        detached(x, y)

    class Custom(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)
    with pytest.raises(TypeError, match="overrides step"):
        compile_step(model, Custom(model.parameters(), lr=0.1), nn.MSELoss())


def test_value_dependent_python_in_forward_explains_itself():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=None))
    step = compile_step(model, optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())
    with pytest.raises(ConcretizationError) as info:
        step(fg.randn(5, 3), fg.randn(5, 4))
    assert "momentum=None" in "\n".join(getattr(info.value, "__notes__", []))


# --------------------------------------------------------------------------- #
# compile(model): forward and backward as compiled programs
# --------------------------------------------------------------------------- #
def test_compiled_module_training_loop_matches_eager_bitwise():
    m1, m2 = _twins(bn_dropout_net)
    o1 = optim.SGD(m1.parameters(), lr=0.05, momentum=0.9)
    o2 = optim.SGD(m2.parameters(), lr=0.05, momentum=0.9)
    compiled = compile(m2)
    batches = _batches(5, (8, 1, 6, 6), 3)
    fg.manual_seed(5)
    eager = _eager_steps(m1, o1, nn.CrossEntropyLoss(), batches)
    fg.manual_seed(5)
    got = _eager_steps(compiled, o2, nn.CrossEntropyLoss(), batches)
    assert got == eager
    assert_same_training_state(m1, o1, m2, o2)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.grad._data, p2.grad._data)
    assert compiled.cache_info()["traces"] == 1


def test_compiled_module_backward_is_not_a_recomputation():
    fg.manual_seed(0)
    model = mlp()
    staged = make_ir(lambda ps, x, ct: _fwd_bwd(model, ps, x, ct))(
        {k: v._data for k, v in model.named_parameters()}, np.ones((4, 6), np.float32),
        np.ones((4, 3), np.float32))
    fwd, bwd, n_res = split_program(staged, 1, 1)
    assert len(fwd.equations) + len(bwd.equations) == len(staged.equations)
    assert {e.prim.name for e in fwd.equations} >= {"linear", "tanh"}
    assert len(fwd.out_vars) == 1 + n_res and len(bwd.in_vars) == n_res + 1
    ct = staged.in_vars[-1]
    assert ct not in fwd.in_vars and bwd.in_vars[-1] is ct
    assert not any(ct in e.inputs for e in fwd.equations)
    # the two programs compute what the combined one does
    ps = [v._data for _, v in sorted(model.named_parameters())]  # dict leaves: sorted keys
    x, g = RNG.standard_normal((4, 6)).astype(np.float32), np.ones((4, 3), np.float32)
    whole = staged(*ps, x, g)
    outs = fwd(*ps, x)
    grads = bwd(*outs[1:], g)
    for a, b in zip(whole, [outs[0], *grads]):
        np.testing.assert_array_equal(a, b)


def _fwd_bwd(model, params, x, ct):
    out, pullback = fg.vjp(lambda p: nn.functional_call(model, p, (x,))._data, params)
    return out, pullback(ct)


def test_compiled_module_gradients_reach_inputs_and_multiple_outputs():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.h1, self.h2 = nn.Linear(3, 4), nn.Linear(4, 2), nn.Linear(4, 1)

        def forward(self, x):
            z = self.body(x).tanh()
            return self.h1(z), {"aux": self.h2(z), "n": 3}

    m1, m2 = _twins(TwoHeads)
    compiled = compile(m2)
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    xs = [fg.tensor(x, requires_grad=True) for _ in range(2)]
    outs = [m1(xs[0]), compiled(xs[1])]
    assert outs[1][1]["n"] == 3 and outs[1][0].requires_grad
    for (a, b), x in zip(outs, xs):
        (a.sum() * 2 + (b["aux"] ** 2).sum()).backward()
    np.testing.assert_array_equal(xs[0].grad._data, xs[1].grad._data)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p1.grad._data, p2.grad._data)
    # only one head used: the other output's cotangent is zero
    m2.zero_grad()
    compiled(xs[1])[0].sum().backward()
    assert not np.any(m2.h2.weight.grad._data)


def test_compiled_module_inference_and_modes():
    fg.manual_seed(0)
    model = bn_dropout_net()
    compiled = compile(model)
    assert compiled.eval() is compiled and not model.training
    x = fg.randn(4, 1, 6, 6)
    with fg.no_grad():
        y = compiled(x)
        y2 = compiled(x)
    np.testing.assert_array_equal(y._data, model(x)._data)
    np.testing.assert_array_equal(y._data, y2._data)
    assert not y.requires_grad
    assert compiled.cache_info() == {"traces": 1, "hits": 1, "size": 1}
    compiled.train()
    with fg.no_grad():
        compiled(x)
    assert int(model[1].num_batches_tracked.item()) == 1
    assert compiled.cache_info()["traces"] == 2


def test_compiled_module_forwards_the_model_api():
    fg.manual_seed(0)
    model = mlp()
    compiled = compile(model)
    assert isinstance(compiled, CompiledModule) and compiled.module is model
    assert list(compiled.state_dict()) == list(model.state_dict())
    assert [p for p in compiled.parameters()] == [p for p in model.parameters()]
    assert compiled.to(np.float64) is compiled and model[0].weight.dtype == np.float64
    compiled.extra = 3
    assert model.extra == 3
    assert "Sequential" in repr(compiled)
    # compile_step takes a compiled model too
    step = compile_step(compiled, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
    step(fg.randn(4, 6).double(), fg.tensor(np.array([0, 1, 2, 0])))


def test_compiled_module_under_a_transform_runs_the_model():
    fg.manual_seed(0)
    model = mlp()
    compiled = compile(model)
    x = np.ones((2, 6), np.float32)
    g1 = fg.grad(lambda x: compiled(fg.tensor(x)).sum()._data)(x)
    g2 = fg.grad(lambda x: model(fg.tensor(x)).sum()._data)(x)
    np.testing.assert_array_equal(g1, g2)


def test_compiled_module_backward_errors():
    fg.manual_seed(0)
    model = mlp()
    compiled = compile(model)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = fg.randn(4, 6)
    loss = compiled(x).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    with pytest.raises(NotImplementedError, match="create_graph"):
        compiled(x).sum().backward(create_graph=True)
    with pytest.raises(TypeError, match="expected a funcgrad.nn.Module"):
        compile(np.ones(3))


def test_gradient_clipping_matches_eager():
    m1, m2 = _twins(mlp)
    o1 = optim.SGD(m1.parameters(), lr=0.5, momentum=0.9)
    o2 = optim.SGD(m2.parameters(), lr=0.5, momentum=0.9)
    batches = _batches(4, (8, 6), 3)
    step = compile_step(m2, o2, nn.CrossEntropyLoss(), clip_grad_norm=0.3)
    for x, y in batches:
        o1.zero_grad()
        nn.CrossEntropyLoss()(m1(x), y).backward()
        total = nn.utils.clip_grad_norm_(m1.parameters(), 0.3)
        assert total.item() > 0.3  # the clipping is active
        o1.step()
        step(x, y)
    assert_same_training_state(m1, o1, m2, o2)
    with pytest.raises(ValueError, match="clip_grad_norm"):
        compile_step(m2, o2, nn.CrossEntropyLoss(), clip_grad_norm=-1.0)


class _Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 4)
        self.out = nn.Linear(4, 7, bias=False)
        self.out.weight = self.emb.weight   # one Parameter, two modules

    def forward(self, idx):
        return self.out(self.emb(idx).tanh())


def test_tied_weights_are_one_parameter():
    m1, m2 = _twins(_Tied)
    o1, o2 = optim.Adam(m1.parameters(), lr=0.01), optim.Adam(m2.parameters(), lr=0.01)
    idx = fg.tensor(np.array([0, 3, 5, 6]))
    tgt = fg.tensor(np.array([1, 2, 3, 4]))
    _eager_steps(m1, o1, nn.CrossEntropyLoss(), [(idx, tgt)] * 3)
    step = compile_step(m2, o2, nn.CrossEntropyLoss())
    for _ in range(3):
        step(idx, tgt)
    assert m2.out.weight is m2.emb.weight
    assert_same_training_state(m1, o1, m2, o2)


def test_rrelu_slopes_are_fresh_draws_too():
    m1, m2 = _twins(lambda: nn.Sequential(nn.Linear(5, 8), nn.RReLU(), nn.Linear(8, 2)))
    o1, o2 = optim.SGD(m1.parameters(), lr=0.1), optim.SGD(m2.parameters(), lr=0.1)
    batches = [(fg.randn(4, 5), fg.tensor(np.array([0, 1, 1, 0])))] * 3
    fg.manual_seed(3)
    _eager_steps(m1, o1, nn.CrossEntropyLoss(), batches)
    fg.manual_seed(3)
    step = compile_step(m2, o2, nn.CrossEntropyLoss())
    for x, y in batches:
        step(x, y)
    assert_same_training_state(m1, o1, m2, o2)


def test_replaced_parameter_is_noticed():
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2))
    step = compile_step(model, optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())
    x, y = fg.randn(4, 3), fg.randn(4, 2)
    step(x, y)
    new_bias = nn.Parameter(fg.zeros(2))
    model[0].bias = new_bias
    step.optimizer.param_groups[0]["params"][1] = new_bias
    step(x, y)
    assert step.cache_info()["traces"] == 2
    assert model[0].bias is new_bias and np.any(new_bias._data != 0)


def test_device_arrays_through_the_cupy_double():
    """Parameters on a (NumPy-backed, test-double) CuPy device: both paths stay there."""
    from tests.cupy_double import installed
    with installed() as cp:
        states = []
        for how in ("eager", "compile_step", "compile"):
            fg.manual_seed(0)
            model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(),
                                  nn.Linear(8, 3)).to("cuda")
            opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            x, y = fg.randn(6, 4).to("cuda"), fg.randn(6, 3).to("cuda")
            if how == "compile_step":
                step = compile_step(model, opt, nn.MSELoss())
                for _ in range(3):
                    loss = step(x, y)
            else:
                run = compile(model) if how == "compile" else model
                loss = fg.tensor(0.0)
                for _ in range(3):
                    opt.zero_grad()
                    loss = nn.MSELoss()(run(x), y)
                    loss.backward()
                    opt.step()
            assert isinstance(loss._data, cp.ndarray)
            assert isinstance(opt.state[model[0].weight]["momentum_buffer"]._data, cp.ndarray)
            states.append([cp.asnumpy(t._data) for t in model.state_dict().values()])
        for other in states[1:]:
            for a, b in zip(states[0], other):
                np.testing.assert_array_equal(a, b)


def test_docstring_examples_run():
    import doctest
    import importlib

    # funcgrad.compile is the function at the top level; the module is this one:
    mod = importlib.import_module("funcgrad.compile")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 4


def test_lower_shows_the_program_without_drawing():
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 1))
    step = compile_step(model, optim.Adam(model.parameters()), nn.MSELoss())
    x, y = fg.randn(3, 4), fg.randn(3, 1)
    state = fr.default_generator.get_state()
    program = step.lower(x, y)
    np.testing.assert_array_equal(fr.default_generator.get_state(), state)
    counts = program.primitive_counts()
    # forward (two fused linears), backward (three products) and Adam's update
    assert counts["linear"] == 2 and counts["matmul"] >= 3 and "sqrt" in counts
