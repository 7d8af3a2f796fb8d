"""Loss functions: hand-computed values, error messages, gradients, and parity with PyTorch."""
from __future__ import annotations

import math

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.nn as fnn
import funcgrad.nn.functional as F
from funcgrad.testing import check_grads


pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")


def _rng(seed=0):
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- #
# Values computed by hand (no PyTorch needed)
# --------------------------------------------------------------------------- #
def test_cross_entropy_by_hand():
    logits = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]])
    target = np.array([1, 2])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expect = -(logp[0, 1] + logp[1, 2]) / 2
    np.testing.assert_allclose(F.cross_entropy(logits, target), expect, rtol=1e-12)
    w = np.array([0.2, 1.0, 3.0])
    expect_w = -(logp[0, 1] * 1.0 + logp[1, 2] * 3.0) / 4.0
    np.testing.assert_allclose(F.cross_entropy(logits, target, weight=w), expect_w, rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(logits, target, reduction="none"),
                               [-logp[0, 1], -logp[1, 2]], rtol=1e-12)


def test_cross_entropy_ignore_index_and_any_int_dtype():
    logits = _rng().standard_normal((4, 3))
    t = np.array([0, -100, 2, 1])
    full = F.cross_entropy(logits, t, reduction="none")
    assert full[1] == 0.0
    np.testing.assert_allclose(F.cross_entropy(logits, t), full.sum() / 3, rtol=1e-12)
    for dt in (np.int8, np.uint8, np.int32, np.int64):
        t2 = np.array([0, 1, 2, 1], dtype=dt)
        np.testing.assert_allclose(F.cross_entropy(logits, t2),
                                   F.cross_entropy(logits, t2.astype(np.int64)), rtol=1e-12)


def test_cross_entropy_probability_targets_equal_one_hot_indices():
    logits = _rng(1).standard_normal((3, 4))
    idx = np.array([3, 0, 1])
    probs = np.eye(4)[idx]
    np.testing.assert_allclose(F.cross_entropy(logits, probs), F.cross_entropy(logits, idx),
                               rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(logits, probs, label_smoothing=0.2),
                               F.cross_entropy(logits, idx, label_smoothing=0.2), rtol=1e-12)


def test_binary_cross_entropy_clamps_log_at_minus_100():
    p = np.array([0.0, 1.0, 0.5])
    t = np.array([1.0, 0.0, 1.0])
    out = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_allclose(out, [100.0, 100.0, math.log(2)], rtol=1e-12)
    g = fg.grad(lambda q: F.binary_cross_entropy(q, t, reduction="sum"))(p)
    assert np.all(np.isfinite(g))


def test_bce_with_logits_is_stable_for_large_logits():
    x = np.array([1000.0, -1000.0, 0.0])
    t = np.array([0.0, 1.0, 1.0])
    out = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(out, [1000.0, 1000.0, math.log(2)], rtol=1e-12)
    g = fg.grad(lambda z: F.binary_cross_entropy_with_logits(z, t, reduction="sum"))(x)
    np.testing.assert_allclose(g, [1.0, -1.0, -0.5], atol=1e-12)


def test_kl_div_zero_target_contributes_zero_and_batchmean():
    logq = np.log(np.array([[0.5, 0.5], [0.9, 0.1]]))
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    expect = (np.log(1 / 0.5) + 0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(0.5 / 0.1)) / 2
    np.testing.assert_allclose(F.kl_div(logq, p, reduction="batchmean"), expect, rtol=1e-12)
    np.testing.assert_allclose(F.kl_div(logq, np.log(np.where(p > 0, p, 1e-300)),
                                        reduction="batchmean", log_target=True),
                               expect, rtol=1e-9)
    g = fg.grad(lambda q: F.kl_div(q, p, reduction="sum"))(logq)
    assert np.all(np.isfinite(g))


