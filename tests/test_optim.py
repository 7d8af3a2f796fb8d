"""funcgrad.optim: the functional front, the classes built on it, checkpoints, errors."""
import copy

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.optim.functional as F
from funcgrad.serialization import load, save
from funcgrad.tensor import Tensor

pytestmark = [*globals().get("pytestmark", []), pytest.mark.usefixtures("on_backend")]  # every backend

CONFIGS = [
    ("SGD", F.sgd, dict(lr=0.1)),
    ("SGD", F.sgd, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", F.sgd, dict(lr=0.1, momentum=0.9, dampening=0.5, maximize=True)),
    ("Adam", F.adam, dict(lr=0.01)),
    ("Adam", F.adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("AdamW", F.adamw, dict(lr=0.01, amsgrad=True)),
    ("RMSprop", F.rmsprop, dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", F.rmsprop, dict(lr=0.01)),
    ("Adagrad", F.adagrad, dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", F.adadelta, dict(lr=0.5, rho=0.8, weight_decay=0.05)),
]
IDS = [f"{c[0]}{i}" for i, c in enumerate(CONFIGS)]


def _grads(n, seed=0, shapes=((3, 2), (4,))):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s) for s in shapes] for _ in range(n)]


def _init(seed=1, shapes=((3, 2), (4,))):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in shapes]


