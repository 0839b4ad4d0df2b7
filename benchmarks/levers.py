"""What each speed lever bought: ``bareprop.fit`` s/epoch with the levers added one at a time.

Variants, each measured in its own process, in interleaved rounds (medians, min-max):

* ``before``: the code before the speed work (``git archive BEFORE src``, default the parent
  of the first speed commit), run from a temporary copy;
* ``+ buffers, no dx``: today's code with NumPy only and the optimiser's own (textbook,
  per-parameter) step, i.e. reused layer buffers, the first layer's unused input gradient
  skipped, the batch taken into a buffer, the fused softmax-CE gradient with 1/N folded in;
* ``+ flat parameters``: one flat buffer for all weights / gradients / moments;
* ``+ numba``: the compiled loops (if numba is installed): the one-pass optimiser step, ReLU,
  the softmax-CE pieces around NumPy's exp and log, the finite check of the gradients;
* ``+ fused Linear+ReLU``: each Linear computes the ReLU after it (bias + ReLU one pass
  forward, mask + bias gradient one pass backward). The rows above run without this fusion.

    python benchmarks/levers.py [--rounds 3] [--steps 400] [--before COMMIT]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONFIGS = {"sgd-b64": ("sgd", 0.01, 64), "adam-b128": ("adam", 1e-3, 128)}
VARIANTS = ("before", "+ buffers, no dx", "+ flat parameters", "+ numba", "+ fused Linear+ReLU")
ROOT = Path(__file__).resolve().parent.parent


def worker(variant: str, config: str, steps: int) -> float:
    """Seconds for ``steps`` steps of ``fit`` (after 20 untimed), with the levers of ``variant``."""
    with contextlib.ExitStack() as levers:
        if variant != "before":  # the code of today, some levers switched off
            from bareprop.bench.contenders import without_fusion
            from bareprop.fast import kernels as _kernels
            from bareprop.fast import plan

            _kernels.use(variant in ("+ numba", "+ fused Linear+ReLU"))
            if variant == "+ buffers, no dx":  # the optimiser's own per-parameter step
                plan.flat_step = lambda optimizer: optimizer.step
            if variant != "+ fused Linear+ReLU":
                levers.enter_context(without_fusion())
        return _time_fit(config, steps)


def _time_fit(config: str, steps: int) -> float:
    import bareprop as bp
    from bareprop.data.mnist import load_mnist

    (xtr, ytr), _ = load_mnist()
    x = (np.arange(256) / 255.0).astype(np.float32)[xtr.reshape(len(xtr), -1)]
    y = ytr.astype(np.int64)
    opt_name, lr, bs = CONFIGS[config]
    rng = np.random.default_rng(0)
    model = bp.build_mlp(784, [500, 250, 100], 10, rng=rng)
    opt = bp.SGD(model.parameters(), lr) if opt_name == "sgd" else bp.Adam(model.parameters(), lr)
    loss = bp.SoftmaxCrossEntropy()

    def run(k: int) -> None:
        bp.fit(
            model,
            x[: k * bs],
            y[: k * bs],
            loss=loss,
            optimizer=opt,
            batch_size=bs,
            rng=rng,
            verbose=0,
        )

    run(20)
    start = time.perf_counter()
    run(steps)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--before", default=None, help="commit of the 'before' code")
    parser.add_argument("--worker", nargs=2, metavar=("VARIANT", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.steps)))
        return
    before = args.before or _first_speed_commit_parent()
    threads = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "archive", before, "src"], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        jobs = [(v, c) for c in CONFIGS for v in VARIANTS]
        for r in range(args.rounds):
            for variant, config in jobs[r:] + jobs[:r]:
                src = f"{tmp}/src" if variant == "before" else str(ROOT / "src")
                cmd = [
                    sys.executable,
                    __file__,
                    "--worker",
                    variant,
                    config,
                    "--steps",
                    str(args.steps),
                ]
                out = subprocess.run(
                    cmd, capture_output=True, text=True, env=dict(env, PYTHONPATH=src), check=True
                )
                per_epoch = math.ceil(60000 / CONFIGS[config][2]) / args.steps
                times.setdefault((variant, config), []).append(float(out.stdout) * per_epoch)
                last = times[(variant, config)][-1]
                print(f"round {r + 1}: {config} {variant}: {last:.3f} s/epoch", flush=True)
    print(f"\n| change (cumulative) | {' | '.join(CONFIGS)} |")
    print("|---|" + "---|" * len(CONFIGS))
    for variant in VARIANTS:
        cells = []
        for config in CONFIGS:
            t = times[(variant, config)]
            cells.append(f"{np.median(t):.3f} ({min(t):.3f}-{max(t):.3f})")
        print(f"| {variant} | {' | '.join(cells)} |")
    load = os.getloadavg()
    print(f"\nbefore = {before}; {args.rounds} rounds of {args.steps} steps; load average {load}")


def _first_speed_commit_parent() -> str:
    log = subprocess.run(
        ["git", "log", "--format=%H", "--reverse", "--grep", "^Speed:"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    first = log.stdout.split()[0]
    return f"{first}^"


if __name__ == "__main__":
    main()