def test_smooth_l1_and_huber_by_hand():
    x, t = np.array([0.2, 3.0]), np.array([0.0, 0.0])
    np.testing.assert_allclose(F.smooth_l1_loss(x, t, reduction="none", beta=0.5),
                               [0.5 * 0.04 / 0.5, 3.0 - 0.25])
    np.testing.assert_allclose(F.huber_loss(x, t, reduction="none", delta=2.0),
                               [0.02, 2.0 * (3.0 - 1.0)])
    np.testing.assert_allclose(F.smooth_l1_loss(x, t, beta=0.0), F.l1_loss(x, t))


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
def test_cross_entropy_target_out_of_bounds_names_the_classes():
    logits = np.zeros((2, 10))
    with pytest.raises(IndexError, match=r"Target 10 is out of bounds\..*10 classes"):
        F.cross_entropy(logits, np.array([1, 10]))
    with pytest.raises(IndexError, match="Target -1 is out of bounds"):
        F.nll_loss(logits, np.array([-1, 0]))


def test_cross_entropy_float_target_with_wrong_shape_is_explained():
    with pytest.raises(ValueError, match="probability targets must have the input's shape"):
        F.cross_entropy(np.zeros((3, 5)), np.zeros(3))


def test_cross_entropy_wrong_dtype_and_batch():
    with pytest.raises(TypeError, match="integer dtype"):
        F.nll_loss(np.zeros((3, 5)), np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target "
                                         r"batch_size \(2\)"):
        F.cross_entropy(np.zeros((3, 5)), np.array([0, 1]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.mse_loss(np.zeros(2), np.zeros(2), reduction="avg")


def test_target_range_check_is_skipped_under_transforms():
    logits = np.zeros((2, 3))
    g = fg.vmap(lambda t: F.cross_entropy(logits, t, reduction="sum"))(np.array([[0, 1],
                                                                                [2, 1]]))
    assert g.shape == (2,)


def test_bce_shape_mismatch_and_range():
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy(np.full((3, 1), 0.5), np.ones(3))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(np.array([1.5]), np.ones(1))


def test_gaussian_nll_var_checks():
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(np.zeros(2), np.zeros(2), -np.ones(2))


# --------------------------------------------------------------------------- #
# Gradients against finite differences (float64)
# --------------------------------------------------------------------------- #
GRAD_CASES = [
    ("mse", lambda x, t: F.mse_loss(x, t), (3, 4), "float"),
    ("l1", lambda x, t: F.l1_loss(x, t, reduction="sum"), (3, 4), "float"),
    ("smooth_l1", lambda x, t: F.smooth_l1_loss(x, t, beta=0.5), (3, 4), "float"),
    ("huber", lambda x, t: F.huber_loss(x, t, delta=0.7), (3, 4), "float"),
    ("ce_index", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), (3, 4), "index"),
    ("ce_kdim", lambda x, t: F.cross_entropy(x, t, reduction="none"), (2, 3, 2), "index"),
    ("ce_prob", lambda x, t: F.cross_entropy(x, t), (3, 4), "prob"),
    ("nll", lambda x, t: F.nll_loss(x, t, reduction="sum"), (3, 4), "index"),
    ("bce_logits", lambda x, t: F.binary_cross_entropy_with_logits(x, t), (3, 4), "unit"),
    ("bce", lambda x, t: F.binary_cross_entropy(F.sigmoid(x), t), (3, 4), "unit"),
    ("kl", lambda x, t: F.kl_div(F.log_softmax(x, 1), t, reduction="batchmean"), (3, 4),
     "prob"),
    ("poisson", lambda x, t: F.poisson_nll_loss(x, t, full=True), (3, 4), "count"),
    ("soft_margin", lambda x, t: F.soft_margin_loss(x, t), (3, 4), "sign"),
    ("multilabel", lambda x, t: F.multilabel_soft_margin_loss(x, t), (3, 4), "unit"),
]


def _target(kind, shape, rng):
    if kind == "float":
        return rng.standard_normal(shape)
    if kind == "index":
        return rng.integers(0, shape[1], (shape[0],) + shape[2:])
    if kind == "prob":
        p = rng.random(shape) + 0.1
        return p / p.sum(1, keepdims=True)
    if kind == "unit":
        return rng.random(shape)
    if kind == "count":
        return rng.integers(0, 4, shape).astype(float)
    return np.sign(rng.standard_normal(shape))


@pytest.mark.parametrize("fn, shape, kind", [pytest.param(f, s, k, id=i)
                                             for i, f, s, k in GRAD_CASES])
def test_loss_gradients_match_finite_differences(fn, shape, kind):
    rng = _rng(2)
    x = rng.standard_normal(shape)
    t = _target(kind, shape, rng)
    check_grads(lambda z: fn(z, t), (x,), order=1)


def test_ranking_and_embedding_loss_gradients():
    rng = _rng(3)
    a, b, c = rng.standard_normal((3, 4, 5))
    y = np.array([1.0, -1.0, 1.0, -1.0])
    check_grads(lambda u, v: F.cosine_embedding_loss(u, v, y, margin=-0.9), (a, b), order=1)
    check_grads(lambda u, v: F.margin_ranking_loss(u[:, 0], v[:, 0], y, margin=5.0), (a, b),
                order=1)
    check_grads(lambda u, v, w: F.triplet_margin_loss(u, v, w, margin=10.0), (a, b, c),
                order=1)
    var = rng.random((4, 5)) + 0.5
    check_grads(lambda u, s: F.gaussian_nll_loss(u, b, s, full=True), (a, var), order=1)


# --------------------------------------------------------------------------- #
# Parity with PyTorch (forward and input gradient)
# --------------------------------------------------------------------------- #
def _parity_cases():
    rng = _rng(4)
    x = rng.standard_normal((4, 3))
    xk = rng.standard_normal((2, 3, 2, 2))
    idx = np.array([0, 2, 1, 2])
    idx_ign = np.array([0, -100, 1, 2])
    idxk = rng.integers(0, 3, (2, 2, 2))
    prob = rng.random((4, 3))
    prob /= prob.sum(1, keepdims=True)
    w = np.array([0.3, 1.0, 2.0])
    y = rng.standard_normal((4, 3))
    u = rng.random((4, 3))
    sgn = np.array([1.0, -1.0, 1.0, -1.0])
    cases = []
    for red in ("mean", "sum", "none"):
        cases += [
            ("CrossEntropyLoss", dict(reduction=red), x, idx),
            ("CrossEntropyLoss", dict(reduction=red, weight=w, ignore_index=-100), x, idx_ign),
            ("CrossEntropyLoss", dict(reduction=red, label_smoothing=0.15), x, idx_ign),
            ("CrossEntropyLoss", dict(reduction=red, label_smoothing=0.1, weight=w), x, idx_ign),
            ("CrossEntropyLoss", dict(reduction=red), xk, idxk),
            ("CrossEntropyLoss", dict(reduction=red, weight=w, label_smoothing=0.2), x, prob),
            ("NLLLoss", dict(reduction=red, weight=w, ignore_index=1), x, idx),
            ("MSELoss", dict(reduction=red), x, y),
            ("L1Loss", dict(reduction=red), x, y),
            ("SmoothL1Loss", dict(reduction=red, beta=0.4), x, y),
            ("HuberLoss", dict(reduction=red, delta=0.6), x, y),
            ("BCELoss", dict(reduction=red, weight=w), u, prob),
            ("BCEWithLogitsLoss", dict(reduction=red, pos_weight=w), x, u),
            ("BCEWithLogitsLoss", dict(reduction=red, weight=w), x, u),
            ("KLDivLoss", dict(reduction=red), x, prob),
            ("KLDivLoss", dict(reduction=red, log_target=True), x, y),
            ("PoissonNLLLoss", dict(reduction=red), x, u),
            ("PoissonNLLLoss", dict(reduction=red, log_input=False, full=True), u, u * 3),
            ("SoftMarginLoss", dict(reduction=red), x, np.sign(y)),
            ("MultiLabelSoftMarginLoss", dict(reduction=red, weight=w), x, u),
            ("HingeEmbeddingLoss", dict(reduction=red, margin=0.5), x, np.sign(y)),
            ("MultiMarginLoss", dict(reduction=red, p=2, weight=w), x, idx),
            ("MultiLabelMarginLoss", dict(reduction=red), x, np.array(
                [[2, -1, 0], [0, 1, -1], [-1, 2, 1], [1, 2, 0]])),
        ]
    cases += [("KLDivLoss", dict(reduction="batchmean"), x, prob),
              ("CrossEntropyLoss", {}, x[0], np.array(2)),
              ("CrossEntropyLoss", dict(label_smoothing=0.3), x[0], prob[0])]
    three = [("CosineEmbeddingLoss", dict(margin=0.1), x, y, sgn),
             ("MarginRankingLoss", dict(margin=0.2), x[:, 0], y[:, 0], sgn),
             ("TripletMarginLoss", dict(margin=0.5, p=1.5, swap=True), x, y, u),
             ("GaussianNLLLoss", dict(full=True), x, y, u + 0.1),
             ("TripletMarginWithDistanceLoss", dict(margin=0.5, swap=True), x, y, u),
             ("GaussianNLLLoss", dict(reduction="sum"), x, y, u[:, 0] + 0.1)]
    return cases, three


_CASES, _THREE = _parity_cases()


def _to_t(torch, v, grad=False):
    t = torch.tensor(v)
    return t.requires_grad_(True) if grad and t.dtype.is_floating_point else t


@pytest.mark.parametrize("name, kwargs, x, t", [
    pytest.param(*c, id=f"{c[0]}-{i}") for i, c in enumerate(_CASES)])
def test_loss_parity_with_torch(name, kwargs, x, t):
    torch = pytest.importorskip("torch",
                                reason="parity tests need PyTorch (pip install torch==2.13.0)")
    tk = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    fk = {k: (fg.Tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    tx, tt = _to_t(torch, x, True), _to_t(torch, t)
    fx, ft = fg.Tensor(x.copy(), requires_grad=True), fg.Tensor(t)
    t_out = getattr(torch.nn, name)(**tk)(tx, tt)
    f_out = getattr(fnn, name)(**fk)(fx, ft)
    np.testing.assert_allclose(f_out.data, t_out.detach().numpy(), rtol=1e-6, atol=1e-12)
    ct = np.linspace(0.5, 1.5, int(np.prod(t_out.shape))).reshape(tuple(t_out.shape))
    t_out.backward(torch.tensor(ct))
    f_out.backward(fg.Tensor(ct))
    np.testing.assert_allclose(fx.grad.data, tx.grad.numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name, kwargs, a, b, c", [
    pytest.param(*c, id=c[0]) for c in _THREE])
def test_three_input_loss_parity_with_torch(name, kwargs, a, b, c):
    torch = pytest.importorskip("torch",
                                reason="parity tests need PyTorch (pip install torch==2.13.0)")
    ta, tb, tc = (_to_t(torch, v, True) for v in (a, b, c))
    fa, fb, fc = (fg.Tensor(v.copy(), requires_grad=True) for v in (a, b, c))
    t_out = getattr(torch.nn, name)(**kwargs)(ta, tb, tc)
    f_out = getattr(fnn, name)(**kwargs)(fa, fb, fc)
    np.testing.assert_allclose(f_out.data, t_out.detach().numpy(), rtol=1e-6)
    t_out.sum().backward()
    f_out.backward() if f_out.ndim == 0 else f_out.backward(fg.Tensor(np.ones(f_out.shape)))
    for f, t in ((fa, ta), (fb, tb), (fc, tc)):
        if t.grad is not None:
            np.testing.assert_allclose(f.grad.data, t.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_loss_modules_register_weight_buffers():
    loss = fnn.CrossEntropyLoss(weight=fg.Tensor(np.ones(3)))
    assert list(loss.state_dict()) == ["weight"]
    assert list(fnn.MSELoss().state_dict()) == []
    assert repr(fnn.MSELoss()) == "MSELoss()"
    assert fnn.MSELoss(size_average=False).reduction == "sum"
    assert fnn.L1Loss(reduce=False).reduction == "none"


# Every test here also runs with each available backend as the default device.
pytestmark = [*(pytestmark if isinstance(pytestmark, list) else [pytestmark]),
              pytest.mark.usefixtures("on_backend")]
