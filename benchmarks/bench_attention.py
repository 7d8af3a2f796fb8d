"""Multi-head attention and a ResNet-sized convolution, forward + backward: funcgrad vs PyTorch.

Run:  python benchmarks/bench_attention.py [--dtype float32|float64] [--repeat 20]
For a single-core comparison (steadier on a shared machine), prefix the command
with OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1.

Cases:
* ``nn.MultiheadAttention`` self-attention, batch 8, sequence 256, embed 128,
  4 heads, batch_first, ``need_weights=False`` (the Transformer layers' call);
  the backward pass computes the input's and every parameter's gradient.
* ``F.conv2d`` 32x64x28x28 * 64x64x3x3, padding 1 (a ResNet block's
  convolution); the backward pass computes the input's and the weight's
  gradient.

funcgrad is timed on both fronts: the PyTorch-style one (Tensors,
``loss.backward()``) and the functional one (``funcgrad.vjp``).  Each number
is the best of ``--repeat`` runs after warm-up, in milliseconds; the ratio is
funcgrad's forward+backward time over PyTorch's (lower is better, 1.0 is
parity).  Both libraries use the machine's default thread count.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import funcgrad as fg
import funcgrad.nn as fnn
import funcgrad.nn.functional as F


def _best_ms(fn, repeat):
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


# --------------------------------------------------------------------------- #
# Multi-head attention
# --------------------------------------------------------------------------- #
def _mha_funcgrad(x, dtype):
    fg.manual_seed(0)
    mha = fnn.MultiheadAttention(128, 4, batch_first=True).to(dtype)
    params = {k: p.detach().numpy() for k, p in mha.named_parameters()}
    xt = fg.Tensor(x, requires_grad=True)
    ct = np.ones_like(x)

    def fwd():
        with fg.no_grad():
            return mha(xt, xt, xt, need_weights=False)[0]

    def torch_style():
        mha.zero_grad()
        xt.grad = None
        out = mha(xt, xt, xt, need_weights=False)[0]
        out.backward(fg.Tensor(ct))

    def f(p, x):
        return F.multi_head_attention_forward(
            x, x, x, 128, 4, p["in_proj_weight"], p["in_proj_bias"], None, None, False, 0.0,
            p["out_proj.weight"], p["out_proj.bias"], need_weights=False)[0]
    xs = np.ascontiguousarray(np.swapaxes(x, 0, 1))  # the functional form is sequence-first

    def functional():
        out, pullback = fg.vjp(f, params, xs)
        return pullback(np.ones_like(out))
    return fwd, torch_style, functional


def _mha_torch(torch, x):
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(128, 4, batch_first=True).to(
        torch.float64 if x.dtype == np.float64 else torch.float32)
    xt = torch.tensor(x, requires_grad=True)
    ct = torch.ones_like(xt)

    def fwd():
        with torch.no_grad():
            return mha(xt, xt, xt, need_weights=False)[0]

    def both():
        mha.zero_grad()
        xt.grad = None
        out = mha(xt, xt, xt, need_weights=False)[0]
        out.backward(ct)
    return fwd, both


# --------------------------------------------------------------------------- #
# Convolution
# --------------------------------------------------------------------------- #
def _conv_funcgrad(x, w):
    xt, wt = fg.Tensor(x, requires_grad=True), fg.Tensor(w, requires_grad=True)
    ct = fg.Tensor(np.ones((x.shape[0], w.shape[0]) + x.shape[2:], dtype=x.dtype))

    def fwd():
        with fg.no_grad():
            return F.conv2d(xt, wt, padding=1)

    def torch_style():
        xt.grad = wt.grad = None
        F.conv2d(xt, wt, padding=1).backward(ct)

    def functional():
        out, pullback = fg.vjp(lambda x, w: F.conv2d(x, w, padding=1), x, w)
        return pullback(np.ones_like(out))
    return fwd, torch_style, functional


def _conv_torch(torch, x, w):
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)

    def fwd():
        with torch.no_grad():
            return torch.nn.functional.conv2d(xt, wt, padding=1)

    def both():
        xt.grad = wt.grad = None
        out = torch.nn.functional.conv2d(xt, wt, padding=1)
        out.backward(torch.ones_like(out))
    return fwd, both


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    x_mha = rng.standard_normal((8, 256, 128)).astype(dtype)
    x_conv = rng.standard_normal((32, 64, 28, 28)).astype(dtype)
    w_conv = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(dtype)
    cases = [
        ("MHA self-attn N8 L256 E128 H4", _mha_funcgrad(x_mha, dtype),
         (lambda: _mha_torch(torch, x_mha)) if torch else None),
        ("conv2d 32x64x28x28 * 64x64x3x3", _conv_funcgrad(x_conv, w_conv),
         (lambda: _conv_torch(torch, x_conv, w_conv)) if torch else None),
    ]
    header = (f"{'case (' + args.dtype + ')':34s} {'fg fwd':>8s} {'fg f+b':>8s} "
              f"{'fg vjp':>8s}")
    if torch is not None:
        header += f" {'torch fwd':>10s} {'torch f+b':>10s} {'ratio f+b':>10s} {'ratio vjp':>10s}"
    print(header + "   (ms, best of --repeat)")
    for name, (fwd, torch_style, functional), make_torch in cases:
        f_fwd = _best_ms(fwd, args.repeat)
        f_both = _best_ms(torch_style, args.repeat)
        f_vjp = _best_ms(functional, args.repeat)
        row = f"{name:34s} {f_fwd:8.2f} {f_both:8.2f} {f_vjp:8.2f}"
        if make_torch is not None:
            t_fwd, t_both = (_best_ms(fn, args.repeat) for fn in make_torch())
            row += (f" {t_fwd:10.2f} {t_both:10.2f} {f_both / t_both:10.2f} "
                    f"{f_vjp / t_both:10.2f}")
        print(row, flush=True)


if __name__ == "__main__":
    main()
