"""W7: extra peak memory over 20 training steps of the W2 MLP (784-512-512-10) at batch 1024.

Run by ``benchmarks/run.py W7`` as a separate process (``python -m
workloads.w7_memory [--quick]`` from ``benchmarks/``).  Each library runs in a
fresh child process that builds the data and the weights (the W2
implementations, :mod:`workloads.w2_mlp`, at batch 1024), takes 2 warm-up
steps, then measures 20 steps.

Method (peak resident memory, what the OS sees):

* the child runs with glibc's mmap threshold fixed at 128 KiB
  (``MALLOC_MMAP_THRESHOLD_``; setting it also turns off glibc's dynamic
  threshold), so every array larger than that is mapped on allocation and
  returned to the OS when freed.  Without it, freed arrays stay in the heap and
  a step's transient arrays hide in memory kept from the warm-up steps (every
  library would show ~0 MB);
* after the warm-up steps and a ``gc.collect()``, the peak counter VmHWM is
  reset by writing ``5`` to ``/proc/self/clear_refs`` and the baseline VmRSS
  is read from ``/proc/self/status``; after the 20 steps, extra peak =
  VmHWM - baseline.  The baseline holds what persists between steps (weights,
  optimizer state, the batch, compiled code), so the figure is the transient
  memory of a step: activations, gradients, temporaries, and anything that
  accumulates over the 20 steps;
* where ``clear_refs`` may not be written, a thread samples VmRSS every 0.2 ms
  instead (it can miss very short peaks: the table says which method ran).

For the libraries that allocate through NumPy (hand NumPy, funcgrad,
autograd) a second child measures the same with ``tracemalloc`` (peak of
Python/NumPy-allocated bytes over the post-warm-up level): allocator-exact,
and a cross-check of the RSS figure.
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # benchmarks/
SEPARATE_PROCESS = True
TITLE = "W7: extra peak memory, 20 SGD steps of MLP 784-512-512-10 at batch 1024 (float32)"
BATCH, STEPS, WARMUP = 1024, 20, 2
FLOOR = "numpy (hand-written)"  # preallocated buffers: ~0 MB per step by construction
ALLOCATING = "numpy (hand-written, allocating)"  # the per-step reference
LIBRARIES = [FLOOR, ALLOCATING, "funcgrad eager (nn + optim)", "funcgrad jit step", "PyTorch eager",
             "jax.jit", "autograd"]
NUMPY_BACKED = {FLOOR, ALLOCATING, "funcgrad eager (nn + optim)", "funcgrad jit step", "autograd"}
MB = 1024.0 * 1024.0


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _Sampler(threading.Thread):
    """Fallback peak finder: VmRSS sampled from /proc/self/statm."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stop = 0, False
        self.page = os.sysconf("SC_PAGE_SIZE")

    def run(self):
        with open("/proc/self/statm") as f:
            while not self.stop:
                f.seek(0)
                self.peak = max(self.peak, int(f.read().split()[1]) * self.page)
                time.sleep(0.0002)


_PREIMPORT = {"funcgrad": "import funcgrad, funcgrad.nn, funcgrad.optim, funcgrad.optim.functional;"
                           "funcgrad.tensor([1.0]) + 1",
              "PyTorch": "import torch; torch.zeros(1) + 1",
              "jax": "import jax, jax.numpy as jnp; (jnp.zeros(1) + 1).block_until_ready()",
              "autograd": "import autograd, autograd.numpy, autograd.scipy.special"}


def _make_step(name):
    from dataclasses import replace

    from workloads.w2_mlp import CONFIG, MAKERS, problem
    cfg = replace(CONFIG, batch=BATCH)
    problem(cfg)
    for lib, code in _PREIMPORT.items():  # imports and backend start-up stay out of the figures
        if name.startswith(lib):
            try:
                exec(code, {})
            except ImportError:
                pass  # reported by the make() below
    extra = {"warmup": 0} if "jit" in name else {}
    return lambda: MAKERS[name](cfg, **extra)[0]


