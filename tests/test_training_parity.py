"""Training parity with PyTorch: from PyTorch's initial weights, funcgrad reproduces its losses.

Each case builds the same model with the same constructor calls on
``torch.nn`` and ``funcgrad.nn``, copies PyTorch's initial weights into
funcgrad (``state_dict`` -> ``.detach().numpy()`` -> ``load_state_dict``),
then trains both for 20 steps on the same data with the same optimizer and
loss -- the ordinary ``zero_grad(); loss.backward(); step()`` loop -- and
compares the 20 losses: to 1e-6 relative in float64 and 1e-4 in float32.
The final parameters are compared to the same relative tolerance (scaled by
each parameter's largest entry).

Cases: (i) an MLP with SGD + momentum (plain, nesterov, weight decay);
(ii) a small CNN (Conv2d, ReLU, MaxPool2d, Linear) with Adam; (iii) both
through a ``DataLoader`` without shuffling (a ragged last batch included);
(iv) ``CrossEntropyLoss(label_smoothing=0.1)`` with AdamW.

Run with ``-s`` to see the largest relative loss difference of each case.
"""
from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.nn as fnn
import funcgrad.optim as foptim
from funcgrad.utils.data import DataLoader as FDataLoader, TensorDataset as FTensorDataset

torch = pytest.importorskip("torch", reason="parity tests need PyTorch (pip install torch==2.13.0)")
from torch.utils.data import DataLoader as TDataLoader  # noqa: E402
from torch.utils.data import TensorDataset as TTensorDataset  # noqa: E402

pytestmark = [*globals().get("pytestmark", []), pytest.mark.usefixtures("on_backend")]  # every backend

STEPS = 20
RTOL = {"float64": 1e-6, "float32": 1e-4}
DTYPES = ["float64", "float32"]


# --------------------------------------------------------------------------- #
# Models: one constructor, called with either library's nn
# --------------------------------------------------------------------------- #
def make_mlp(nn):
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(),
                         nn.Linear(16, 5))


def make_cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 2 * 2, 10))


