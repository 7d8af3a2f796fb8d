"""The README's "What is supported" table, generated from the code.

``python -m funcgrad._support`` prints it; ``--write`` rewrites the block between
the markers in README.md.  tests/test_readme.py fails when the README's copy
differs from what this generates, so the table cannot drift from the code.
"""
from __future__ import annotations

import inspect
import pathlib
import sys

START = "<!-- supported-table:start -->"
END = "<!-- supported-table:end -->"

TRANSFORMS = ["grad", "value_and_grad", "vjp", "jvp", "linearize", "vmap", "jacfwd",
              "jacrev", "hessian", "jit", "make_ir", "compile", "compile_step", "custom_vjp",
              "checkpoint",
              "stop_gradient"]


def _public_classes(module, base):
    return sorted(n for n, v in vars(module).items()
                  if not n.startswith("_") and inspect.isclass(v) and issubclass(v, base)
                  and v is not base)


def rows():
    import funcgrad
    import funcgrad.nn as nn
    import funcgrad.numpy as fnp
    import funcgrad.optim as optim
    from funcgrad.core import primitives
    from funcgrad.optim import lr_scheduler
    transforms = [t for t in TRANSFORMS if callable(getattr(funcgrad, t, None))]
    n_fnp = len([n for n in dir(fnp) if not n.startswith("_") and callable(getattr(fnp, n))
                 and not inspect.isclass(getattr(fnp, n))])
    losses = [n for n in _public_classes(nn, nn.Module) if n.endswith("Loss")]
    layers = [n for n in _public_classes(nn, nn.Module) if n not in losses and n != "Module"]
    optimizers = _public_classes(optim, optim.Optimizer)
    schedulers = [n for n in _public_classes(lr_scheduler, lr_scheduler.LRScheduler)]
    return [
        ("transforms", ", ".join(transforms)),
        ("primitives", f"{len(primitives())} (every one with VJP, JVP and batching rules "
                       "and a property-test spec; `python -m funcgrad.primitives`)"),
        ("funcgrad.numpy", f"{n_fnp} functions, plus funcgrad.numpy.linalg"),
        ("backends", "numpy (default); cupy for NVIDIA GPUs (tested through a NumPy-backed "
                     "double here; not yet run on a GPU)"),
        ("nn layers", ", ".join(layers)),
        ("nn losses", ", ".join(losses)),
        ("optimizers", ", ".join(optimizers)),
        ("lr schedulers", ", ".join(schedulers)),
    ]


def table():
    lines = ["| area | supported |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in rows()]
    return "\n".join(lines)


def readme_block():
    return f"{START}\n{table()}\n{END}"


def write_readme(path):
    text = pathlib.Path(path).read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    pathlib.Path(path).write_text(before + readme_block() + after)


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_readme(pathlib.Path(__file__).resolve().parent.parent / "README.md")
    else:
        print(table())
