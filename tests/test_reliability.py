"""Threads, memory release, leaks: the engine keeps no shared mutable trace state."""
from __future__ import annotations

import gc
import resource
import threading
import weakref

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import ad


def test_two_threads_differentiate_different_functions_at_once():
    results = {}
    barrier = threading.Barrier(2)

    def worker(name, f, x, expected):
        barrier.wait()
        ok = True
        for _ in range(300):
            g = fg.grad(f)(x)
            ok &= np.allclose(g, expected(x))
        results[name] = ok

    x = np.linspace(0.1, 1.0, 7)
    t1 = threading.Thread(target=worker, args=("sin", lambda v: fnp.sum(fnp.sin(v)), x, np.cos))
    t2 = threading.Thread(target=worker, args=(
        "cube", lambda v: fnp.sum(fg.grad(lambda w: fnp.sum(w ** 3))(v)), x, lambda v: 6 * v))
    t1.start(); t2.start(); t1.join(); t2.join()
    assert results == {"sin": True, "cube": True}


def _live_nodes():
    # (type(), not isinstance: some modules' lazy objects warn when asked for __class__)
    return [o for o in gc.get_objects() if issubclass(type(o), ad.Node)]


def test_graph_and_residuals_are_released_after_backward():
    """Nodes, VJP closures and the intermediate arrays they keep die with the pass.

    Every node is counted (whatever path recorded it: ``Node(...)`` or the inline
    fast paths), and every intermediate array is held weakly.
    """
    class Residual(np.ndarray):  # an input subclass: the generic recording path
        pass
    nodes, arrays = [], []

    def f(v):
        h = fnp.tanh(fnp.sin(v) * v)
        out = fnp.sum(fnp.exp(h) / (1.0 + h * h))
        nodes.extend(weakref.ref(n) for n in _live_nodes())
        arrays.extend(weakref.ref(t.primal) for t in (h,) if isinstance(t, ad.VJPTracer))
        return out
    gc.collect()
    before = len(_live_nodes())
    for x in (np.linspace(0, 1, 1000), np.linspace(0, 1, 1000).view(Residual)):
        nodes.clear()
        arrays.clear()
        fg.grad(f)(x)
        assert len(nodes) >= 8 + before, f"only {len(nodes)} nodes were seen recording"
        assert arrays, "no intermediate array was seen"
        gc.disable()  # reference counting alone must free the graph (no cycles)
        try:
            alive = [r for r in nodes if r() is not None]
            alive_arrays = [r for r in arrays if r() is not None]
        finally:
            gc.enable()
        assert len(alive) <= before, f"{len(alive) - before} graph nodes outlived the pass"
        assert not alive_arrays, "an intermediate array outlived the backward pass"


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def test_long_training_loop_keeps_memory_flat():
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((16, 8)) * 0.1, "b": np.zeros(8)}
    x, y = rng.standard_normal((32, 16)), rng.standard_normal((32, 8))

    def loss(p):
        return fnp.mean((fnp.tanh(x @ p["W"] + p["b"]) - y) ** 2)
    g = fg.grad(loss)
    for _ in range(500):  # warm up allocator pools
        params = {k: v - 0.01 * d for (k, v), d in zip(params.items(), g(params).values())}
    before = _rss_mb()
    for _ in range(10_000):
        params = {k: v - 0.01 * d for (k, v), d in zip(params.items(), g(params).values())}
    grown = _rss_mb() - before
    assert grown < 5.0, f"peak resident memory grew by {grown:.1f} MB over 10,000 steps"


def test_tensor_front_training_loop_keeps_memory_flat():
    import funcgrad as torch
    import funcgrad.nn as nn
    import funcgrad.optim as optim
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(32, 16), torch.randint(0, 4, (32,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    for _ in range(300):
        step()
    gc.disable()  # graphs must be freed by reference counting alone
    try:
        before = _rss_mb()
        for _ in range(5_000):
            step()
        grown = _rss_mb() - before
    finally:
        gc.enable()
    assert grown < 5.0, f"peak resident memory grew by {grown:.1f} MB over 5,000 steps"
