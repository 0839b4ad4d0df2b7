"""One training step of the reference CNN through fit's plan, and where it goes, op by op.

    python benchmarks/cnn_step.py [--threads 2] [--rounds 7]

The plan is driven as ``fit`` drives it (forward, loss, backward, optimiser step) on one
random batch of 128 images, Adam, float32. Prints the step's best and median time over the
rounds (10 steps each), then each op's forward and backward time (best of 10 steps, a clock
read between ops). No PyTorch in this process: its thread pool would compete with OpenBLAS's;
``bareprop bench --configs cnn-adam-b128`` compares with PyTorch in separate processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)  # before NumPy starts its BLAS
    import numpy as np

    import bareprop as bp
    from bareprop.fast.plan import Plan

    rng = np.random.default_rng(0)
    x = rng.random((128, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    model = bp.build_cnn(rng=rng)
    plan = Plan(model, bp.SoftmaxCrossEntropy(), bp.Adam(model.parameters()))

    def step() -> None:
        plan.loss_forward(plan.forward(x), y)
        plan.backward()
        plan.step()

    for _ in range(5):
        step()
    rounds = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for _ in range(10):
            step()
        rounds.append((time.perf_counter() - start) / 10 * 1e3)
    rounds.sort()
    print(f"step: best {rounds[0]:.1f} ms, median {rounds[len(rounds) // 2]:.1f} ms "
          f"({args.threads} threads, {args.rounds} rounds of 10 steps)\n")  # fmt: skip

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
    print("| op | forward ms | backward ms |\n|---|---|---|")
    for name, (fwd, bwd) in times.items():
        back = f"{min(bwd) * 1e3:.2f}" if bwd else "-"
        print(f"| {name} | {min(fwd) * 1e3:.2f} | {back} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
