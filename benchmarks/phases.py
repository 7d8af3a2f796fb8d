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


from workloads import w2_mlp, w6_seed_mlp  # noqa: E402


def hand_phases(cfg):
    phases = w2_mlp.hand_phases(cfg)[0]
    backward = phases["backward"]
    return {"zero_grad": lambda: None, "forward": phases["forward"], "loss": phases["loss"],
            "backward": lambda _: backward(), "step": phases["step"]}


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
