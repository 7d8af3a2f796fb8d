"""funcgrad.optim.lr_scheduler: PyTorch's values (50 steps), state dicts, errors."""
import math
import warnings

import numpy as np
import pytest

import funcgrad as fg
from funcgrad.optim import lr_scheduler as S
from funcgrad.serialization import load, save
from funcgrad.tensor import Tensor


def _opt(lib=None, name="SGD", **kw):
    if lib is None:
        ps = [Tensor(np.zeros(2), requires_grad=True), Tensor(np.zeros(3), requires_grad=True)]
        mod = fg.optim
    else:
        ps = [lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)]
        mod = lib.optim
    return getattr(mod, name)([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.05}],
                              lr=0.1, **kw)


def _step(opt, sched, n, metrics=None):
    lrs = []
    for i in range(n):
        opt.step()
        sched.step() if metrics is None else sched.step(metrics[i])
        lrs.append(sched.get_last_lr())
    return lrs


# --------------------------------------------------------------------------- #
# without torch: known values
# --------------------------------------------------------------------------- #
def test_step_lr_values():
    opt = _opt()
    sched = S.StepLR(opt, step_size=2, gamma=0.5)
    assert sched.get_last_lr() == [0.1, 0.05]
    lrs = [lr[0] for lr in _step(opt, sched, 5)]
    assert lrs == [0.1, 0.05, 0.05, 0.025, 0.025]
    assert opt.param_groups[0]["initial_lr"] == 0.1


def test_cosine_matches_closed_form():
    opt = _opt()
    sched = S.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    lrs = [lr[0] for lr in _step(opt, sched, 10)]
    closed = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(1, 11)]
    np.testing.assert_allclose(lrs, closed, rtol=1e-12)


def test_lambda_and_multistep():
    opt = _opt()
    sched = S.LambdaLR(opt, [lambda e: 1.0 / (e + 1), lambda e: 2.0])
    assert sched.get_last_lr() == [0.1, 0.1]
    assert _step(opt, sched, 1)[0] == [0.05, 0.1]
    opt = _opt()
    sched = S.MultiStepLR(opt, milestones=[2, 4], gamma=0.1)
    np.testing.assert_allclose([lr[0] for lr in _step(opt, sched, 5)],
                               [0.1, 0.01, 0.01, 0.001, 0.001])


def test_one_cycle_peaks_at_max_lr_and_cycles_momentum():
    opt = _opt(momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.3)
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0 / 25)
    assert opt.param_groups[0]["momentum"] == 0.95
    lrs = [lr[0] for lr in _step(opt, sched, 9)]
    assert max(lrs) == pytest.approx(1.0) and lrs.index(max(lrs)) == 1
    assert lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        _step(opt, sched, 2)
    adam = _opt(name="Adam")
    S.OneCycleLR(adam, max_lr=0.1, total_steps=5)
    assert adam.param_groups[0]["betas"] == (0.95, 0.999)


def test_reduce_on_plateau_patience_cooldown_min_lr():
    opt = _opt()
    sched = S.ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5, min_lr=0.03)
    lrs = _step(opt, sched, 6, metrics=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert [lr[0] for lr in lrs] == [0.1, 0.1, 0.05, 0.05, 0.05, 0.03]
    assert [lr[1] for lr in lrs] == [0.05, 0.05, 0.03, 0.03, 0.03, 0.03]
    sched.step(Tensor(np.float64(0.5)))  # a one-element Tensor works as a metric
    assert sched.best == 0.5


def test_state_dict_round_trip_through_a_checkpoint(tmp_path):
    opt = _opt()
    sched = S.MultiStepLR(opt, milestones=[3, 6, 6], gamma=0.5)
    _step(opt, sched, 4)
    save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "c.pt")
    ckpt = load(tmp_path / "c.pt")
    opt2 = _opt()
    sched2 = S.MultiStepLR(opt2, milestones=[1], gamma=0.9)
    opt2.load_state_dict(ckpt["opt"])
    sched2.load_state_dict(ckpt["sched"])
    assert _step(opt, sched, 6) == _step(opt2, sched2, 6)


