"""Start-up costs: ``import funcgrad`` and the first call of a jitted training step.

    python benchmarks/startup.py

Issue 7's targets: ``import funcgrad`` under 0.25 s, and the first call of a jitted
MLP training step (trace + optimise + generate + run) under 50 ms.  Each is measured
in a fresh interpreter (best of 5), so nothing is cached in memory; Python's
bytecode cache is used as a user's installation would (``PYTHONDONTWRITEBYTECODE``
is removed for the child).
"""
from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

IMPORT = "import time; t = time.perf_counter(); import funcgrad; print(time.perf_counter() - t)"

FIRST_CALL = f"""
import sys, time
sys.path.insert(0, {HERE!r})
import numpy as np
import funcgrad as fg, funcgrad.nn as nn, funcgrad.nn.functional as F
import funcgrad.optim.functional as optf
from workloads.w2_mlp import CONFIG, _fg_model, problem
_, x, y = problem(CONFIG)
model, names = _fg_model(CONFIG)
opt = optf.sgd(lr=CONFIG.lr, momentum=CONFIG.momentum)
params = {{n: p.detach().numpy().copy() for n, p in zip(names, model.parameters())}}
state = opt.init(params)

def train_step(params, state, xb, yb):
    loss, grads = fg.value_and_grad(
        lambda p: F.cross_entropy(nn.functional_call(model, p, (xb,)), yb))(params)
    params, state = opt.step(params, grads, state)
    return loss, params, state

step = fg.jit(train_step)
t = time.perf_counter()
step(params, state, x, y)
first = time.perf_counter() - t
t = time.perf_counter()
step(params, state, x, y)
print(first, time.perf_counter() - t)
"""


def best_of(code, n=5):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, check=True).stdout.split() for _ in range(n)]
    return min((tuple(float(v) for v in r) for r in runs), key=lambda r: r[0])


def main():
    best_of(IMPORT, 1)  # writes the bytecode cache once
    (imp,) = best_of(IMPORT)
    first, steady = best_of(FIRST_CALL)
    print("| start-up cost | measured | target |")
    print("|---|---|---|")
    print(f"| import funcgrad | {imp * 1e3:.0f} ms | < 250 ms |")
    print(f"| first call of a jitted MLP 784-512-512-10 step (trace + compile + run) | "
          f"{first * 1e3:.0f} ms (a later call: {steady * 1e3:.1f} ms) | < 50 ms overhead |")


if __name__ == "__main__":
    main()
