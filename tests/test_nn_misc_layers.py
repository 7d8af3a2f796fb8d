"""EmbeddingBag, CTCLoss, and BatchNorm's explicit state path (``nn.stateful_call``).

Reference values (NumPy loops, brute-force enumeration of CTC alignments),
finite-difference gradient checks (float64, tiny sizes), and PyTorch parity
(the same weights, float64; outputs and gradients to 1e-6 relative).
"""
from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.nn as nn
import funcgrad.nn.functional as F
import funcgrad.numpy as fnp
from funcgrad.testing import check_grads

pytestmark = [*globals().get("pytestmark", []), pytest.mark.usefixtures("on_backend")]  # every backend

RTOL, ATOL = 1e-6, 1e-10


def _torch():
    return pytest.importorskip("torch", reason="parity tests need PyTorch "
                                               "(pip install torch==2.13.0)")


def _close(a, b, what=""):
    a = np.asarray(a._data if isinstance(a, fg.Tensor) else a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


# --------------------------------------------------------------------------- #
# EmbeddingBag
# --------------------------------------------------------------------------- #
def _bags_reference(idx, w, offsets, mode, padding_idx=None, psw=None):
    bounds = list(offsets) + [len(idx)]
    out = []
    for b in range(len(offsets)):
        sel = [i for i in range(bounds[b], bounds[b + 1]) if idx[i] != padding_idx]
        if not sel:
            out.append(np.zeros(w.shape[1]))
            continue
        rows = w[idx[sel]] * (psw[sel, None] if psw is not None else 1.0)
        out.append({"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[mode])
    return np.array(out)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_matches_reference(rng, mode):
    w = rng.standard_normal((10, 3))
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    for offsets in ([0, 3], [0, 4, 4], [0], [0, 0, 8]):
        out = F.embedding_bag(idx, w, np.array(offsets), mode=mode)
        np.testing.assert_allclose(out, _bags_reference(idx, w, offsets, mode), rtol=1e-12)
        out = F.embedding_bag(idx, w, np.array(offsets), mode=mode, padding_idx=4)
        np.testing.assert_allclose(out, _bags_reference(idx, w, offsets, mode, 4), rtol=1e-12)
    # 2-D input: fixed-size bags
    out = F.embedding_bag(idx.reshape(2, 4), w, mode=mode)
    np.testing.assert_allclose(out, _bags_reference(idx, w, [0, 4], mode), rtol=1e-12)
    # include_last_offset: offsets end with len(input)
    out = F.embedding_bag(idx, w, np.array([0, 3, 8]), mode=mode, include_last_offset=True)
    np.testing.assert_allclose(out, _bags_reference(idx, w, [0, 3], mode), rtol=1e-12)


def test_embedding_bag_per_sample_weights_and_empty_input(rng):
    w = rng.standard_normal((6, 2))
    idx, psw = np.array([0, 5, 5, 1]), rng.standard_normal(4)
    out = F.embedding_bag(idx, w, np.array([0, 1]), mode="sum", per_sample_weights=psw)
    np.testing.assert_allclose(out, _bags_reference(idx, w, [0, 1], "sum", psw=psw),
                               rtol=1e-12)
    empty = F.embedding_bag(np.zeros(0, np.int64), w, np.array([0, 0]))
    assert empty.shape == (2, 2) and not np.any(empty)


def test_embedding_bag_module(rng):
    fg.manual_seed(0)
    bag = nn.EmbeddingBag(10, 3, mode="max", padding_idx=2)
    assert bag.weight.shape == (10, 3) and bag.weight.dtype == np.float32
    assert not np.any(bag.weight._data[2]) and np.any(bag.weight._data)
    assert repr(bag) == "EmbeddingBag(10, 3, mode='max', padding_idx=2)"
    out = bag(fg.tensor([1, 2, 3, 2]), fg.tensor([0, 2]))
    assert out.shape == (2, 3)
    out.sum().backward()
    assert not np.any(bag.weight.grad._data[2])  # padding entries take no part
    assert np.any(bag.weight.grad._data[1])
    pre = nn.EmbeddingBag.from_pretrained(fg.ones(4, 2), mode="sum")
    assert not pre.weight.requires_grad
    np.testing.assert_allclose(pre(fg.tensor([[0, 1, 2]]))._data, [[3.0, 3.0]])


def test_embedding_bag_errors(rng):
    w = rng.standard_normal((5, 2))
    idx = np.array([0, 1, 2])
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(idx.reshape(1, 3), w, np.array([0]))
    with pytest.raises(ValueError, match="offsets has to be a 1D"):
        F.embedding_bag(idx, w)
    with pytest.raises(ValueError, match=r"offsets\[0\] has to be 0"):
        F.embedding_bag(idx, w, np.array([1, 2]))
    with pytest.raises(ValueError, match="non-decreasing"):
        F.embedding_bag(idx, w, np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="only supported for mode='sum'"):
        F.embedding_bag(idx, w, np.array([0]), per_sample_weights=np.ones(3))
    with pytest.raises(ValueError, match="mode has to be"):
        F.embedding_bag(idx, w, np.array([0]), mode="median")
    with pytest.raises(TypeError, match="integer"):
        F.embedding_bag(idx.astype(float), w, np.array([0]))
    with pytest.raises(ValueError, match="mode has to be"):
        nn.EmbeddingBag(5, 2, mode="median")


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_gradients_match_finite_differences(rng, mode):
    w = rng.standard_normal((6, 3))
    idx, offsets = np.array([1, 2, 4, 2, 5]), np.array([0, 2, 2])
    check_grads(lambda w: F.embedding_bag(idx, w, offsets, mode=mode, padding_idx=4), (w,),
                order=2)
    if mode == "sum":
        psw = rng.standard_normal(5)
        check_grads(lambda w, p: F.embedding_bag(idx, w, offsets, mode="sum",
                                                 per_sample_weights=p), (w, psw), order=2)


EB_CASES = [
    # id, module kwargs, input, offsets, with per_sample_weights
    ("mean_offsets", {"mode": "mean"}, [1, 2, 4, 5, 4, 3, 2, 9], [0, 4, 4], False),
    ("sum_padding", {"mode": "sum", "padding_idx": 4}, [1, 2, 4, 5, 4, 3, 2, 9], [0, 3], False),
    ("max_padding", {"mode": "max", "padding_idx": 2}, [1, 2, 4, 5, 4, 3, 2, 9], [0, 2, 5],
     False),
    ("mean_2d", {"mode": "mean", "padding_idx": 0}, [[1, 0, 4], [0, 0, 0]], None, False),
    ("max_2d", {"mode": "max"}, [[1, 3, 4], [7, 8, 2]], None, False),
    ("sum_last_offset", {"mode": "sum", "include_last_offset": True},
     [1, 2, 4, 5, 4, 3, 2, 9], [0, 3, 8], False),
    ("sum_per_sample", {"mode": "sum"}, [1, 2, 4, 5, 4, 3, 2, 9], [0, 3], True),
    ("mean_max_norm", {"mode": "mean", "max_norm": 1.0}, [1, 2, 4, 5], [0, 2], False),
]


@pytest.mark.parametrize("case", EB_CASES, ids=[c[0] for c in EB_CASES])
def test_embedding_bag_parity_with_torch(rng, case):
    torch = _torch()
    _, kw, idx, offsets, with_psw = case
    t = torch.nn.EmbeddingBag(10, 3, **kw).double()
    f = nn.EmbeddingBag(10, 3, **kw).double()
    assert list(f.state_dict()) == list(t.state_dict()) == ["weight"]
    f.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    idx = np.array(idx)
    psw = rng.standard_normal(idx.shape) if with_psw else None
    t_psw = torch.tensor(psw, requires_grad=True) if with_psw else None
    f_psw = fg.Tensor(psw, requires_grad=True) if with_psw else None
    t_off = None if offsets is None else torch.tensor(offsets)
    f_off = None if offsets is None else fg.tensor(offsets)
    t_out = t(torch.tensor(idx), t_off, per_sample_weights=t_psw)
    f_out = f(fg.tensor(idx), f_off, per_sample_weights=f_psw)
    _close(f_out, t_out, "output")
    ct = rng.standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(ct))
    f_out.backward(fg.Tensor(ct))
    _close(f.weight.grad, t.weight.grad, "weight grad")
    _close(f.weight, t.weight, "weight (after max_norm renormalisation)")
    if with_psw:
        _close(f_psw.grad, t_psw.grad, "per_sample_weights grad")


# --------------------------------------------------------------------------- #
# CTC loss
# --------------------------------------------------------------------------- #
def _collapse(path, blank):
    out = []
    prev = None
    for p in path:
        if p != prev and p != blank:
            out.append(p)
        prev = p
    return out


def _ctc_brute_force(log_probs, target, blank=0):
    """-log sum over every path of length T that collapses to ``target``."""
    T, C = log_probs.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        if _collapse(path, blank) == list(target):
            total += np.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
    return -np.log(total) if total > 0 else np.inf


def _log_softmax(x, axis=-1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


@pytest.mark.parametrize("target", [[1], [1, 1], [1, 2], [2, 1, 2], [], [1, 1, 1]])
def test_ctc_matches_brute_force_enumeration(rng, target):
    T, C = 5, 3
    lp = _log_softmax(rng.standard_normal((T, C)))
    expect = _ctc_brute_force(lp, target)
    got = F.ctc_loss(lp[:, None], np.array([target + [0] * (3 - len(target))]), [T],
                     [len(target)], reduction="none")
    np.testing.assert_allclose(got, [expect], rtol=1e-12)
    # shorter input length: only the first frames count
    got = F.ctc_loss(lp[:, None], np.array([target + [0] * (3 - len(target))]), [4],
                     [len(target)], reduction="sum")
    np.testing.assert_allclose(got, _ctc_brute_force(lp[:4], target), rtol=1e-12)


def test_ctc_reductions_forms_and_blank(rng):
    T, N, C = 6, 3, 4
    lp = _log_softmax(rng.standard_normal((T, N, C)))
    targets = np.array([[1, 2, 3], [3, 3, 0], [2, 0, 0]])
    il, tl = np.array([6, 5, 4]), np.array([3, 2, 1])
    per = F.ctc_loss(lp, targets, il, tl, reduction="none")
    assert per.shape == (3,)
    np.testing.assert_allclose(F.ctc_loss(lp, targets, il, tl, reduction="sum"), per.sum())
    np.testing.assert_allclose(F.ctc_loss(lp, targets, il, tl), np.mean(per / tl))
    flat = np.concatenate([targets[i, :tl[i]] for i in range(N)])
    np.testing.assert_allclose(F.ctc_loss(lp, flat, il, tl, reduction="none"), per,
                               rtol=1e-12)
    # unbatched (T, C) input
    one = F.ctc_loss(lp[:, 0], targets[0], 6, 3, reduction="none")
    assert np.shape(one) == () and np.isclose(one, per[0])
    # another blank index: relabel 0 <-> 3
    perm = [3, 1, 2, 0]
    relabel = np.array(perm)[targets]
    np.testing.assert_allclose(F.ctc_loss(lp[..., perm], relabel, il, tl, blank=3,
                                          reduction="none"), per, rtol=1e-12)
    loss = nn.CTCLoss(reduction="sum")(fg.Tensor(lp), fg.tensor(targets), fg.tensor(il),
                                       fg.tensor(tl))
    np.testing.assert_allclose(loss._data, per.sum())


def test_ctc_impossible_alignment_and_zero_infinity(rng):
    T, C = 3, 3
    lp = _log_softmax(rng.standard_normal((T, 2, C)))
    targets = np.array([[1, 1, 1], [1, 2, 0]])  # 1,1,1 needs 5 frames
    tl = np.array([3, 2])
    per = F.ctc_loss(lp, targets, [3, 3], tl, reduction="none")
    assert np.isinf(per[0]) and np.isfinite(per[1])

    def loss(lp):
        return F.ctc_loss(lp, targets, [3, 3], tl, reduction="sum", zero_infinity=True)
    np.testing.assert_allclose(loss(lp), per[1])
    g = fg.grad(loss)(lp)
    assert np.all(np.isfinite(g)) and not np.any(g[:, 0]) and np.any(g[:, 1])


def test_ctc_gradients_match_finite_differences(rng):
    lp = _log_softmax(rng.standard_normal((4, 2, 3)))
    targets = np.array([[1, 1], [2, 0]])
    check_grads(lambda lp: F.ctc_loss(lp, targets, [4, 3], [2, 1], reduction="none"), (lp,),
                order=2)


def test_ctc_vmap_over_examples(rng):
    T, N, C = 5, 3, 4
    lp = _log_softmax(rng.standard_normal((N, T, C)))
    targets = np.array([[1, 2], [3, 3], [2, 1]])
    per = fg.vmap(lambda lp, tg: F.ctc_loss(lp, tg, T, 2, reduction="none"))(lp, targets)
    batched = F.ctc_loss(np.swapaxes(lp, 0, 1), targets, [T] * N, [2] * N, reduction="none")
    np.testing.assert_allclose(per, batched, rtol=1e-12)


def test_ctc_errors(rng):
    lp = _log_softmax(rng.standard_normal((4, 2, 3)))
    tg = np.array([[1, 2], [1, 0]])
    with pytest.raises(ValueError, match="blank"):
        F.ctc_loss(lp, tg, [4, 4], [2, 1], blank=3)
    with pytest.raises(ValueError, match="at most 4"):
        F.ctc_loss(lp, tg, [5, 4], [2, 1])
    with pytest.raises(ValueError, match="one entry per batch"):
        F.ctc_loss(lp, tg, [4], [2, 1])
    with pytest.raises(ValueError, match="size at least 3"):
        F.ctc_loss(lp, tg, [4, 4], [3, 1])
    with pytest.raises(ValueError, match="reduction"):
        F.ctc_loss(lp, tg, [4, 4], [2, 1], reduction="max")
    with pytest.raises(TypeError, match="integers"):
        F.ctc_loss(lp, tg.astype(float), [4, 4], [2, 1])


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("concatenated", [False, True])
def test_ctc_parity_with_torch(rng, reduction, zero_infinity, concatenated):
    torch = _torch()
    T, N, C, S = 10, 4, 5, 4
    logits = rng.standard_normal((T, N, C))
    targets = rng.integers(1, C, (N, S))
    targets[1, 1] = targets[1, 0]  # a repeated label
    targets[3] = [2, 2, 2, 2]  # impossible in 3 frames
    il, tl = np.array([10, 8, 10, 3]), np.array([4, 3, 0, 4])
    if not zero_infinity:
        il[3] = 9  # (an infinite loss makes torch's gradient NaN)
    if concatenated:
        targets = np.concatenate([targets[i, :tl[i]] for i in range(N)])
    t_logits = torch.tensor(logits, requires_grad=True)
    t_loss = torch.nn.CTCLoss(reduction=reduction, zero_infinity=zero_infinity)(
        t_logits.log_softmax(2), torch.tensor(targets), torch.tensor(il), torch.tensor(tl))
    f_logits = fg.Tensor(logits, requires_grad=True)
    f_loss = nn.CTCLoss(reduction=reduction, zero_infinity=zero_infinity)(
        F.log_softmax(f_logits, 2), fg.tensor(targets), fg.tensor(il), fg.tensor(tl))
    _close(f_loss, t_loss, "loss")
    ct = rng.standard_normal(tuple(t_loss.shape))
    t_loss.backward(torch.tensor(ct))
    f_loss.backward(fg.Tensor(ct))
    _close(f_logits.grad, t_logits.grad, "grad of the logits")


# --------------------------------------------------------------------------- #
# BatchNorm state under transforms: stateful_call
# --------------------------------------------------------------------------- #
def _bn_model():
    fg.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(3 * 4 * 4, 2)).double()


def _loss_fn(model):
    def loss_fn(params, buffers, x):
        out, new_buffers = nn.stateful_call(model, (params, buffers), (x,))
        return fnp.sum(out ** 2), new_buffers
    return loss_fn


def test_stateful_call_returns_the_update_and_leaves_the_model(rng):
    model = _bn_model()
    x = rng.standard_normal((5, 2, 4, 4))
    ref = copy.deepcopy(model)
    expect = ref(fg.Tensor(x))  # the eager update, on a copy
    before = {k: np.array(v._data) for k, v in model.named_buffers()}
    out, bufs = nn.stateful_call(model, {}, (fg.Tensor(x),))
    _close(out, expect._data)
    assert list(bufs) == [k for k, _ in model.named_buffers()]
    for name, b in ref.named_buffers():
        _close(bufs[name], b._data, name)
        np.testing.assert_array_equal(model.get_buffer(name)._data, before[name])
    # Tensors given -> Tensors back; arrays given -> arrays back
    _, bufs = nn.stateful_call(model, {"1.running_mean": fg.zeros(3, dtype=fg.float64)},
                               (x,))
    assert isinstance(bufs["1.running_mean"], fg.Tensor)
    assert not isinstance(bufs["1.running_var"], fg.Tensor)
    with pytest.raises(ValueError, match="unexpected key"):
        nn.stateful_call(model, {"nope": 1.0}, (x,))
    with pytest.raises(ValueError, match="missing"):
        nn.stateful_call(model, {}, (x,), strict=True)


def test_stateful_call_under_jit_and_grad_matches_eager_training(rng):
    model = _bn_model()
    xs = [rng.standard_normal((4, 2, 4, 4)) for _ in range(2)]
    params = {k: v._data for k, v in model.named_parameters()}
    buffers = {k: v._data for k, v in model.named_buffers()}
    step = fg.jit(fg.value_and_grad(_loss_fn(model), has_aux=True))
    ref = copy.deepcopy(model)
    for x in xs:
        (loss, buffers), grads = step(params, buffers, x)
        ref.zero_grad()
        ref_loss = (ref(fg.Tensor(x)) ** 2).sum()
        ref_loss.backward()
        _close(loss, ref_loss._data, "loss")
        for name, p in ref.named_parameters():
            _close(grads[name], p.grad._data, f"grad {name}")
    for name, b in ref.named_buffers():
        _close(buffers[name], b._data, f"buffer {name} after two jitted steps")
    assert int(buffers["1.num_batches_tracked"]) == 2
    assert int(model[1].num_batches_tracked._data) == 0  # the model itself is untouched


def test_stateful_call_under_vmap_gives_per_batch_statistics(rng):
    model = _bn_model()
    xs = rng.standard_normal((3, 4, 2, 4, 4))  # three independent batches
    outs, bufs = fg.vmap(lambda x: nn.stateful_call(model, {}, (x,)))(xs)
    assert np.shape(bufs["1.running_mean"]) == (3, 3)
    for i in range(3):
        ref = copy.deepcopy(model)
        ref(fg.Tensor(xs[i]))
        _close(np.asarray(bufs["1.running_mean"]._data if isinstance(
            bufs["1.running_mean"], fg.Tensor) else bufs["1.running_mean"])[i],
            ref[1].running_mean._data, f"batch {i}")


def test_transforms_refuse_to_drop_batchnorm_updates(rng):
    model = _bn_model()
    x = rng.standard_normal((4, 2, 4, 4))

    def loss(m, x):
        return fnp.sum(m(x) ** 2)
    before = {k: np.array(v._data) for k, v in model.named_buffers()}
    # The model passed to jit: its update would be lost -> a clear error.
    with pytest.raises(RuntimeError, match="stateful_call"):
        fg.jit(loss)(model, x)
    for name, b in model.named_buffers():  # a refused call changes nothing
        np.testing.assert_array_equal(b._data, before[name], err_msg=name)
    # Closed over by jit: the update would leak -> a clear error.
    with pytest.raises(RuntimeError, match="stateful_call"):
        fg.jit(lambda x: loss(model, x))(x)
    # vmap over a stack of models (an ensemble) in training mode.
    stacked = fg.tree_util.tree_map(lambda a: np.stack([a, a]), model)
    with pytest.raises(RuntimeError, match="stateful_call"):
        fg.vmap(lambda m: loss(m, x))(stacked)
    # eval mode uses the running statistics: nothing to update, all transforms work.
    model.eval()
    np.testing.assert_allclose(fg.jit(loss)(model, x), loss(model, x)._data, rtol=1e-12)


# --------------------------------------------------------------------------- #
# Docstring examples of the attention, transformer, bag, CTC and state modules
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", [
    "funcgrad.nn._functional.attention", "funcgrad.nn._functional.ctc",
    "funcgrad.nn._functional.embedding_bag", "funcgrad.nn.layers.attention",
    "funcgrad.nn.layers.transformer", "funcgrad.nn.layers.embedding_bag",
    "funcgrad.nn.layers.ctc", "funcgrad.nn._stateful"])
def test_docstring_examples_run(name):
    import doctest
    import importlib
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} failed in {name}"
