"""Benchmark runner: ``python benchmarks/run.py [W1 W4 ...] [--quick]``.

Prints one markdown table per workload: funcgrad (eager, and jit where it
exists), the hand-written NumPy floor, and PyTorch / JAX / autograd when they
are installed (``pip install -e ".[bench]"``).  Every implementation's
gradient is checked against the NumPy floor's before it is timed.  Times are
medians over repeats, with the spread (interquartile range) beside them.

For a fair run the runner re-executes itself with every library pinned to the
same thread count (``--threads``, default 1) and with OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE unset (this machine sets them for old OpenBLAS builds; they
slow a current NumPy).
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "XLA_FLAGS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
WORKLOADS = ["w1_chain", "w2_mlp", "w3_cnn", "w4_per_example", "w5_hessian", "w6_seed_mlp",
             "w7_memory"]


def _reexec_pinned(args):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    n = str(args.threads)
    for v in THREAD_VARS:
        env[v] = n
    env["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
                        if args.threads == 1 else env.get("XLA_FLAGS", ""))
    env["FUNCGRAD_BENCH_PINNED"] = "1"
    env["PYTHONPATH"] = os.path.dirname(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def time_call(fn, repeats=7, min_time=0.2):
    """Median and IQR of seconds per call; calls per repeat chosen to last ``min_time``."""
    fn()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t
        if dt >= min_time / 4 or n >= 1 << 16:
            break
        n *= 2
    n = max(1, int(n * (min_time / 4) / max(dt, 1e-9)))
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t) / n)
    q = statistics.quantiles(samples, n=4) if len(samples) >= 4 else [min(samples), 0,
                                                                        max(samples)]
    return statistics.median(samples), q[2] - q[0]


def machine_line():
    import numpy as np
    try:
        from threadpoolctl import threadpool_info
        blas = ", ".join(f"{i['internal_api']} {i.get('version', '')} "
                         f"({i.get('architecture', '?')})" for i in threadpool_info()
                         if i["user_api"] == "blas")
    except Exception:
        blas = "unknown BLAS"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, NumPy {np.__version__} ({blas}), "
            f"threads pinned to {os.environ.get('OMP_NUM_THREADS')}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", help="e.g. W1 W4 (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    if os.environ.get("FUNCGRAD_BENCH_PINNED") != "1":
        _reexec_pinned(args)
    sys.path.insert(0, HERE)
    wanted = {w.upper() for w in args.workloads}
    print(f"Machine: {machine_line()}\n")
    for name in WORKLOADS:
        if wanted and name.split("_")[0].upper() not in wanted:
            continue
        try:
            mod = importlib.import_module(f"workloads.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"workloads.{name}":
                continue
            raise
        if getattr(mod, "SEPARATE_PROCESS", False):
            subprocess.run([sys.executable, "-m", f"workloads.{name}"], cwd=HERE, check=True)
            continue
        run_workload(mod, quick=args.quick)


def run_workload(mod, quick=False):
    """Check each implementation against the floor, time it, print a table."""
    import numpy as np
    print(f"### {mod.TITLE}\n")
    impls = mod.implementations()
    floor_name = mod.FLOOR
    reference = None
    rows = []
    for name, make in impls.items():
        try:
            step, check = make()
        except ImportError as e:
            rows.append((name, None, None, f"not installed ({e.name})"))
            continue
        got = check()
        if reference is None and name == floor_name:
            reference = got
        elif reference is not None:
            for r, g in zip(reference, got):
                np.testing.assert_allclose(np.asarray(g, dtype=np.float64),
                                           np.asarray(r, dtype=np.float64),
                                           rtol=mod.RTOL, atol=mod.ATOL,
                                           err_msg=f"{mod.TITLE}: {name} disagrees")
        med, iqr = time_call(step, repeats=3 if quick else 7,
                             min_time=0.05 if quick else 0.3)
        rows.append((name, med, iqr, ""))
    floor = next(r[1] for r in rows if r[0] == floor_name)
    print(f"| implementation | {mod.UNIT} | ± IQR | vs {floor_name} | note |")
    print("|---|---|---|---|---|")
    for name, med, iqr, note in rows:
        if med is None:
            print(f"| {name} | – | – | – | {note} |")
            continue
        scale = mod.SCALE
        print(f"| {name} | {med * scale:.3g} | {iqr * scale:.2g} | {med / floor:.2f}x | "
              f"{note} |")
    print()


if __name__ == "__main__":
    main()
