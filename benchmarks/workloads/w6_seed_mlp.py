"""W6: the seed-style MLP 784-128-64-10 (ReLU), batch 64, one SGD-momentum step.

The small model of a first training script: at this size per-operation
overhead (module calls, tape recording, optimizer bookkeeping) is a visible
share of the step, so this is where an eager front's Python cost shows.
Same implementations as W2 (:mod:`workloads.w2_mlp`), same checks (the loss
and ``p1 - p0`` after one step from the shared initial weights).
"""
from __future__ import annotations

from .w2_mlp import FLOOR, Config, implementations_for

TITLE = "W6: seed MLP 784-128-64-10 training step, batch 64, SGD momentum 0.9 (float32)"
UNIT = "ms"
SCALE = 1e3
RTOL, ATOL = 2e-3, 3e-8
CONFIG = Config(sizes=(784, 128, 64, 10), batch=64, lr=0.01, momentum=0.9, seed=6)


def implementations():
    return implementations_for(CONFIG, names=(FLOOR, "funcgrad eager (nn + optim)",
                                              "PyTorch eager"))
