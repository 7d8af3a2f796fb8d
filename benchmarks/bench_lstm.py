"""LSTM forward + backward over 100 time steps: funcgrad.nn.LSTM vs torch.nn.LSTM (CPU).

Run:  python benchmarks/bench_lstm.py [--steps 100] [--batch 32] [--input 64]
                                      [--hidden 128] [--layers 1] [--repeat 20]
For a single-core comparison (steadier on a shared machine):
      OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_lstm.py

One training-style step: ``output, (h_n, c_n) = lstm(x)``, a scalar loss from
the whole output, ``backward()`` for every parameter and for the input (as
when the LSTM sits on an embedding); the last row runs the same step through
``funcgrad.compile(lstm)`` (the forward and backward as compiled programs).  float32, the same weights in both
libraries (copied through ``state_dict``).  Times are the best of
``--repeat`` runs after warm-up (the minimum is the least disturbed by other
load); the ratio is funcgrad's time over PyTorch's.  PyTorch's columns
appear when torch is installed; both use the machine's default thread count.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import funcgrad as fg
import funcgrad.nn as nn


def _best_ms(fn, repeat):
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def _funcgrad(args, x, state):
    fg.manual_seed(0)
    lstm = nn.LSTM(args.input, args.hidden, args.layers)
    if state is not None:
        lstm.load_state_dict(state)
    xt = fg.tensor(x, requires_grad=True)

    def forward():
        return lstm(xt)[0]

    def step(model=lstm):
        lstm.zero_grad()
        xt.grad = None
        out = model(xt)[0]
        out.sum().backward()
    compiled = fg.compile(lstm) if hasattr(fg, "compile") else None
    return forward, step, (lambda: step(compiled)) if compiled is not None else None


def _torch(torch, args, x):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(args.input, args.hidden, args.layers)
    xt = torch.tensor(x, requires_grad=True)

    def forward():
        with torch.no_grad():
            return lstm(xt)[0]

    def step():
        lstm.zero_grad()
        xt.grad = None
        out = lstm(xt)[0]
        out.sum().backward()
    return lstm, forward, step


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--input", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args()
    x = np.random.default_rng(0).standard_normal(
        (args.steps, args.batch, args.input)).astype(np.float32)
    try:
        import torch
    except ImportError:
        torch = None
    rows = []
    state = None
    if torch is not None:
        t_lstm, t_fwd, t_step = _torch(torch, args, x)
        state = {k: v.detach().numpy() for k, v in t_lstm.state_dict().items()}
    f_fwd, f_step, f_compiled = _funcgrad(args, x, state)
    t_ms = _best_ms(t_step, args.repeat) if torch else None
    rows.append(("forward (no grad)", _best_ms(lambda: _no_grad(f_fwd), args.repeat),
                 _best_ms(t_fwd, args.repeat) if torch else None))
    rows.append(("forward + backward", _best_ms(f_step, args.repeat), t_ms))
    if f_compiled is not None:
        rows.append(("  with fg.compile", _best_ms(f_compiled, args.repeat), t_ms))
    print(f"LSTM  L={args.steps} N={args.batch} input={args.input} hidden={args.hidden} "
          f"layers={args.layers} float32")
    print(f"{'':<22}{'funcgrad ms':>12}{'torch ms':>10}{'ratio':>8}")
    for name, ours, theirs in rows:
        if theirs is None:
            print(f"{name:<22}{ours:>12.1f}{'-':>10}{'-':>8}")
        else:
            print(f"{name:<22}{ours:>12.1f}{theirs:>10.1f}{ours / theirs:>7.1f}x")


def _no_grad(fn):
    with fg.no_grad():
        return fn()


if __name__ == "__main__":
    main()