class _Peak:
    """Peak RSS since ``start()``: VmHWM reset through clear_refs, else a sampling thread."""

    def __init__(self):
        self.method = "VmHWM" if _reset_hwm() else "sampled VmRSS"

    def start(self):
        self.sampler = None
        if self.method == "VmHWM":
            _reset_hwm()
        else:
            self.sampler = _Sampler()
            self.sampler.start()
        return _status_kb("VmRSS") / 1024.0

    def stop(self):
        if self.sampler is None:
            return _status_kb("VmHWM") / 1024.0
        self.sampler.stop = True
        self.sampler.join()
        return max(self.sampler.peak / MB, _status_kb("VmRSS") / 1024.0)


def _child(name, mode):
    """Runs in a fresh process: prints one JSON line with the measurement.

    ``per_step_mb``: peak over the level after the warm-up steps (20 steps);
    ``total_mb``: peak over the level with only the shared weights and batch in
    memory (library imported and started), through building, warm-up and the
    20 steps.
    """
    make = _make_step(name)
    gc.collect()
    if mode == "tracemalloc":
        import tracemalloc
        tracemalloc.start()
        try:
            step = make()
        except ImportError as e:
            print(json.dumps({"missing": e.name or str(e)}))
            return
        for _ in range(WARMUP):
            step()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(STEPS):
            step()
        print(json.dumps({"per_step_mb": (tracemalloc.get_traced_memory()[1] - base) / MB}))
        return
    peak = _Peak()
    base0 = peak.start()
    try:
        step = make()
    except ImportError as e:
        print(json.dumps({"missing": e.name or str(e)}))
        return
    for _ in range(WARMUP):
        step()
    gc.collect()
    peak0 = peak.stop()
    base1 = peak.start()
    for _ in range(STEPS):
        step()
    peak1 = peak.stop()
    print(json.dumps({"per_step_mb": peak1 - base1, "total_mb": max(peak0, peak1) - base0,
                      "method": peak.method, "baseline_mb": base0}))


def _run_child(name, mode):
    env = dict(os.environ)
    env["MALLOC_MMAP_THRESHOLD_"] = str(128 * 1024)
    env["MALLOC_TRIM_THRESHOLD_"] = str(128 * 1024)
    root = os.path.dirname(HERE)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    code = f"from workloads.w7_memory import _child; _child({name!r}, {mode!r})"
    proc = subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"W7 child for {name} ({mode}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="one child per library")
    parser.add_argument("--repeats", type=int, default=3, help="children per library")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    print(f"### {TITLE}\n")
    rows = {}
    for name in LIBRARIES:
        runs = [_run_child(name, "rss") for _ in range(repeats)]
        if "missing" in runs[0]:
            rows[name] = None, f"not installed ({runs[0]['missing']})"
            continue
        r = {k: _median([run[k] for run in runs]) for k in ("per_step_mb", "total_mb")}
        r["spread"] = (max(run["per_step_mb"] for run in runs)
                       - min(run["per_step_mb"] for run in runs))
        r["traced"] = (_run_child(name, "tracemalloc")["per_step_mb"]
                       if name in NUMPY_BACKED else None)
        rows[name] = r, f"{runs[0]['method']}; process at start {runs[0]['baseline_mb']:.0f} MB"
    ref_step = rows[ALLOCATING][0]["per_step_mb"]
    ref_total = rows[FLOOR][0]["total_mb"]
    print(f"| library | extra peak MB per step (after warm-up) | spread ({repeats} runs) | "
          f"vs {ALLOCATING} | tracemalloc per step MB | extra peak MB incl. setup | "
          f"vs {FLOOR} | note |")
    print("|---|---|---|---|---|---|---|---|")
    for name in LIBRARIES:
        r, note = rows[name]
        if r is None:
            print(f"| {name} | – | – | – | – | – | – | {note} |")
            continue
        tm = "–" if r["traced"] is None else f"{r['traced']:.1f}"
        print(f"| {name} | {r['per_step_mb']:.1f} | {r['spread']:.1f} | "
              f"{r['per_step_mb'] / ref_step:.2f}x | {tm} | {r['total_mb']:.1f} | "
              f"{r['total_mb'] / ref_total:.2f}x | {note} |")
    print()


if __name__ == "__main__":
    main()
