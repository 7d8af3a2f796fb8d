"""Where the eager training step's time goes, phase by phase, against hand-written NumPy.

    python benchmarks/phases.py [W6|W2] [--steps N]

Times zero_grad, forward, loss, backward and the optimizer step of the classic
loop on the W6 (or W2) MLP, and the same phases of the hand-written NumPy step,
alternating the two every step; prints the medians.  The runner
(``benchmarks/run.py``) gives the whole-step ratio; this says which phase to work on.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(var, None)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from workloads import w2_mlp, w6_seed_mlp  # noqa: E402


def hand_phases(cfg):
    """The hand-written step of workloads/w2_mlp.py, cut into timed phases."""
    p0, x, y = w2_mlp.problem(cfg)
    params = [p.copy() for p in p0]
    ws, bs = params[0::2], params[1::2]
    n_layers, batch, f32 = len(cfg.sizes) - 1, cfg.batch, np.float32
    rows = np.arange(batch)
    grads = [np.empty_like(p) for p in params]
    bufs = [np.zeros_like(p) for p in params]
    tmps = [np.empty_like(p) for p in params]
    zs = [np.empty((batch, n), f32) for n in cfg.sizes[1:]]
    ghs = [np.empty((batch, n), f32) for n in cfg.sizes[1:-1]]
    masks = [np.empty((batch, n), bool) for n in cfg.sizes[1:-1]]
    probs = np.empty((batch, cfg.sizes[-1]), f32)
    mu, lr = f32(cfg.momentum), f32(cfg.lr)

    def forward():
        a = x
        for i in range(n_layers):
            z = zs[i]
            np.matmul(a, ws[i].T, out=z)
            z += bs[i]
            if i < n_layers - 1:
                np.maximum(z, 0, out=z)
            a = z
        return a

    def loss(logits):  # the loss and its gradient (the fused softmax-CE backward)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=probs)
        s = probs.sum(axis=1, keepdims=True)
        value = np.log(s).mean() - logits[rows, y].mean()
        np.divide(probs, s, out=probs)
        probs[rows, y] -= 1
        np.multiply(probs, f32(1.0 / batch), out=probs)
        return value

    def backward(_):
        g = probs
        for i in reversed(range(n_layers)):
            a_in = zs[i - 1] if i else x
            np.matmul(g.T, a_in, out=grads[2 * i])
            np.sum(g, axis=0, out=grads[2 * i + 1])
            if i:
                gh = ghs[i - 1]
                np.matmul(g, ws[i], out=gh)
                np.greater(a_in, 0, out=masks[i - 1])
                np.multiply(gh, masks[i - 1], out=gh)
                g = gh

    def step():
        for prm, gr, buf, tmp in zip(params, grads, bufs, tmps):
            buf *= mu
            buf += gr
            np.multiply(buf, lr, out=tmp)
            prm -= tmp
    return {"zero_grad": lambda: None, "forward": forward, "loss": loss,
            "backward": backward, "step": step}


def funcgrad_phases(cfg):
    import funcgrad as fg
    import funcgrad.nn as nn
    import funcgrad.optim as optim
    _, x, y = w2_mlp.problem(cfg)
    xt, yt = fg.tensor(x), fg.tensor(y)
    model, _ = w2_mlp._fg_model(cfg)
    opt = optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    criterion = nn.CrossEntropyLoss()
    return {"zero_grad": opt.zero_grad, "forward": lambda: model(xt),
            "loss": lambda out: criterion(out, yt), "backward": lambda l: l.backward(),
            "step": opt.step}


def run_phases(phases):
    """One step through the phases; returns the seconds each took."""
    took = {}
    t = time.perf_counter()
    phases["zero_grad"]()
    took["zero_grad"], t = time.perf_counter() - t, time.perf_counter()
    out = phases["forward"]()
    took["forward"], t = time.perf_counter() - t, time.perf_counter()
    value = phases["loss"](out)
    took["loss"], t = time.perf_counter() - t, time.perf_counter()
    phases["backward"](value)
    took["backward"], t = time.perf_counter() - t, time.perf_counter()
    phases["step"]()
    took["step"] = time.perf_counter() - t
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="W6", choices=["W6", "W2"])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    cfg = w6_seed_mlp.CONFIG if args.workload == "W6" else w2_mlp.CONFIG
    impls = {"numpy (hand-written)": hand_phases(cfg), "funcgrad eager": funcgrad_phases(cfg)}
    samples = {name: [] for name in impls}
    for i in range(args.steps + 100):
        for name, phases in impls.items():
            took = run_phases(phases)
            if i >= 100:  # warm-up: the optimizer compiles its update after two steps
                samples[name].append(took)
    names = list(next(iter(samples.values()))[0])
    print(f"{args.workload}: median µs per phase over {args.steps} steps\n")
    print("| implementation | " + " | ".join(names) + " | total |")
    print("|---|" + "---|" * (len(names) + 1))
    for name, rows in samples.items():
        med = [statistics.median(r[k] for r in rows) * 1e6 for k in names]
        print(f"| {name} | " + " | ".join(f"{m:.1f}" for m in med) + f" | {sum(med):.1f} |")


if __name__ == "__main__":
    main()