# --------------------------------------------------------------------------- #
# functional front == class front, bit for bit
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name, factory, kw", CONFIGS, ids=IDS)
def test_functional_equals_class_bitwise(name, factory, kw):
    init, grads = _init(), _grads(8)
    ps = [Tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(fg.optim, name)(ps, **kw)
    fopt = factory(**kw)
    params = {"a": init[0].copy(), "b": init[1].copy()}
    state = fopt.init(params)
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = Tensor(g)
        opt.step()
        params, state = fopt.step(params, {"a": gs[0], "b": gs[1]}, state)
        np.testing.assert_array_equal(ps[0]._data, params["a"])
        np.testing.assert_array_equal(ps[1]._data, params["b"])
    for i, p in enumerate(ps):
        for k, v in opt.state[p].items():
            np.testing.assert_array_equal(np.asarray(v._data), np.asarray(state[i][k]))


# --------------------------------------------------------------------------- #
# The compiled group update (config.optimizer_compile_after) == the eager step
# --------------------------------------------------------------------------- #
def _run_class(name, kw, grads, init, compile_after, lrs=None):
    ps = [Tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(fg.optim, name)(ps, **kw)
    with fg.config.override(optimizer_compile_after=compile_after):
        for i, gs in enumerate(grads):
            if lrs is not None:
                opt.param_groups[0]["lr"] = lrs[i]
            for p, g in zip(ps, gs):
                p.grad = Tensor(g)
            opt.step()
    return ps, opt


@pytest.mark.parametrize("name, factory, kw", CONFIGS, ids=IDS)
def test_compiled_group_update_is_bitwise_the_eager_step(name, factory, kw):
    init, grads = _init(), _grads(6)
    lrs = [kw["lr"] * f for f in (1.0, 0.5, 0.25, 1.5, 0.1, 1.0)]  # a schedule: no retrace
    eager, e_opt = _run_class(name, kw, grads, init, None, lrs)
    fused, f_opt = _run_class(name, kw, grads, init, 0, lrs)
    assert len(f_opt._fused.compiled) >= 1  # it really ran compiled
    for a, b in zip(eager, fused):
        np.testing.assert_array_equal(a._data, b._data)
        assert b._data.dtype == a._data.dtype and b._version == a._version
    for a, b in zip(eager, fused):
        sa, sb = e_opt.state[a], f_opt.state[b]
        assert sa.keys() == sb.keys()
        for k in sa:
            va, vb = sa[k], sb[k]
            if va is None:
                assert vb is None
            else:
                assert isinstance(vb, Tensor) and vb._data.shape == va._data.shape
                np.testing.assert_array_equal(va._data, vb._data)


def test_compiled_group_update_retraces_only_on_a_new_signature():
    init, grads = _init(), _grads(8)
    ps, opt = _run_class("SGD", dict(lr=0.1, momentum=0.9), grads, init, 0,
                         lrs=[0.1 / (i + 1) for i in range(8)])
    # the first step (no momentum buffer yet) and the steady state: two signatures
    assert len(opt._fused.compiled) == 2
    opt.param_groups[0]["momentum"] = 0.5  # a changed hyperparameter is a new signature
    with fg.config.override(optimizer_compile_after=0):
        opt.step()
    assert len(opt._fused.compiled) == 3


def test_compiled_group_update_writes_in_place_only_into_unshared_arrays():
    init, grads = _init(), _grads(5)
    ps, opt = _run_class("SGD", dict(lr=0.1, momentum=0.9), grads[:3], init, 0)
    buf_at = opt.state[ps[0]]["momentum_buffer"]._data.ctypes.data
    with fg.config.override(optimizer_compile_after=0):
        for p, g in zip(ps, grads[4]):
            p.grad = Tensor(g)
        opt.step()
    assert opt.state[ps[0]]["momentum_buffer"]._data.ctypes.data == buf_at  # in place too
    where = [p._data.ctypes.data for p in ps]
    held = ps[1]._data  # the user keeps this array: it must keep its values
    before = held.copy()
    snapshot = opt.state_dict()  # a snapshot keeps its values too (test below)
    buf_before = snapshot["state"][0]["momentum_buffer"]._data.copy()
    with fg.config.override(optimizer_compile_after=0):
        for p, g in zip(ps, grads[3]):
            p.grad = Tensor(g)
        opt.step()
    assert ps[0]._data.ctypes.data == where[0]  # nobody else saw it: updated in place
    np.testing.assert_array_equal(held, before)  # a held array is never written
    assert ps[1]._data is not held
    np.testing.assert_array_equal(snapshot["state"][0]["momentum_buffer"]._data, buf_before)


def test_optimizer_compile_after_none_keeps_every_step_eager():
    init, grads = _init(), _grads(3)
    ps, opt = _run_class("SGD", dict(lr=0.1, momentum=0.9), grads, init, 0)
    assert opt._fused.compiled
    with fg.config.override(optimizer_compile_after=None):
        n = len(opt._fused.compiled)
        opt.step()
        assert len(opt._fused.compiled) == n  # switched off: the eager path ran
    with pytest.raises(ValueError, match="optimizer_compile_after"):
        fg.config.update("optimizer_compile_after", -1)


def test_functional_step_skips_none_grads_and_checks_structure():
    opt = F.adam(lr=0.1)
    params = {"a": np.ones(2), "b": np.ones(3)}
    state = opt.init(params)
    new, new_state = opt.step(params, {"a": np.ones(2), "b": None}, state)
    assert new["b"] is params["b"] and new_state[1] is state[1]
    assert float(new_state[0]["step"]) == 1.0 and float(new_state[1]["step"]) == 0.0
    assert not np.array_equal(new["a"], params["a"])
    with pytest.raises(ValueError, match="structure of params"):
        opt.step(params, {"a": np.ones(2)}, state)
    with pytest.raises(ValueError, match="one dict per parameter leaf"):
        opt.step(params, {"a": np.ones(2), "b": np.ones(3)}, state[:1])
    with pytest.raises(TypeError, match="unknown hyperparameter"):
        opt.step(params, {"a": np.ones(2), "b": np.ones(3)}, state, momentum=0.9)


def test_functional_hyperparameter_override_and_repr():
    opt = F.sgd(lr=0.1)
    p = {"w": np.ones(2)}
    new, _ = opt.step(p, {"w": np.ones(2)}, opt.init(p), lr=0.5)
    np.testing.assert_array_equal(new["w"], np.full(2, 0.5))
    assert repr(opt).startswith("sgd(lr=0.1")


def test_functional_errors_match_the_classes():
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        F.adam(lr=-0.1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0: 1.5"):
        F.adam(betas=(1.5, 0.9))
    with pytest.raises(ValueError, match="Invalid epsilon value"):
        F.rmsprop(eps=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        F.sgd(nesterov=True)


def test_functional_float32_params_keep_their_dtype():
    for opt in (F.sgd(lr=0.1, momentum=0.9), F.adam(), F.adamw(), F.rmsprop(centered=True),
                F.adagrad()):
        p = {"w": np.ones(3, np.float32)}
        state = opt.init(p)
        for _ in range(2):
            p, state = opt.step(p, {"w": np.full(3, 0.5, np.float32)}, state)
        assert p["w"].dtype == np.float32, opt
        for k, v in state[0].items():
            assert np.asarray(v).dtype == (np.float32), (opt, k)


def test_functional_step_is_differentiable_in_lr():
    """A step is pure fnp math: d(loss after one step)/d(lr) matches the analytic value."""
    w0, g = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.1, -0.4])
    for opt in (F.sgd(momentum=0.9), F.adam(), F.rmsprop(), F.adagrad()):
        state = opt.init({"w": w0})

        def loss_after(lr):
            p, _ = opt.step({"w": w0}, {"w": g}, state, lr=lr)
            return fnp.sum(p["w"] ** 2)

        eps = 1e-6
        fd = (loss_after(0.1 + eps) - loss_after(0.1 - eps)) / (2 * eps)
        np.testing.assert_allclose(fg.grad(loss_after)(0.1), fd, rtol=1e-6)


def test_functional_step_under_vmap_matches_a_loop():
    opt = F.adam(lr=0.1, amsgrad=True)
    ws = np.random.default_rng(0).normal(size=(4, 3))
    gs = np.random.default_rng(1).normal(size=(4, 3))

    def one(w, g):
        p, s = opt.step({"w": w}, {"w": g}, opt.init({"w": w}))
        p, s = opt.step(p, {"w": g * 2}, s)
        return p["w"]

    batched = fg.vmap(one)(ws, gs)
    for i in range(4):
        np.testing.assert_allclose(batched[i], one(ws[i], gs[i]), rtol=1e-14)


@pytest.mark.parametrize("opt", [
    F.sgd(lr=0.1, momentum=0.5, nesterov=True), F.adam(lr=0.1, amsgrad=True), F.adamw(lr=0.1),
    F.rmsprop(lr=0.05, centered=True, momentum=0.5), F.adagrad(lr=0.5)], ids=repr)
def test_jitted_training_step_equals_eager_bitwise(opt):
    jit = getattr(pytest.importorskip("funcgrad.jit", reason="funcgrad.jit not available"), "jit")
    target = np.array([1.0, -2.0, 3.0])

    def train_step(params, state):
        grads = fg.grad(lambda p: fnp.sum((p["w"] - target) ** 2))(params)
        return opt.step(params, grads, state)

    fast = jit(train_step)
    p1 = p2 = {"w": np.zeros(3)}
    s1 = s2 = opt.init(p1)
    for _ in range(5):
        p1, s1 = train_step(p1, s1)
        p2, s2 = fast(p2, s2)
        np.testing.assert_array_equal(p1["w"], p2["w"])
    assert np.asarray(s2[0].get("step", np.float32(0))).dtype == np.float32


def test_functional_training_loop_converges():
    target = np.array([1.0, -2.0, 3.0])

    def loss(p):
        return fnp.sum((p["w"] - target) ** 2)

    for opt in (F.sgd(lr=0.1, momentum=0.5), F.adam(lr=0.1), F.rmsprop(lr=0.05),
                F.adagrad(lr=0.5)):
        params = {"w": np.zeros(3)}
        state = opt.init(params)
        for _ in range(300):
            params, state = opt.step(params, fg.grad(loss)(params), state)
        np.testing.assert_allclose(params["w"], target, atol=1e-2)


# --------------------------------------------------------------------------- #
# the classes
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name, factory, kw", CONFIGS, ids=IDS)
def test_state_dict_round_trip_continues_identically(tmp_path, name, factory, kw):
    init, grads = _init(), _grads(10)
    ps = [Tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(fg.optim, name)(ps, **kw)

    def step(params, o, gs):
        for p, g in zip(params, gs):
            p.grad = Tensor(g)
        o.step()

    for gs in grads[:5]:
        step(ps, opt, gs)
    path = tmp_path / "opt.pt"
    save({"opt": opt.state_dict(), "params": [p.detach() for p in ps]}, path)
    ckpt = load(path)
    ps2 = [Tensor(t._data.copy(), requires_grad=True) for t in ckpt["params"]]
    opt2 = getattr(fg.optim, name)(ps2, lr=123.0)  # hyperparameters come from the checkpoint
    opt2.load_state_dict(ckpt["opt"])
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for gs in grads[5:]:
        step(ps, opt, gs)
        step(ps2, opt2, gs)
        for a, b in zip(ps, ps2):
            np.testing.assert_array_equal(a._data, b._data)


def test_load_state_dict_copies_and_casts_to_the_parameter_dtype():
    p = Tensor(np.ones(3), requires_grad=True)
    opt = fg.optim.Adam([p])
    p.grad = Tensor(np.ones(3))
    opt.step()
    sd = opt.state_dict()
    q = Tensor(np.ones(3, np.float32), requires_grad=True)
    opt2 = fg.optim.Adam([q])
    opt2.load_state_dict(sd)
    assert opt2.state[q]["exp_avg"].dtype == np.float32
    assert opt2.state[q]["step"].dtype == np.float32
    assert opt2.state[q]["exp_avg"]._data is not opt.state[p]["exp_avg"]._data


def test_load_state_dict_size_mismatch_errors():
    a, b = (Tensor(np.ones(2), requires_grad=True) for _ in range(2))
    sd = fg.optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="doesn't match the size"):
        fg.optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        fg.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)


def test_param_groups_with_different_lrs():
    a = Tensor(np.zeros(2), requires_grad=True)
    b = Tensor(np.zeros(2), requires_grad=True)
    opt = fg.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = b.grad = Tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(a._data, [-0.1, -0.1])
    np.testing.assert_array_equal(b._data, [-0.5, -0.5])
    assert opt.param_groups[1]["momentum"] == 0  # defaults filled in
    c = Tensor(np.zeros(1), requires_grad=True)
    opt.add_param_group({"params": c, "lr": 2.0})
    assert opt.param_groups[2]["params"] == [c] and opt.state_dict()["param_groups"][2][
        "params"] == [2]
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_construction_errors():
    p = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        fg.optim.Adam([])
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        fg.optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        fg.optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        fg.optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        fg.optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        fg.optim.SGD([p], lr=-0.1)
    with pytest.raises(NotImplementedError, match="functional"):
        fg.optim.Adam([p], differentiable=True)
    with pytest.raises(ValueError, match="didn't specify a value of required"):
        opt = fg.optim.SGD([p], lr=0.1)
        opt.defaults["lr"] = fg.optim.required
        opt.add_param_group({"params": [Tensor(np.zeros(1), requires_grad=True)]})


def test_named_parameters_are_recorded():
    a = Tensor(np.zeros(2), requires_grad=True)
    opt = fg.optim.SGD([("w", a)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w"]


def test_parameters_without_grad_are_skipped_and_get_no_state():
    a, b = (Tensor(np.ones(2), requires_grad=True) for _ in range(2))
    opt = fg.optim.Adam([a, b], lr=0.1)
    a.grad = Tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(b._data, np.ones(2))
    assert list(opt.state_dict()["state"]) == [0]


def test_step_bumps_versions_and_guards_saved_values():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = fg.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    v = w._version
    y = (w * w).sum()  # saves w
    opt.step()
    assert w._version == v + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_zero_grad_and_closure():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = fg.optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss._data) == 5.0
    np.testing.assert_allclose(w._data, [0.8, 1.6])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad._data, [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None
    with fg.no_grad():
        assert opt.step(closure) is not None  # the closure runs with grad enabled


def test_adagrad_creates_state_eagerly_like_torch():
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = fg.optim.Adagrad([p], initial_accumulator_value=0.5)
    st = opt.state_dict()["state"][0]
    assert float(st["step"]._data) == 0.0
    np.testing.assert_array_equal(st["sum"]._data, [0.5, 0.5])


def test_state_dict_is_a_snapshot():
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = fg.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = Tensor(np.ones(2))
    opt.step()
    sd = opt.state_dict()
    deep = copy.deepcopy(sd)
    opt.step()  # updates rebind the state's arrays: the earlier state_dict keeps its values
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"]._data, [1.0, 1.0])
    np.testing.assert_array_equal(deep["state"][0]["momentum_buffer"]._data, [1.0, 1.0])


def test_repr():
    p = Tensor(np.zeros(2), requires_grad=True)
    r = repr(fg.optim.AdamW([p]))
    assert r.startswith("AdamW (\nParameter Group 0\n    amsgrad: False\n")
    assert "    weight_decay: 0.01\n)" in r


def _linear():
    nn = getattr(fg, "nn", None)
    if nn is None or not hasattr(nn, "Linear"):
        pytest.skip("funcgrad.nn.Linear is not available yet (being written)")
    return nn


def test_end_to_end_training_with_nn_linear():
    nn = _linear()
    fg.random.manual_seed(0)
    model = nn.Linear(3, 1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    model = model.double() if hasattr(model, "double") else model
    opt = fg.optim.Adam(model.parameters(), lr=0.05)
    xt, yt = Tensor(x), Tensor(y)
    for _ in range(300):
        opt.zero_grad()
        loss = ((model(xt) - yt) ** 2).mean()
        loss.backward()
        opt.step()
    assert float(loss._data) < 1e-3


def test_steady_plan_replays_and_steps_aside_for_every_change(monkeypatch):
    """The steady-state plan (optim/_fused.py) == the eager step, through every change
    a training loop can make between steps; it is kept while nothing changes."""
    from funcgrad.optim import _fused
    made = []  # plans made, counted per step (holding them would hold their arrays)
    init_plan = _fused._SteadyPlan.__init__

    def counting_init(self, *args):
        init_plan(self, *args)
        made.append(1)
    monkeypatch.setattr(_fused._SteadyPlan, "__init__", counting_init)
    init, grads = _init(), _grads(14)

    def run(compile_after):
        ps = [Tensor(a.copy(), requires_grad=True) for a in init]
        opt = fg.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01)
        counts, held = [], []
        with fg.config.override(optimizer_compile_after=compile_after):
            for i, gs in enumerate(grads):
                for j, (p, g) in enumerate(zip(ps, gs)):
                    p.grad = None if (i == 6 and j == 1) else Tensor(g)  # a skipped grad
                if i == 5:
                    ps[0]._data = ps[0]._data * 0.5  # a new parameter array
                if i == 8:
                    held.append(opt.state[ps[0]]["momentum_buffer"]._data)  # a held buffer
                    held.append(held[0].copy())
                if i == 9:
                    opt.load_state_dict(opt.state_dict())  # new state tensors
                if i == 10:
                    ps[1].grad = Tensor(gs[1].astype(np.float32))  # another grad dtype
                if i == 13:
                    held.append(ps[1]._data)  # a held parameter array
                    held.append(held[-1].copy())
                opt.step()
                counts.append((len(made), len(opt._fused.plans)))
        return ps, opt, counts, held

    eager, e_opt, _, _ = run(None)
    assert not made
    fused, f_opt, counts, held = run(0)
    for a, b in zip(eager, fused):
        np.testing.assert_array_equal(a._data, b._data)
        assert a._version == b._version
    for a, b in zip(eager, fused):
        np.testing.assert_array_equal(e_opt.state[a]["momentum_buffer"]._data,
                                      f_opt.state[b]["momentum_buffer"]._data)
    np.testing.assert_array_equal(held[0], held[1])  # arrays the user held kept their values
    np.testing.assert_array_equal(held[2], held[3])
    # Made after the first steady step and kept while nothing changes; made again later.
    assert counts[1] == counts[2] == counts[3] == counts[4] == (1, 1)
    assert counts[12][0] > counts[4][0] and counts[12][1] == 1
