"""bareprop and PyTorch side by side: the same network, weights, batches and update rule.

:func:`compare_training` trains a copy of one initial network in each framework. Both see the
same batches in the same order: each epoch's permutation comes from a generator seeded like
``fit``'s, and torch's learning rate is set before every step from the same schedule, as
``fit`` sets ``optimizer.lr``. Dropout masks are drawn in torch from a twin of bareprop's
dropout generator, so they match too. Torch's side is :mod:`bareprop.check.torch_side`
(imported only when called: ``import bareprop`` never loads torch).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bareprop.check.torch_side import (
    require_torch,
    to_torch,
    torch_epoch,
    torch_loss,
    torch_optimizer,
    weight_divergence,
)
from bareprop.nn.losses import Loss
from bareprop.nn.sequential import Sequential
from bareprop.optim import Optimizer
from bareprop.optim.schedules import get_schedule
from bareprop.train.config import TrainConfig
from bareprop.train.fit import fit
from bareprop.train.run import Data, build, seeded_rngs


@dataclass
class CompareResult:
    """Per-epoch histories of both frameworks, the final divergence and the wall times.

    ``warmup`` holds the seconds each framework's untimed warm-up took (see
    :func:`warm_up`), which the per-epoch ``seconds`` do not include.
    """

    bareprop: dict[str, list[float]]
    torch: dict[str, list[float]]
    divergence: float
    divergence_at: str
    mean_divergence: float
    threads: int
    warmup: dict[str, float] = field(default_factory=dict)
    warmup_steps: int = 0

    @property
    def speed_ratio(self) -> float:
        """torch seconds / bareprop seconds over the whole run (> 1: bareprop is faster)."""
        return sum(self.torch["seconds"]) / sum(self.bareprop["seconds"])


@dataclass
class _Twins:
    """One initial network in both frameworks, with its loss, optimiser, data and generators
    (torch's a twin of bareprop's: the same shuffles and dropout masks)."""

    model: Sequential
    loss: Loss
    optimizer: Optimizer
    data: Data
    rngs: dict[str, np.random.Generator]
    tmodel: Any
    tloss: Any
    toptimizer: Any
    tdata: tuple[Any, ...]
    trngs: dict[str, np.random.Generator]

    @classmethod
    def build(cls, config: TrainConfig, data: Data) -> _Twins:
        torch = require_torch()
        rngs, trngs = seeded_rngs(config.seed), seeded_rngs(config.seed)
        model, loss, optimizer = build(config, data.x_train.shape[1:], data.n_classes, rngs)
        data = data.for_model(model)
        tmodel = to_torch(model, dropout_rng=trngs["dropout"])
        arrays = (data.x_train, data.y_train, data.x_test, data.y_test)
        tdata = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
        topt = torch_optimizer(optimizer, tmodel.parameters())
        return cls(model, loss, optimizer, data, rngs, tmodel, torch_loss(loss), topt, tdata, trngs)

    def bareprop_epoch(self, config: TrainConfig, first_step: int) -> dict[str, float]:
        """One epoch of :func:`bareprop.fit`, on the global schedule of the whole run."""
        data = self.data
        steps = config.epochs * math.ceil(len(data.x_train) / config.batch_size)
        schedule = get_schedule(config.lr_schedule)
        history = fit(
            self.model, data.x_train, data.y_train, loss=self.loss, optimizer=self.optimizer,
            epochs=1, batch_size=config.batch_size, rng=self.rngs["shuffle"], verbose=0,
            lr_schedule=lambda step, _: schedule(first_step + step, steps),
            validation_data=(data.x_test, data.y_test),
        )  # fmt: skip
        names = {"loss": "loss", "test_accuracy": "val_accuracy", "seconds": "seconds"}
        return {k: history[v][0] for k, v in names.items()}

    def torch_epoch(self, config: TrainConfig, first_step: int) -> dict[str, float]:
        """One epoch of torch's side on the same batches (``torch_side.torch_epoch``)."""
        return torch_epoch(self.tmodel, self.tloss, self.toptimizer, self.tdata, config,
                           self.trngs["shuffle"], first_step)  # fmt: skip


WARMUP_STEPS = 20
Progress = Callable[[str], None]


def warm_up(config: TrainConfig, data: Data, steps: int = WARMUP_STEPS) -> dict[str, float]:
    """Train throwaway copies of the network for ``steps`` batches in each framework.

    The first steps of a process pay once for what later steps reuse: BLAS's and torch's
    thread pools starting, the compiled kernels loading, memory being mapped, torch's
    dispatch being built. In a one-epoch comparison that cost would be most of the time
    measured. The copies come from generators of their own, so the compared run is the
    same with or without a warm-up. Returns the seconds each framework took.
    """
    n = min(len(data.x_train), steps * config.batch_size)
    short = dataclasses.replace(config, epochs=1)
    sample = dataclasses.replace(
        data, x_train=data.x_train[:n], y_train=data.y_train[:n],
        x_test=data.x_test[: config.batch_size], y_test=data.y_test[: config.batch_size],
    )  # fmt: skip
    twins = _Twins.build(short, sample)
    started = time.perf_counter()
    twins.bareprop_epoch(short, 0)
    middle = time.perf_counter()
    twins.torch_epoch(short, 0)
    return {"bareprop": middle - started, "torch": time.perf_counter() - middle}


def compare_training(
    config: TrainConfig, data: Data, *, threads: int = 2, warmup_steps: int = WARMUP_STEPS,
    progress: Progress | None = None,
) -> CompareResult:  # fmt: skip
    """Train ``config``'s network in bareprop and in torch from the same start; compare.

    The frameworks take turns, epoch by epoch, so that a busy machine slows both alike. Each
    first trains a throwaway copy for ``warmup_steps`` batches (:func:`warm_up`; 0: none), so
    that the seconds measured are those of training, not of a process starting.

    Args:
        config: the network, loss, optimiser, schedule, epochs and seed (``train``'s options).
        data: the training set (any size) and the test set measured after every epoch.
        threads: ``torch.set_num_threads`` (NumPy's BLAS uses the machine's cores).
        warmup_steps: batches of the untimed warm-up in each framework.
        progress: called with a few words before each stage (``"epoch 2/3: PyTorch"``).
    """
    torch = require_torch()
    torch.set_num_threads(threads)
    say = progress or (lambda _: None)
    warmup: dict[str, float] = {}
    if warmup_steps > 0:
        say(f"warming up, {warmup_steps} batches in each framework (not timed)")
        warmup = warm_up(config, data, warmup_steps)
    twins = _Twins.build(config, data)
    ours: dict[str, list[float]] = {"loss": [], "test_accuracy": [], "seconds": []}
    theirs: dict[str, list[float]] = {"loss": [], "test_accuracy": [], "seconds": []}
    steps_per_epoch = math.ceil(len(twins.data.x_train) / config.batch_size)
    for epoch in range(config.epochs):
        first = epoch * steps_per_epoch
        say(f"epoch {epoch + 1}/{config.epochs}: bareprop")
        mine = twins.bareprop_epoch(config, first)
        say(f"epoch {epoch + 1}/{config.epochs}: PyTorch")
        other = twins.torch_epoch(config, first)
        for key in ours:
            ours[key].append(mine[key])
            theirs[key].append(other[key])
    worst, where, mean = weight_divergence(twins.model, twins.tmodel)
    return CompareResult(ours, theirs, worst, where, mean, threads, warmup, warmup_steps)
