"""One training step of the reference CNN through fit's plan, and where it goes, op by op.

    python benchmarks/cnn_step.py [--threads 2] [--rounds 7]

The plan is driven as ``fit`` drives it (forward, loss, backward, optimiser step) on batches of
128 MNIST training images, Adam, float32, a new batch each step. Four plans take turns, round
after round (10 steps a round): fit's (the compiled image loops, the batch as two halves on two
threads, :mod:`bareprop.fast.halves`), the same with whole batches (what the halves buy), one
with the NumPy versions of the image loops, and that one with its halves one after the other
(what ``pip install .`` runs: neither numba nor threadpoolctl).
Prints each one's best and median step and the ratios, then the ops of one whole batch,
forward and backward (best of 10 steps, a clock read between ops). No PyTorch in this process:
its thread pool would compete with OpenBLAS's; ``bareprop bench --configs cnn-adam-b128``
compares with PyTorch in separate processes.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from typing import Any

ONE_AFTER_THE_OTHER = "NumPy, halves one after the other (`pip install .` alone)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)  # before NumPy starts its BLAS
    import numpy as np

    import bareprop as bp
    from bareprop.fast import halves, kernels
    from bareprop.fast.plan import Plan

    if kernels.kernels() is None:
        raise SystemExit(
            "numba is not installed (pip install 'bareprop[fast]'): nothing to compare"
        )
    from bareprop.bench.contenders import load_data

    images, labels, _, _ = load_data()
    images = images.reshape(-1, 1, 28, 28)
    order = np.random.default_rng(0).permutation(len(images))
    batches = (order[i : i + 128] for i in itertools.cycle(range(0, len(order) - 127, 128)))

    def make_plan(whole: bool = False) -> Any:
        model = bp.build_cnn(rng=np.random.default_rng(1))
        plan = Plan(model, bp.SoftmaxCrossEntropy(), bp.Adam(model.parameters()))
        if whole:
            plan.halves = None
        return plan

    plans = {"compiled, halves (fit)": make_plan(), "compiled, whole batches": make_plan(True),
             "NumPy, halves": make_plan(), ONE_AFTER_THE_OTHER: make_plan()}  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in plans}
    blas = halves._blas
    for r in range(args.rounds + 1):  # round 0 warms up (numba compiles, buffers allocate)
        for name, plan in plans.items():
            kernels.use(name.startswith("compiled"))
            as_installed = name == ONE_AFTER_THE_OTHER  # without threadpoolctl
            halves._blas = (lambda: None) if as_installed else blas  # type: ignore[assignment]
            time.sleep(0.3)  # OpenBLAS's idle thread stops spinning after the last plan's GEMMs
            start = time.perf_counter()
            for _ in range(10):
                idx = next(batches)
                plan.loss_forward(plan.forward(plan.take(images, idx)), labels[idx])
                plan.backward()
                plan.step()
            if r:
                times[name].append((time.perf_counter() - start) / 10 * 1e3)
    kernels.use(True)
    halves._blas = blas  # type: ignore[assignment]
    print(f"one step, {args.threads} threads, {args.rounds} rounds of 10 steps, interleaved:\n")
    print("| plan | best ms | median ms |\n|---|---|---|")
    for name, ts in times.items():
        ts.sort()
        print(f"| {name} | {ts[0]:.1f} | {ts[len(ts) // 2]:.1f} |")
    fit, whole, numpy, _ = (min(ts) for ts in times.values())
    print(f"\nbest rounds: the halves {whole / fit:.2f}x faster than whole batches; "
          f"compiled {numpy / fit:.2f}x faster than NumPy\n")  # fmt: skip
    idx = next(batches)
    plan = make_plan(True)
    x, y = plan.take(images, idx), labels[idx]
    _ops_table(plan, x, y)


def _ops_table(plan: Any, x: Any, y: Any) -> None:
    """Each op's forward and backward time for one whole batch, best of 10 steps."""
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