def make_data(kind, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "mlp":
        x, classes = rng.standard_normal((n, 20)), 5
    else:
        x, classes = rng.standard_normal((n, 1, 12, 12)), 10
    return x.astype(dtype), rng.integers(0, classes, size=n).astype(np.int64)


def make_pair(make, dtype):
    """The torch model (seeded, in ``dtype``) and a funcgrad copy holding its weights."""
    torch.manual_seed(0)
    t_model = make(torch.nn).to(getattr(torch, dtype))
    f_model = make(fnn).to(getattr(fg, dtype))
    t_state = t_model.state_dict()
    assert list(f_model.state_dict()) == list(t_state)
    f_model.load_state_dict({k: v.detach().numpy() for k, v in t_state.items()})
    for k, v in f_model.state_dict().items():
        assert v.dtype == np.dtype(dtype), f"{k}: {v.dtype} after load_state_dict"
    return t_model, f_model


# --------------------------------------------------------------------------- #
# Training loops: the same text for both libraries
# --------------------------------------------------------------------------- #
def train(model, optimizer, criterion, batches):
    losses = []
    for inputs, labels in batches:
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def full_batches(lib, x, y):
    return [(lib.tensor(x), lib.tensor(y))] * STEPS


def loader_batches(lib, loader_cls, dataset_cls, x, y, batch_size):
    """STEPS batches from a non-shuffling DataLoader, epoch after epoch."""
    loader = loader_cls(dataset_cls(lib.tensor(x), lib.tensor(y)), batch_size=batch_size,
                        shuffle=False)
    out = []
    while len(out) < STEPS:
        for batch in loader:
            out.append(batch)
    return out[:STEPS]


def run_case(make, kind, opt_name, opt_kw, dtype, loss_kw=None, loader=None):
    """Train both; return (torch losses, funcgrad losses, torch model, funcgrad model)."""
    t_model, f_model = make_pair(make, dtype)
    loss_kw = loss_kw or {}
    if loader is None:
        x, y = make_data(kind, 32, dtype)
        t_batches, f_batches = full_batches(torch, x, y), full_batches(fg, x, y)
    else:
        x, y = make_data(kind, loader["n"], dtype)
        t_batches = loader_batches(torch, TDataLoader, TTensorDataset, x, y, loader["batch_size"])
        f_batches = loader_batches(fg, FDataLoader, FTensorDataset, x, y, loader["batch_size"])
        assert [len(b[1]) for b in f_batches] == [len(b[1]) for b in t_batches]
    t_opt = getattr(torch.optim, opt_name)(t_model.parameters(), **opt_kw)
    f_opt = getattr(foptim, opt_name)(f_model.parameters(), **opt_kw)
    t_losses = train(t_model, t_opt, torch.nn.CrossEntropyLoss(**loss_kw), t_batches)
    f_losses = train(f_model, f_opt, fnn.CrossEntropyLoss(**loss_kw), f_batches)
    return t_losses, f_losses, t_model, f_model


def check(case_id, dtype, result):
    t_losses, f_losses, t_model, f_model = result
    t_losses, f_losses = np.array(t_losses), np.array(f_losses)
    assert len(f_losses) == STEPS and np.all(np.isfinite(f_losses))
    assert t_losses[-1] < t_losses[0], "the case does not train: the comparison would be weak"
    rel = np.abs(f_losses - t_losses) / np.abs(t_losses)
    print(f"\n{case_id} [{dtype}]: max relative loss difference {rel.max():.2e} "
          f"(loss {t_losses[0]:.4f} -> {t_losses[-1]:.4f})")
    rtol = RTOL[dtype]
    np.testing.assert_allclose(f_losses, t_losses, rtol=rtol, atol=0,
                               err_msg=f"{case_id} [{dtype}]: losses per step")
    t_state = t_model.state_dict()
    for k, v in f_model.state_dict().items():
        ref = t_state[k].detach().numpy()
        np.testing.assert_allclose(np.asarray(v), ref, rtol=rtol, atol=rtol * np.abs(ref).max(),
                                   err_msg=f"{case_id} [{dtype}]: final {k}")


# --------------------------------------------------------------------------- #
# The cases
# --------------------------------------------------------------------------- #
SGD_CASES = {
    "sgd-momentum": dict(lr=0.1, momentum=0.9),
    "sgd-nesterov": dict(lr=0.1, momentum=0.9, nesterov=True),
    "sgd-momentum-weight_decay": dict(lr=0.1, momentum=0.9, weight_decay=1e-2),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(SGD_CASES))
def test_mlp_sgd(name, dtype):
    """(i) An MLP trained with SGD + momentum (and its nesterov / weight-decay variants)."""
    check(f"(i) MLP {name}", dtype, run_case(make_mlp, "mlp", "SGD", SGD_CASES[name], dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cnn_adam(dtype):
    """(ii) A small CNN (Conv2d, ReLU, MaxPool2d, Linear) trained with Adam."""
    check("(ii) CNN Adam", dtype, run_case(make_cnn, "cnn", "Adam", dict(lr=1e-2), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_through_dataloader(model, dtype):
    """(iii) (i) and (ii) fed by a DataLoader without shuffling; 38 samples in batches of 8."""
    make, opt_name, opt_kw = ((make_mlp, "SGD", SGD_CASES["sgd-momentum"]) if model == "mlp"
                              else (make_cnn, "Adam", dict(lr=1e-2)))
    check(f"(iii) {model} {opt_name} via DataLoader", dtype,
          run_case(make, model, opt_name, opt_kw, dtype, loader=dict(n=38, batch_size=8)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_label_smoothing_adamw(model, dtype):
    """(iv) CrossEntropyLoss(label_smoothing=0.1) with AdamW (weight decay 0.05)."""
    make = make_mlp if model == "mlp" else make_cnn
    check(f"(iv) {model} AdamW + label smoothing", dtype,
          run_case(make, model, "AdamW", dict(lr=1e-2, weight_decay=0.05), dtype,
                   loss_kw=dict(label_smoothing=0.1)))
