"""One training step of the reference CNN through fit's plan, and where it goes, op by op.

    python benchmarks/cnn_step.py [--threads 2] [--rounds 7]

The plan is driven as ``fit`` drives it (forward, loss, backward, optimiser step) on one
random batch of 128 images, Adam, float32. Two plans take turns, round after round (10 steps
a round): one with the compiled (numba) image loops, one with their NumPy versions, the
reference (what ``pip install .`` without numba runs). Prints each one's best and median step
and the ratio, then the compiled plan's ops, forward and backward (best of 10 steps, a clock
read between ops). No PyTorch in this process: its thread pool would compete with OpenBLAS's;
``bareprop bench --configs cnn-adam-b128`` compares with PyTorch in separate processes.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)  # before NumPy starts its BLAS
    import numpy as np

    import bareprop as bp
    from bareprop.fast import kernels
    from bareprop.fast.plan import Plan

    if kernels.kernels() is None:
        raise SystemExit(
            "numba is not installed (pip install 'bareprop[fast]'): nothing to compare"
        )
    rng = np.random.default_rng(0)
    x = rng.random((128, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 128)

    def make_plan() -> Any:
        model = bp.build_cnn(rng=np.random.default_rng(1))
        return Plan(model, bp.SoftmaxCrossEntropy(), bp.Adam(model.parameters()))

    plans = {"compiled": make_plan(), "NumPy": make_plan()}
    times: dict[str, list[float]] = {name: [] for name in plans}
    for r in range(args.rounds + 1):  # round 0 warms up (numba compiles, buffers allocate)
        for name, plan in plans.items():
            kernels.use(name == "compiled")
            start = time.perf_counter()
            for _ in range(10):
                plan.loss_forward(plan.forward(x), y)
                plan.backward()
                plan.step()
            if r:
                times[name].append((time.perf_counter() - start) / 10 * 1e3)
    kernels.use(True)
    print(f"one step, {args.threads} threads, {args.rounds} rounds of 10 steps, interleaved:\n")
    print("| image loops | best ms | median ms |\n|---|---|---|")
    for name, ts in times.items():
        ts.sort()
        print(f"| {name} | {ts[0]:.1f} | {ts[len(ts) // 2]:.1f} |")
    best = {name: min(ts) for name, ts in times.items()}
    print(f"\ncompiled / NumPy: {best['NumPy'] / best['compiled']:.2f}x faster (best rounds)\n")
    _ops_table(plans["compiled"], x, y)


def _ops_table(plan: Any, x: Any, y: Any) -> None:
    """Each op's forward and backward time, best of 10 steps."""
    clock = time.perf_counter
    times: dict[str, list[list[float]]] = {}
    for _ in range(10):
        h = x
        for i, op in enumerate(plan.ops):
            t = clock()
            h = op.forward(h)
            times.setdefault(f"{i} {op.name}", [[], []])[0].append(clock() - t)
        plan.loss_forward(h, y)
        dy = plan.loss_backward()
        for i, op in reversed(list(enumerate(plan.ops))):
            t = clock()
            dy = op.backward(dy)
            times[f"{i} {op.name}"][1].append(clock() - t)
        t = clock()
        plan.step()
        times.setdefault("Adam step", [[], []])[0].append(clock() - t)
    print("| op (compiled) | forward ms | backward ms |\n|---|---|---|")
    for name, (fwd, bwd) in times.items():
        back = f"{min(bwd) * 1e3:.2f}" if bwd else "-"
        print(f"| {name} | {min(fwd) * 1e3:.2f} | {back} |")


if __name__ == "__main__":
    main()
