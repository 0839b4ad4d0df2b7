"""Where the time of a bareprop training step goes, part by part.

The parts are those of the :class:`~bareprop.fast.plan.Plan` that ``bareprop.fit`` runs
(its ops, its loss, its optimiser step), called one by one with a clock read between them.
Reading the clock costs a little, so the parts add up to slightly more than an untimed step.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

import numpy as np

from bareprop.bench.contenders import EPOCH_SAMPLES, WARMUP_STEPS, BenchConfig


def step_parts(cfg: BenchConfig, x: np.ndarray, y: np.ndarray, steps: int) -> dict[str, float]:
    """Seconds per epoch spent in each part of a step, from ``steps`` timed steps.

    Parts: ``batch`` (gather the shuffled rows), ``<op> forward`` / ``<op> backward`` summed
    over the plan's ops of that name (a Linear's include its GEMMs; ``Linear+ReLU`` is a Linear
    and the ReLU after it, which the plan runs fused), ``loss`` (forward and backward),
    ``optimizer``, ``bookkeeping`` (finite checks, running loss and accuracy).
    """
    import bareprop as bp
    from bareprop.fast.plan import Plan
    from bareprop.train.doctor import Doctor

    rng = np.random.default_rng(0)
    model = bp.build_mlp(x.shape[1], list(cfg.hidden), 10, rng=rng)
    params = model.parameters()
    opt = bp.SGD(params, cfg.lr) if cfg.optimizer == "sgd" else bp.Adam(params, cfg.lr)
    plan = Plan(model, bp.SoftmaxCrossEntropy(), opt)
    doctor = Doctor(model, x, all_finite=plan.all_finite)
    totals: dict[str, float] = defaultdict(float)
    clock = time.perf_counter

    def one_step(idx: np.ndarray) -> None:
        t0 = clock()
        xb, yb = plan.take(x, idx), y[idx]
        t1 = clock()
        totals["batch"] += t1 - t0
        h = xb
        for op in plan.ops:
            h = op.forward(h)
            t2 = clock()
            totals[f"{op.name} forward"] += t2 - t1
            t1 = t2
        value = plan.loss_forward(h, yb)
        dy: np.ndarray | None = plan.loss_backward()
        t2 = clock()
        totals["loss"] += t2 - t1
        t1 = t2
        for op in reversed(plan.ops):
            dy = op.backward(dy)  # type: ignore[arg-type]  # None only out of the first op
            t2 = clock()
            totals[f"{op.name} backward"] += t2 - t1
            t1 = t2
        plan.step()
        t2 = clock()
        totals["optimizer"] += t2 - t1
        math.isfinite(value)
        doctor.check_gradients(0, 0)
        int(np.count_nonzero(h.argmax(axis=1) == yb))
        totals["bookkeeping"] += clock() - t2

    order = rng.permutation(len(x))
    bs = cfg.batch_size
    for i in range(WARMUP_STEPS + steps):
        if i == WARMUP_STEPS:
            totals.clear()
        start = (i * bs) % (len(x) - bs + 1)
        one_step(order[start : start + bs])
    per_epoch = math.ceil(EPOCH_SAMPLES / bs) / steps
    return {name: seconds * per_epoch for name, seconds in totals.items()}
