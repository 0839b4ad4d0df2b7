"""Where the time of a bareprop training step goes, part by part.

The step is the one ``bareprop.fit`` runs (same buffers, same calls), with a clock read
between its parts. Reading the clock costs a little, so the parts add up to slightly more
than an untimed step.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

import numpy as np

from bareprop.bench.contenders import EPOCH_SAMPLES, WARMUP_STEPS, BenchConfig


def step_parts(cfg: BenchConfig, x: np.ndarray, y: np.ndarray, steps: int) -> dict[str, float]:
    """Seconds per epoch spent in each part of a step, from ``steps`` timed steps.

    Parts: ``batch`` (gather the shuffled rows), ``<Layer> forward`` / ``<Layer> backward``
    summed over the layers of that type (a Linear's include its GEMMs; ``Linear+ReLU`` is a
    Linear and the ReLU after it, which ``fit`` runs fused, see
    :func:`bareprop.fast.plan.fused_relus`), ``loss``
    (forward and backward), ``optimizer``, ``bookkeeping`` (finite checks, running loss and
    accuracy).
    """
    import bareprop as bp
    from bareprop.fast.plan import fast_training
    from bareprop.train.doctor import Doctor

    rng = np.random.default_rng(0)
    model = bp.build_mlp(x.shape[1], list(cfg.hidden), 10, rng=rng)
    params = model.parameters()
    opt = bp.SGD(params, cfg.lr) if cfg.optimizer == "sgd" else bp.Adam(params, cfg.lr)
    loss = bp.SoftmaxCrossEntropy()
    doctor = Doctor(model, x)
    bs = cfg.batch_size
    x_batch = np.empty((bs, x.shape[1]), np.float32)
    totals: dict[str, float] = defaultdict(float)
    clock = time.perf_counter

    def one_step(idx: np.ndarray) -> None:
        t0 = clock()
        xb, yb = np.take(x, idx, axis=0, out=x_batch[: len(idx)], mode="clip"), y[idx]
        t1 = clock()
        totals["batch"] += t1 - t0
        h = xb
        for layer, name in zip(model.layers, names, strict=True):
            h = layer.forward(h)
            t2 = clock()
            totals[f"{name} forward"] += t2 - t1
            t1 = t2
        value = loss.forward(h, yb)
        dy = loss.backward()
        t2 = clock()
        totals["loss"] += t2 - t1
        t1 = t2
        for layer, name in zip(reversed(model.layers), reversed(names), strict=True):
            dy = layer.backward(dy)
            t2 = clock()
            totals[f"{name} backward"] += t2 - t1
            t1 = t2
        opt.step()
        t2 = clock()
        totals["optimizer"] += t2 - t1
        math.isfinite(value)
        doctor.check_gradients(0, 0)
        int(np.count_nonzero(h.argmax(axis=1) == yb))
        totals["bookkeeping"] += clock() - t2

    order = rng.permutation(len(x))
    with fast_training(model):
        names = [_part_name(layer) for layer in model.layers]
        for i in range(WARMUP_STEPS + steps):
            if i == WARMUP_STEPS:
                totals.clear()
            start = (i * bs) % (len(x) - bs + 1)
            one_step(order[start : start + bs])
    per_epoch = math.ceil(EPOCH_SAMPLES / bs) / steps
    return {name: seconds * per_epoch for name, seconds in totals.items()}


def _part_name(layer: Any) -> str:
    """The layer's type, or ``Linear+ReLU`` for a Linear and a ReLU that run fused."""
    from bareprop.nn import Linear, ReLU

    fused = (isinstance(layer, Linear) and layer._relu is not None) or (
        isinstance(layer, ReLU) and layer._fused
    )
    return "Linear+ReLU" if fused else type(layer).__name__
