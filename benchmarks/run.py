"""Benchmark runner: ``python benchmarks/run.py [W1 W4 ...] [--quick]``.

Prints one markdown table per workload: funcgrad (eager, and jit where it
exists), the hand-written NumPy floor, and PyTorch / JAX / autograd when they
are installed (``pip install -e ".[bench]"``).  Every implementation's
gradient is checked against the NumPy floor's before it is timed.  Times are
medians over repeats, with the spread (interquartile range) and the best
sample beside them; the repeats are interleaved across implementations (round
r times each once), so a burst of load from other processes on a shared
machine hits them all alike.  ``--repeats N`` takes more rounds; ``--clock cpu``
measures the process's CPU time instead of wall time (for a loaded machine).

For a fair run the runner re-executes itself with every library pinned to the
same thread count (``--threads``, default 1) and with OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE unset (this machine sets them for old OpenBLAS builds; they
slow a current NumPy).
"""
from __future__ import annotations

import argparse
import gc
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


CLOCK = time.perf_counter  # --clock cpu: time.process_time


def calls_per_sample(fn, min_time=0.2):
    """How many calls of ``fn`` make one timing sample last about ``min_time / 4``."""
    fn()
    n = 1
    while True:
        t = CLOCK()
        for _ in range(n):
            fn()
        dt = CLOCK() - t
        if dt >= min_time / 4 or n >= 1 << 16:
            break
        n *= 2
    return max(1, int(n * (min_time / 4) / max(dt, 1e-9)))


def sample(fn, n):
    """Seconds per call over ``n`` back-to-back calls."""
    t = CLOCK()
    for _ in range(n):
        fn()
    return (CLOCK() - t) / n


def summarize(samples):
    """(median, interquartile range, best) of a list of seconds."""
    q = statistics.quantiles(samples, n=4) if len(samples) >= 4 else [min(samples), 0,
                                                                        max(samples)]
    return statistics.median(samples), q[2] - q[0], min(samples)


def time_call(fn, repeats=7, min_time=0.2):
    """Median and IQR of seconds per call; calls per repeat chosen to last ``min_time``."""
    n = calls_per_sample(fn, min_time)
    return summarize([sample(fn, n) for _ in range(repeats)])[:2]


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
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (default), or this process's CPU time, which time "
                             "stolen by other processes on a busy shared machine does not "
                             "inflate (equal to wall time on a quiet one, threads pinned)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timing rounds per implementation (default 7, --quick 3)")
    args = parser.parse_args()
    if os.environ.get("FUNCGRAD_BENCH_PINNED") != "1":
        _reexec_pinned(args)
    sys.path.insert(0, HERE)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    wanted = {w.upper() for w in args.workloads}
    print(f"Machine: {machine_line()}; clock: {args.clock}\n")
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
            subprocess.run([sys.executable, "-m", f"workloads.{name}"]
                           + (["--quick"] if args.quick else []), cwd=HERE, check=True)
            continue
        run_workload(mod, quick=args.quick, repeats=args.repeats)


def run_workload(mod, quick=False, repeats=None):
    """Check each implementation against the floor, time them all, print a table.

    Timing is interleaved: round r takes the r-th sample of every implementation
    (in a rotating order), so load from other processes on a shared machine
    falls on all of them alike instead of on whichever ran during a burst.
    """
    import numpy as np
    print(f"### {mod.TITLE}\n")
    impls = mod.implementations()
    floor_name = mod.FLOOR
    reference = None
    notes, timed = {}, []
    min_time = 0.05 if quick else 0.3
    for name, make in impls.items():
        try:
            step, check = make()
        except ImportError as e:
            notes[name] = f"not installed ({e.name})"
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
        timed.append((name, step, calls_per_sample(step, min_time)))
    samples = {name: [] for name, _, _ in timed}
    # Objects that exist before timing (every library imported so far, the other
    # workloads' leftovers) are moved out of the cyclic GC's reach, so a
    # collection triggered by one implementation does not scan what the others
    # (or earlier workloads in this process) left alive.
    gc.collect()
    gc.freeze()
    try:
        for r in range(repeats or (3 if quick else 7)):
            k = r % max(len(timed), 1)
            for name, step, n in timed[k:] + timed[:k]:
                samples[name].append(sample(step, n))
    finally:
        gc.unfreeze()
    stats = {name: summarize(s) for name, s in samples.items()}
    floor, floor_best = stats[floor_name][0], stats[floor_name][2]
    scale = mod.SCALE
    print(f"| implementation | {mod.UNIT} | ± IQR | best | vs {floor_name} | best vs best "
          "| note |")
    print("|---|---|---|---|---|---|---|")
    for name in impls:
        if name not in stats:
            print(f"| {name} | – | – | – | – | – | {notes[name]} |")
            continue
        med, iqr, best = stats[name]
        print(f"| {name} | {med * scale:.3g} | {iqr * scale:.2g} | {best * scale:.3g} | "
              f"{med / floor:.2f}x | {best / floor_best:.2f}x | |")
    print()


if __name__ == "__main__":
    main()
