"""checkpoint on the Tensor front (torch.utils.checkpoint): same gradients, less memory."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import funcgrad as torch
import funcgrad.nn as nn
import funcgrad.nn.functional as F
from funcgrad.utils.checkpoint import checkpoint, checkpoint_sequential


class Block(nn.Module):
    """Two layers whose activations the test watches (weakly)."""

    def __init__(self, p_drop=0.0):
        super().__init__()
        self.lin1, self.lin2 = nn.Linear(6, 12), nn.Linear(12, 6)
        self.p_drop = p_drop
        self.watch = []

    def forward(self, x, scale=1.0):
        h = torch.tanh(self.lin1(x))
        h = F.dropout(h, self.p_drop, self.training) if self.p_drop else h
        self.watch.append(weakref.ref(h._data))
        h2 = torch.sin(h) * h * scale
        self.watch.append(weakref.ref(h2._data))
        return self.lin2(h2)


def _grads(tensors):
    return [None if t.grad is None else t.grad._data.copy() for t in tensors]


def _step(block, x, use_checkpoint, **kw):
    """Forward (checkpointed or not), count live activations, backward: grads."""
    for t in [x, *block.parameters()]:
        t.grad = None
    block.watch.clear()
    y = checkpoint(block, x, use_reentrant=False, **kw) if use_checkpoint else block(x, **kw)
    gc.collect()
    alive = sum(r() is not None for r in block.watch)
    ((y ** 2).sum() + y.mean()).backward()
    return alive, _grads([x, *block.parameters()])


def test_same_gradients_without_the_activations():
    torch.manual_seed(0)
    block, x = Block(), torch.randn(5, 6, requires_grad=True)
    alive_plain, plain = _step(block, x, False, scale=0.5)
    alive_ckpt, ckpt = _step(block, x, True, scale=0.5)
    assert alive_plain == 2 and alive_ckpt == 0  # the block's activations were dropped
    for a, b in zip(plain, ckpt):  # inputs and closed-over parameters, bit for bit
        np.testing.assert_array_equal(a, b, strict=True)


def test_dropout_is_replayed_and_the_generator_moves_on_as_without_it():
    block, x = Block(p_drop=0.5), torch.randn(5, 6, requires_grad=True)
    torch.manual_seed(3)
    _, plain = _step(block, x, False)
    after_plain = torch.random.default_generator.get_state()
    torch.manual_seed(3)
    _, ckpt = _step(block, x, True)
    np.testing.assert_array_equal(torch.random.default_generator.get_state(), after_plain)
    for a, b in zip(plain, ckpt):
        np.testing.assert_array_equal(a, b, strict=True)


def test_autograd_grad_and_double_backward_through_a_checkpoint():
    torch.manual_seed(1)
    block, x = Block(), torch.randn(3, 6, requires_grad=True)
    nonlinear_last = lambda t: torch.tanh(block(t))  # noqa: E731 (first node reached saves t)
    results = []
    for use in (False, True):
        y = checkpoint(nonlinear_last, x, use_reentrant=False) if use else nonlinear_last(x)
        (gx,) = torch.autograd.grad((y ** 3).sum(), x, create_graph=True)
        (ggx,) = torch.autograd.grad((gx ** 2).sum(), x)
        results.append((gx._data.copy(), ggx._data.copy()))
        assert all(p.grad is None for p in block.parameters())  # grad() accumulates nothing
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_retain_graph_runs_the_block_again_only_once():
    calls = []
    lin = nn.Linear(4, 4)

    def block(t):
        calls.append(1)
        return torch.tanh(lin(t))
    x = torch.randn(2, 4, requires_grad=True)
    y = checkpoint(block, x, use_reentrant=False).sum()
    y.backward(retain_graph=True)
    first = x.grad._data.copy()
    y.backward()
    assert len(calls) == 2  # the forward pass and one recomputation
    np.testing.assert_allclose(x.grad._data, 2 * first)


def test_multiple_outputs_kwargs_and_non_tensor_arguments():
    lin = nn.Linear(3, 3)

    def block(a, n, b=None):
        h = lin(a) * n
        return h + b, torch.exp(h)
    a = torch.randn(2, 3, requires_grad=True)
    b = torch.randn(2, 3, requires_grad=True)
    grads = []
    for use in (False, True):
        for t in (a, b, *lin.parameters()):
            t.grad = None
        u, v = checkpoint(block, a, 2, b=b, use_reentrant=False) if use else block(a, 2, b=b)
        (u.sum() + (v * v).sum()).backward()
        grads.append(_grads([a, b, *lin.parameters()]))
    for g0, g1 in zip(*grads):
        np.testing.assert_array_equal(g0, g1, strict=True)


def test_checkpoint_sequential_matches_the_plain_model():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(),
                          nn.Linear(8, 2))
    x = torch.randn(4, 5)
    grads = []
    for use in (False, True):
        model.zero_grad()
        out = checkpoint_sequential(model, 2, x, use_reentrant=False) if use else model(x)
        out.pow(2).sum().backward()
        grads.append(_grads(list(model.parameters())))
    for g0, g1 in zip(*grads):
        np.testing.assert_array_equal(g0, g1, strict=True)


def test_an_input_modified_in_place_before_backward_is_an_error():
    lin = nn.Linear(3, 3)
    x = torch.randn(2, 3, requires_grad=True)
    h = x * 1.0
    y = checkpoint(lambda t: torch.tanh(lin(t)), h, use_reentrant=False).sum()
    h.mul_(2.0)
    with pytest.raises(RuntimeError, match="checkpoint: an input .* modified in place"):
        y.backward()


def test_a_recomputation_that_records_other_operations_is_an_error():
    runs = []

    def moody(t):
        runs.append(1)
        return torch.exp(t) if len(runs) == 1 else torch.sin(torch.exp(t))
    x = torch.randn(3, requires_grad=True)
    y = checkpoint(moody, x, use_reentrant=False).sum()
    with pytest.raises(RuntimeError, match="recorded different operations"):
        y.backward()


def test_under_no_grad_and_on_arrays_under_grad():
    import funcgrad.numpy as fnp
    lin = nn.Linear(3, 3)
    with torch.no_grad():
        y = checkpoint(lin, torch.ones(1, 3), use_reentrant=False)
    assert not y.requires_grad
    f = lambda v: fnp.sum(checkpoint(lambda u: fnp.tanh(u) ** 2, v))  # noqa: E731
    v = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(torch.grad(f)(v), 2 * np.tanh(v) / np.cosh(v) ** 2)


def test_unsupported_pytorch_options_say_so():
    with pytest.raises(NotImplementedError, match="context_fn"):
        checkpoint(torch.exp, torch.ones(2), use_reentrant=False, context_fn=lambda: None)
