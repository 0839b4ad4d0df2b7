"""What fusing each Linear with its ReLU buys, measured in pairs inside one process.

A lever worth a few percent drowns in the noise of a shared machine when each variant runs in
its own process minutes apart (see ``levers.py``). Here the variants take turns, run after
run, in one process (they share NumPy's one BLAS, so nothing thrashes): ``fit`` with its plan
fusing each Linear and ReLU as usual, and with the fusion switched off
(:func:`bareprop.fast.plan.use_fusion`), each with the compiled loops and with NumPy only.
The saving is the median of the paired differences.

    python benchmarks/fusion_ab.py [--rounds 12] [--steps 150]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics

import numpy as np

import bareprop as bp
from bareprop.bench.contenders import (
    REFERENCE,
    BenchConfig,
    load_data,
    seconds_per_epoch,
    without_fusion,
)
from bareprop.fast import kernels as _kernels


def epoch_seconds(
    cfg: BenchConfig, x: np.ndarray, y: np.ndarray, *, fused: bool, compiled: bool, steps: int
) -> float:
    """s/epoch of ``fit`` over ``steps`` steps (after 20 untimed) with the variant's levers."""
    _kernels.use(compiled)
    rng = np.random.default_rng(0)
    net = bp.build_mlp(x.shape[1], list(cfg.hidden), 10, rng=rng)
    params = net.parameters()
    opt = bp.SGD(params, cfg.lr) if cfg.optimizer == "sgd" else bp.Adam(params, cfg.lr)
    loss, bs = bp.SoftmaxCrossEntropy(), cfg.batch_size

    def run(k: int) -> None:
        bp.fit(net, x[: k * bs], y[: k * bs], loss=loss, optimizer=opt, batch_size=bs,
               rng=rng, verbose=0)  # fmt: skip

    with contextlib.nullcontext() if fused else without_fusion():
        return seconds_per_epoch(run, steps, bs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    x, y, _, _ = load_data()
    print("| config | loops | unfused s/epoch | fused s/epoch | saving (median of pairs) |")
    print("|---|---|---|---|---|")
    for cfg in REFERENCE:
        for compiled in (True, False):
            pairs = [
                (
                    epoch_seconds(cfg, x, y, fused=False, compiled=compiled, steps=args.steps),
                    epoch_seconds(cfg, x, y, fused=True, compiled=compiled, steps=args.steps),
                )
                for _ in range(args.rounds)
            ]
            off, on = (statistics.median(p[i] for p in pairs) for i in (0, 1))
            saving = statistics.median(a - b for a, b in pairs)
            loops = "numba" if compiled else "NumPy only"
            share = f"{saving:.3f} s ({saving / off:.1%})"
            print(f"| {cfg.name} | {loops} | {off:.3f} | {on:.3f} | {share} |")
    print(f"\n{args.rounds} rounds of {args.steps} steps; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
