"""Memory of activation checkpointing on Tensors (``funcgrad.utils.checkpoint``).

Run:  python benchmarks/bench_checkpoint.py [--blocks 8] [--width 1024] [--batch 512]

A stack of blocks ``Linear -> Tanh -> Linear -> Tanh`` with frozen weights and an
input that requires grad (so the backward pass allocates no weight gradients and
what is measured is activations): the memory the forward pass leaves held, and the
peak over forward + backward, traced by ``tracemalloc`` (NumPy reports its buffers
to it), for the plain model, each block checkpointed, and ``checkpoint_sequential``
in 4 segments.  The gradients are the same bits in all three (tests/test_tape_checkpoint.py).
"""
from __future__ import annotations

import argparse
import gc
import tracemalloc

import funcgrad as torch
import funcgrad.nn as nn
from funcgrad.utils.checkpoint import checkpoint, checkpoint_sequential


def measure(blocks, x, mode):
    """(MiB held after the forward pass, MiB peak over forward + backward)."""
    x.grad = None
    gc.collect()
    tracemalloc.start()
    try:
        if mode == "plain":
            y = blocks(x)
        elif mode == "each block checkpointed":
            y = x
            for block in blocks:
                y = checkpoint(block, y, use_reentrant=False)
        else:
            y = checkpoint_sequential(blocks, 4, x, use_reentrant=False)
        held = tracemalloc.get_traced_memory()[0]
        y.pow(2).mean().backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return held / 2 ** 20, peak / 2 ** 20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()
    torch.manual_seed(0)
    w = args.width
    blocks = nn.Sequential(*[nn.Sequential(nn.Linear(w, w), nn.Tanh(), nn.Linear(w, w),
                                           nn.Tanh()) for _ in range(args.blocks)])
    blocks.requires_grad_(False)
    x = torch.randn(args.batch, w, requires_grad=True)
    print(f"{args.blocks} blocks of Linear({w}, {w}) + Tanh, twice; batch {args.batch}, "
          "float32, frozen weights\n")
    print("| model | held after forward (MiB) | peak over forward + backward (MiB) |")
    print("|---|---|---|")
    for mode in ("plain", "each block checkpointed", "checkpoint_sequential, 4 segments"):
        held, peak = measure(blocks, x, mode)
        print(f"| {mode} | {held:.1f} | {peak:.1f} |")


if __name__ == "__main__":
    main()
