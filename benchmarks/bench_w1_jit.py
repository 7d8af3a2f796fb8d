"""W1: a chain of 200 cheap elementwise ops, forward + gradient, under ``jit``.

The chain cycles sin, cos, tanh, multiply-by-scalar, add-scalar on a float32
array of 16 elements, then sums.  Compared:

* ``numpy loop``      -- hand-written NumPy forward and backward pass, a loop
                         over the op list (what one writes by hand);
* ``numpy unrolled``  -- the same, as straight-line code (the best NumPy can do:
                         no interpretation overhead at all);
* ``funcgrad eager``  -- ``value_and_grad(f)(x)`` (tracing every call);
* ``funcgrad jit``    -- ``jit(value_and_grad(f))(x)``.

Times are the best of several interleaved rounds, reported per call and per op of the
forward chain (200).  Run: ``python benchmarks/bench_w1_jit.py``.
"""
from __future__ import annotations

import argparse
import sys
import timeit

import numpy as np

sys.path.insert(0, __file__.rsplit("/benchmarks/", 1)[0])

import funcgrad as fg  # noqa: E402
import funcgrad.numpy as fnp  # noqa: E402
from funcgrad.jit import jit  # noqa: E402

SIN, COS, TANH, MUL, ADD = range(5)
N_OPS = 200
SCALE, SHIFT = 0.9, 0.1
OPS = [k % 5 for k in range(N_OPS)]


def chain(x):
    """The forward chain written with funcgrad.numpy (and operators)."""
    for op in OPS:
        if op == SIN:
            x = fnp.sin(x)
        elif op == COS:
            x = fnp.cos(x)
        elif op == TANH:
            x = fnp.tanh(x)
        elif op == MUL:
            x = x * SCALE
        else:
            x = x + SHIFT
    return fnp.sum(x)


def numpy_loop(x):
    """Hand-written NumPy: forward keeping residuals, then backward."""
    saved = []
    h = x
    for op in OPS:
        if op == SIN:
            saved.append(h)
            h = np.sin(h)
        elif op == COS:
            saved.append(h)
            h = np.cos(h)
        elif op == TANH:
            h = np.tanh(h)
            saved.append(h)
        elif op == MUL:
            h = h * SCALE
        else:
            h = h + SHIFT
    loss = h.sum()
    g = np.ones_like(h)
    for op in reversed(OPS):
        if op == SIN:
            g = g * np.cos(saved.pop())
        elif op == COS:
            g = g * -np.sin(saved.pop())
        elif op == TANH:
            y = saved.pop()
            g = g * (1.0 - y * y)
        elif op == MUL:
            g = g * SCALE
    return loss, g


def _unrolled_source():
    fwd, bwd = [], []
    for k, op in enumerate(OPS):
        a, b = f"h{k}", f"h{k + 1}"
        if op == SIN:
            fwd.append(f"{b} = np.sin({a})")
            bwd.append(f"g = g * np.cos({a})")
        elif op == COS:
            fwd.append(f"{b} = np.cos({a})")
            bwd.append(f"g = g * -np.sin({a})")
        elif op == TANH:
            fwd.append(f"{b} = np.tanh({a})")
            bwd.append(f"g = g * (1.0 - {b} * {b})")
        elif op == MUL:
            fwd.append(f"{b} = {a} * {SCALE!r}")
            bwd.append(f"g = g * {SCALE!r}")
        else:
            fwd.append(f"{b} = {a} + {SHIFT!r}")
    body = fwd + [f"loss = h{N_OPS}.sum()", f"g = np.ones_like(h{N_OPS})"] + bwd[::-1]
    return "def numpy_unrolled(h0):\n" + "".join(f"    {s}\n" for s in body) + \
        "    return loss, g\n"


_ns = {"np": np}
exec(_unrolled_source(), _ns)
numpy_unrolled = _ns["numpy_unrolled"]


def bench(fns, x, number, repeat):
    """Best time per call (us) of each function, rounds interleaved.

    Interleaving and taking the minimum keep a busy machine's noise out of
    the comparison: every variant sees the same conditions in each round.
    """
    for fn in fns.values():
        fn(x)  # warm up (and trace, for jit)
    best = {name: float("inf") for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = timeit.timeit(lambda: fn(x), number=number) / number * 1e6
            best[name] = min(best[name], t)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--number", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args(argv)

    x = np.linspace(-1.0, 1.0, 16, dtype=np.float32)
    eager = fg.value_and_grad(chain)
    jitted = jit(fg.value_and_grad(chain))

    ref_loss, ref_g = numpy_loop(x)
    for name, fn in [("numpy unrolled", numpy_unrolled), ("eager", eager), ("jit", jitted)]:
        loss, g = fn(x)
        assert g.dtype == np.float32, (name, g.dtype)
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(g, ref_g, rtol=1e-4, atol=1e-6, err_msg=name)

    rows = [("numpy loop", numpy_loop), ("numpy unrolled", numpy_unrolled),
            ("funcgrad eager", eager), ("funcgrad jit", jitted)]
    res = bench(dict(rows), x, args.number, args.repeat)
    prog = jitted.lower(x)
    print(f"W1: {N_OPS}-op elementwise chain, float32[16], forward + gradient")
    print(f"jit program: {len(prog.equations)} equations "
          f"(forward+backward, after optimisation)")
    print(f"{'variant':<16} {'us/call':>10} {'us/op':>8} {'vs numpy loop':>14} "
          f"{'vs unrolled':>12}")
    for name, t in res.items():
        print(f"{name:<16} {t:10.1f} {t / N_OPS:8.3f} {t / res['numpy loop']:13.2f}x "
              f"{t / res['numpy unrolled']:11.2f}x")
    return res


if __name__ == "__main__":
    main()
