"""The floor under an epoch: the GEMMs, then the batch gather and the optimiser pass added.

Any training loop on the reference MLP must run the 11 GEMMs of a step, gather a shuffled
batch and make the optimiser's pass over all 544k weights; in NumPy the last two run on one
core while the GEMMs use both. This times those parts alone, on the shapes of the reference
configurations, in one process, in interleaved rounds, with bareprop's own optimiser step
(compiled if numba is installed) over flat buffers. What ``bareprop.fit`` takes beyond the
last column is the price of everything else: bias, ReLU, loss, bookkeeping, Python.

    python benchmarks/floor.py [--rounds 12] [--steps 150]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics

import numpy as np

import bareprop as bp
from bareprop.bench.contenders import REFERENCE, BenchConfig, load_data, seconds_per_epoch


def floor_seconds(
    cfg: BenchConfig, x: np.ndarray, *, gather: bool, update: bool, steps: int
) -> float:
    """s/epoch of ``steps`` steps (after 20 untimed) of the GEMMs (plus the gather and/or the
    optimiser step)."""
    rng = np.random.default_rng(0)
    net = bp.build_mlp(x.shape[1], list(cfg.hidden), 10, rng=rng)
    linears = [layer for layer in net.layers if isinstance(layer, bp.Linear)]
    params = net.parameters()
    opt = bp.SGD(params, 1e-9) if cfg.optimizer == "sgd" else bp.Adam(params, 1e-9)
    bs = cfg.batch_size
    acts = [np.empty((bs, x.shape[1]), np.float32)]
    acts += [np.empty((bs, layer.out_features), np.float32) for layer in linears]
    acts[0][...] = x[:bs]
    deltas = [rng.standard_normal(a.shape).astype(np.float32) for a in acts[1:]]
    dxs = [np.empty_like(a) for a in acts[:-1]]
    order = rng.permutation(len(x))

    steps_done = itertools.count()

    def step() -> None:
        i = next(steps_done)
        if gather:
            start = (i * bs) % (len(x) - bs)
            np.take(x, order[start : start + bs], axis=0, out=acts[0], mode="clip")
        for k, layer in enumerate(linears):
            np.matmul(acts[k], layer.weight.data, out=acts[k + 1])
        for k, layer in reversed(list(enumerate(linears))):
            np.matmul(acts[k].T, deltas[k], out=layer.weight.grad)
            if k:  # as in fit: the first layer's input gradient is not computed
                np.matmul(deltas[k], layer.weight.data.T, out=dxs[k])
        if update:
            opt.step()

    def run_steps(k: int) -> None:
        for _ in range(k):
            step()

    return seconds_per_epoch(run_steps, steps, bs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    x, _, _, _ = load_data()
    variants = {
        "GEMMs alone": (False, False),
        "+ batch gather": (True, False),
        "+ optimiser step": (False, True),
        "+ both": (True, True),
    }
    print(f"| config | {' | '.join(variants)} |")
    print("|---|" + "---|" * len(variants))
    for cfg in REFERENCE:
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _, (name, (gather, update)) in itertools.product(range(args.rounds), variants.items()):
            times[name].append(
                floor_seconds(cfg, x, gather=gather, update=update, steps=args.steps)
            )
        base = statistics.median(times["GEMMs alone"])
        cells = [
            f"{statistics.median(t):.3f} ({statistics.median(t) / base:.2f}x)"
            for t in times.values()
        ]
        print(f"| {cfg.name} | {' | '.join(cells)} |")
    print(f"\ns/epoch, median of {args.rounds} interleaved rounds of {args.steps} steps "
          f"(ratio to the GEMMs alone); load average {os.getloadavg()}")  # fmt: skip


if __name__ == "__main__":
    main()
