"""funcgrad.optim against torch.optim: same parameters, same gradients, same numbers.

Each optimizer runs 20 steps in float64 from the same initial parameters with
the same gradient sequence (one parameter skips some steps: its .grad is None),
and every step's parameters and state must agree to rtol 1e-10.  The
param_groups, the state_dict layout and the repr must equal PyTorch's.
"""
import numpy as np
import pytest

import funcgrad as fg
from funcgrad.tensor import Tensor

pytestmark = [*globals().get("pytestmark", []), pytest.mark.usefixtures("on_backend")]  # every backend

torch = pytest.importorskip("torch", reason="parity tests need PyTorch (pip install torch==2.13.0)")

STEPS = 20
RTOL = 1e-10

CASES = [
    ("SGD", {}),
    ("SGD", dict(momentum=0.9)),
    ("SGD", dict(momentum=0.9, dampening=0.3)),
    ("SGD", dict(momentum=0.9, nesterov=True)),
    ("SGD", dict(weight_decay=0.1)),
    ("SGD", dict(maximize=True)),
    ("SGD", dict(momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True)),
    ("Adam", {}),
    ("Adam", dict(betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(weight_decay=0.1)),
    ("Adam", dict(amsgrad=True)),
    ("Adam", dict(maximize=True)),
    ("Adam", dict(amsgrad=True, weight_decay=0.05, maximize=True)),
    ("AdamW", {}),
    ("AdamW", dict(weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(maximize=True, betas=(0.5, 0.9))),
    ("RMSprop", {}),
    ("RMSprop", dict(alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(weight_decay=0.1)),
    ("RMSprop", dict(maximize=True)),
    ("RMSprop", dict(centered=True, momentum=0.5, weight_decay=0.05, maximize=True)),
    ("Adagrad", {}),
    ("Adagrad", dict(lr_decay=0.05)),
    ("Adagrad", dict(weight_decay=0.1)),
    ("Adagrad", dict(initial_accumulator_value=0.3)),
    ("Adagrad", dict(eps=1e-3)),
    ("Adagrad", dict(maximize=True, lr_decay=0.01, weight_decay=0.02)),
    ("Adadelta", {}),
    ("Adadelta", dict(rho=0.8, eps=1e-4)),
    ("Adadelta", dict(weight_decay=0.1, maximize=True)),
]


def _ids(case):
    name, kw = case
    return name + "".join(f"-{k}={v}" for k, v in kw.items())


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    grads = [[rng.normal(size=(3, 4)), rng.normal(size=(5,))] for _ in range(STEPS)]
    return init, grads


def _pair(name, kw, init, groups=None):
    fp = [Tensor(a.copy(), requires_grad=True) for a in init]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    common = dict(lr=0.05, foreach=False, **kw)
    if groups is None:
        f_args, t_args = fp, tp
    else:
        f_args = [{"params": [p], **g} for p, g in zip(fp, groups)]
        t_args = [{"params": [p], **g} for p, g in zip(tp, groups)]
    return (fp, getattr(fg.optim, name)(f_args, **common),
            tp, getattr(torch.optim, name)(t_args, **common))


def _assert_state_close(fo, to):
    fs, ts = fo.state_dict()["state"], to.state_dict()["state"]
    assert fs.keys() == ts.keys()
    for i in fs:
        assert fs[i].keys() == ts[i].keys()
        for k, v in fs[i].items():
            t = ts[i][k]
            if t is None:
                assert v is None
                continue
            np.testing.assert_allclose(np.asarray(v.data), t.numpy(), rtol=RTOL, atol=1e-300,
                                       err_msg=f"state[{i}][{k!r}]")
            if k == "step":
                assert v.dtype == np.float32  # like torch's float32 step


def _run(fp, fo, tp, to, grads, skip_second_every=4):
    for n, gs in enumerate(grads):
        for j, (p, q, g) in enumerate(zip(fp, tp, gs)):
            if j == 1 and n % skip_second_every == 1:
                p.grad = q.grad = None  # skipped this step, by both
            else:
                p.grad, q.grad = Tensor(g.copy()), torch.tensor(g.copy())
        fo.step()
        to.step()
        for p, q in zip(fp, tp):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=RTOL, atol=1e-300,
                                       err_msg=f"parameters differ after step {n + 1}")
        _assert_state_close(fo, to)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_torch_20_steps_float64(case):
    name, kw = case
    init, grads = _problem()
    fp, fo, tp, to = _pair(name, kw, init)
    assert fo.state_dict()["param_groups"] == to.state_dict()["param_groups"]
    assert repr(fo) == repr(to)
    _run(fp, fo, tp, to, grads)
    assert fo.state_dict()["param_groups"] == to.state_dict()["param_groups"]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_param_groups_with_their_own_hyperparameters_match_torch(name):
    extra = {"SGD": dict(momentum=0.9), "RMSprop": dict(momentum=0.5)}.get(name, {})
    init, grads = _problem(1)
    groups = [{"lr": 0.1}, {"lr": 0.01, "weight_decay": 0.2}]
    fp, fo, tp, to = _pair(name, extra, init, groups)
    assert fo.state_dict()["param_groups"] == to.state_dict()["param_groups"]
    assert repr(fo) == repr(to)
    _run(fp, fo, tp, to, grads)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad", "Adadelta"])
def test_float32_parameters_stay_float32_and_track_torch(name):
    init, grads = _problem(2)
    init = [a.astype(np.float32) for a in init]
    fp = [Tensor(a.copy(), requires_grad=True) for a in init]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    fo = getattr(fg.optim, name)(fp, lr=0.01)
    to = getattr(torch.optim, name)(tp, lr=0.01, foreach=False)
    for gs in grads:
        for p, q, g in zip(fp, tp, gs):
            g = g.astype(np.float32)
            p.grad, q.grad = Tensor(g), torch.tensor(g)
        fo.step()
        to.step()
    for p, q in zip(fp, tp):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=2e-5, atol=1e-6)
    for st in fo.state.values():
        for k, v in st.items():
            if v is not None:
                assert v.dtype == np.float32, k


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(lr=0.1, momentum=-1)),
    ("SGD", dict(lr=0.1, weight_decay=-1)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(lr=-0.1)),
    ("Adam", dict(betas=(1.5, 0.9))),
    ("Adam", dict(betas=(0.9, 1.0))),
    ("Adam", dict(eps=-1.0)),
    ("Adam", dict(weight_decay=-1.0)),
    ("AdamW", dict(betas=(-0.1, 0.9))),
    ("RMSprop", dict(alpha=-1.0)),
    ("RMSprop", dict(eps=-1.0)),
    ("RMSprop", dict(momentum=-1.0)),
    ("Adagrad", dict(lr_decay=-1.0)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)),
    ("Adagrad", dict(eps=-1.0)),
])
def test_error_messages_match_torch(name, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(fg.optim, name)([Tensor(np.zeros(2), requires_grad=True)], **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_empty_parameter_list_message_matches_torch():
    with pytest.raises(ValueError) as theirs:
        torch.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError) as ours:
        fg.optim.SGD([], lr=0.1)
    assert str(ours.value) == str(theirs.value) == "optimizer got an empty parameter list"


def test_state_dict_layout_matches_torch_after_steps():
    init, grads = _problem(3)
    fp, fo, tp, to = _pair("Adam", dict(amsgrad=True), init, [{"lr": 0.1}, {}])
    _run(fp, fo, tp, to, grads[:3], skip_second_every=100)
    fsd, tsd = fo.state_dict(), to.state_dict()
    assert fsd["param_groups"] == tsd["param_groups"]
    assert {i: sorted(s) for i, s in fsd["state"].items()} == \
        {i: sorted(s) for i, s in tsd["state"].items()}
