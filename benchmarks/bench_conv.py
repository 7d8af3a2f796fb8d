"""Forward + backward of LeNet-sized convolutions and pooling: funcgrad vs PyTorch (CPU).

Run:  python benchmarks/bench_conv.py [--dtype float32|float64] [--repeat 50]
For a single-core comparison (steadier on a shared machine):
      OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_conv.py

Each row times one forward pass and the backward pass for the gradients a
LeNet training step needs (conv1: the weight only, since its input is data;
conv2: input and weight; pools: the input), as the best of ``--repeat`` runs
after warm-up (the minimum is the least disturbed by other load on the
machine).  The last row is LeNet's feature extractor, conv-relu-pool twice,
gradients for both weights.  PyTorch columns appear when torch is installed;
both libraries use the machine's default thread count.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.numpy import conv as C


def _best_ms(fn, repeat):
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def _features(x, w1, w2):
    h = C.max_pool(fnp.maximum(C.conv(x, w1), 0), 2)
    return C.max_pool(fnp.maximum(C.conv(h, w2), 0), 2)


def _torch_features(F, x, w1, w2):
    h = F.max_pool2d(F.relu(F.conv2d(x, w1)), 2)
    return F.max_pool2d(F.relu(F.conv2d(h, w2)), 2)


def _cases(dtype, rng):
    x1 = rng.standard_normal((64, 1, 28, 28)).astype(dtype)
    w1 = rng.standard_normal((6, 1, 5, 5)).astype(dtype)
    x2 = rng.standard_normal((64, 6, 12, 12)).astype(dtype)
    w2 = rng.standard_normal((16, 6, 5, 5)).astype(dtype)
    p1 = rng.standard_normal((64, 6, 24, 24)).astype(dtype)
    p2 = rng.standard_normal((64, 16, 8, 8)).astype(dtype)
    return [
        # name, funcgrad fn, torch fn name, args, which args need a gradient
        ("conv 64x1x28x28 * 6x1x5x5", lambda x, w: C.conv(x, w), "conv2d", (x1, w1), (1,)),
        ("conv 64x6x12x12 * 16x6x5x5", lambda x, w: C.conv(x, w), "conv2d", (x2, w2), (0, 1)),
        ("max_pool 2x2 64x6x24x24", lambda x: C.max_pool(x, 2), "max_pool2d", (p1,), (0,)),
        ("max_pool 2x2 64x16x8x8", lambda x: C.max_pool(x, 2), "max_pool2d", (p2,), (0,)),
        ("avg_pool 2x2 64x6x24x24", lambda x: C.avg_pool(x, 2), "avg_pool2d", (p1,), (0,)),
        ("LeNet features (2 conv+relu+pool)", _features, "features", (x1, w1, w2), (1, 2)),
    ]


def _funcgrad_step(f, args, argnums):
    def step():
        def g(*diff):
            full = list(args)
            for i, d in zip(argnums, diff):
                full[i] = d
            return f(*full)
        out, pullback = fg.vjp(g, *[args[i] for i in argnums])
        return pullback(np.ones_like(out))
    return step


def _funcgrad_fwd(f, args):
    return lambda: f(*args)


def _torch_fns(torch, name, args, argnums):
    F = torch.nn.functional
    extra = {"max_pool2d": (2,), "avg_pool2d": (2,)}.get(name, ())
    fn = (lambda *a: _torch_features(F, *a)) if name == "features" else getattr(F, name)
    targs = [torch.tensor(a, requires_grad=(i in argnums)) for i, a in enumerate(args)]

    def fwd():
        with torch.no_grad():
            return fn(*targs, *extra)

    def step():
        for t in targs:
            t.grad = None
        out = fn(*targs, *extra)
        out.backward(torch.ones_like(out))
    return fwd, step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    header = f"{'case (' + args.dtype + ')':34s} {'fg fwd':>8s} {'fg f+b':>8s}"
    if torch is not None:
        header += f" {'torch fwd':>10s} {'torch f+b':>10s} {'ratio f+b':>10s}"
    print(header + "   (ms, best of --repeat)")
    for name, f, tname, xs, argnums in _cases(np.dtype(args.dtype), rng):
        fwd = _best_ms(_funcgrad_fwd(f, xs), args.repeat)
        both = _best_ms(_funcgrad_step(f, xs, argnums), args.repeat)
        row = f"{name:34s} {fwd:8.3f} {both:8.3f}"
        if torch is not None:
            tf, tb = _torch_fns(torch, tname, xs, argnums)
            t_fwd = _best_ms(tf, args.repeat)
            t_both = _best_ms(tb, args.repeat)
            row += f" {t_fwd:10.3f} {t_both:10.3f} {both / t_both:10.2f}"
        print(row)


if __name__ == "__main__":
    main()