def test_reduce_on_plateau_state_dict_round_trip(tmp_path):
    opt = _opt()
    sched = S.ReduceLROnPlateau(opt, mode="max", patience=0)
    _step(opt, sched, 3, metrics=[1.0, 0.5, 0.4])
    save(sched.state_dict(), tmp_path / "s.pt")
    sched2 = S.ReduceLROnPlateau(_opt(), mode="min")
    sched2.load_state_dict(load(tmp_path / "s.pt"))
    assert sched2.mode == "max" and sched2.best == 1.0 and sched2.num_bad_epochs == 0


def test_errors():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        S.ReduceLROnPlateau(_opt(), factor=1.0)
    with pytest.raises(ValueError, match="mode foo is unknown!"):
        S.ReduceLROnPlateau(_opt(), mode="foo")
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(_opt(), step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="total_steps OR"):
        S.OneCycleLR(_opt(), max_lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy"):
        S.OneCycleLR(_opt(), max_lr=1.0, total_steps=3, anneal_strategy="exp")
    with pytest.raises(ValueError, match="momentum or beta1"):
        S.OneCycleLR(_opt(name="Adagrad"), max_lr=1.0, total_steps=3)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        S.LambdaLR(_opt(), [lambda e: 1.0])


def test_warns_when_scheduler_steps_before_optimizer():
    opt = _opt()
    sched = S.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = _opt()
    sched2 = S.StepLR(opt2, step_size=1)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


# --------------------------------------------------------------------------- #
# parity with torch (50 steps, exact)
# --------------------------------------------------------------------------- #
CASES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 10, 10, 30])),
    ("ExponentialLR", dict(gamma=0.93)),
    ("CosineAnnealingLR", dict(T_max=12, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=50)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e)),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.97)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
    ("LinearLR", dict(start_factor=0.2, total_iters=10)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=50)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=60, anneal_strategy="linear",
                        three_phase=True, pct_start=0.25)),
    ("OneCycleLR", dict(max_lr=0.3, epochs=5, steps_per_epoch=10, cycle_momentum=False,
                        div_factor=10.0, final_div_factor=100.0)),
]


@pytest.mark.parametrize("optname", ["SGD", "Adam"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0] + str(sorted(c[1])))
def test_matches_torch_50_steps(case, optname):
    torch = pytest.importorskip("torch",
                                reason="parity tests need PyTorch (pip install torch==2.13.0)")
    name, kw = case
    okw = dict(momentum=0.9) if optname == "SGD" else {}
    fo, to = _opt(None, optname, **okw), _opt(torch, optname, **okw)
    fs = getattr(S, name)(fo, **kw)
    ts = getattr(torch.optim.lr_scheduler, name)(to, **kw)
    assert fs.get_last_lr() == ts.get_last_lr()
    key = "betas" if optname == "Adam" else "momentum"
    for _ in range(50):
        fo.step()
        to.step()
        fs.step()
        ts.step()
        assert fs.get_last_lr() == ts.get_last_lr()
        assert [g[key] for g in fo.param_groups] == [g[key] for g in to.param_groups]
    assert fs.last_epoch == ts.last_epoch


@pytest.mark.parametrize("kw", [
    dict(),
    dict(patience=2, factor=0.5),
    dict(mode="max", threshold_mode="abs", threshold=0.1, patience=2, cooldown=2, factor=0.5,
         min_lr=[0.01, 0.02]),
    dict(mode="min", threshold_mode="abs", patience=0, eps=1e-3),
])
def test_reduce_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch",
                                reason="parity tests need PyTorch (pip install torch==2.13.0)")
    fo, to = _opt(), _opt(torch)
    fs = S.ReduceLROnPlateau(fo, **kw)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kw)
    rng = np.random.default_rng(0)
    for i in range(50):
        m = float(rng.normal()) + (0.0 if i % 10 else 5.0) - 0.05 * i
        fs.step(m)
        ts.step(m)
        assert fs.get_last_lr() == ts.get_last_lr()
        assert fs.num_bad_epochs == ts.num_bad_epochs and fs.best == ts.best
