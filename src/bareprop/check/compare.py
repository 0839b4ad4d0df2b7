"""bareprop and PyTorch side by side: the same network, weights, batches and update rule.

An edge module: torch is imported inside the functions that need it, so ``import bareprop``
never loads it. Without torch installed, :func:`require_torch` raises a
:class:`~bareprop.errors.BarepropError` that says how to install it.

:func:`compare_training` trains a copy of one initial network in each framework. Both see the
same batches in the same order: each epoch's permutation comes from a generator seeded like
``fit``'s, and torch's learning rate is set before every step from the same schedule, as
``fit`` sets ``optimizer.lr``. Dropout masks are drawn in torch from a twin of bareprop's
dropout generator, so they match too.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bareprop.check.gradcheck import named_parameters
from bareprop.check.twins import torch_twin
from bareprop.errors import BarepropError
from bareprop.nn.losses import Loss, MSELoss, SoftmaxCrossEntropy
from bareprop.nn.sequential import Sequential
from bareprop.optim import SGD, Adam, AdamW, Optimizer, RMSprop
from bareprop.optim.schedules import get_schedule
from bareprop.train.config import TrainConfig
from bareprop.train.fit import fit
from bareprop.train.run import Data, build, seeded_rngs

INSTALL_HINT = 'PyTorch is not installed; install it with: pip install "bareprop[torch]"'


def require_torch() -> Any:
    """The ``torch`` module, or a BarepropError saying how to install it."""
    try:
        import torch
    except ImportError:
        raise BarepropError(INSTALL_HINT) from None
    return torch


def to_torch(model: Sequential, *, dropout_rng: np.random.Generator | None = None) -> Any:
    """A ``torch.nn.Sequential`` with the same layers and a copy of the same weights.

    Each layer becomes its twin from :data:`bareprop.check.twins.TWINS` (torch's
    ``Linear.weight`` is ``(out, in)``, the transpose of ours). A Dropout becomes a module
    drawing its masks the way ours does: from ``dropout_rng`` if given, else from a copy of
    the layer's own generator.
    """
    torch = require_torch()
    tmodel = torch_twin(model, torch)
    if dropout_rng is not None:
        for module in tmodel.modules():
            if hasattr(module, "rng"):
                module.rng = dropout_rng
    return tmodel


def _torch_dtype(dtype: Any) -> Any:
    torch = require_torch()
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


def torch_loss(loss: Loss) -> Any:
    """``(out, labels) -> tensor``: torch's CrossEntropyLoss or MSELoss on one-hot labels."""
    torch = require_torch()
    if isinstance(loss, SoftmaxCrossEntropy):
        return torch.nn.CrossEntropyLoss(reduction=loss.reduction)
    if isinstance(loss, MSELoss):
        mse = torch.nn.MSELoss(reduction=loss.reduction)

        def onehot_mse(out: Any, labels: Any) -> Any:
            if labels.ndim == 1:  # integer labels, one-hot encoded as ours are
                labels = torch.nn.functional.one_hot(labels, out.shape[1]).to(out.dtype)
            return mse(out, labels)

        return onehot_mse
    raise BarepropError(f"no torch equivalent for loss {type(loss).__name__}")


def torch_optimizer(optimizer: Optimizer, params: Any) -> Any:
    """The ``torch.optim`` optimiser with the same hyper-parameters as ``optimizer``."""
    torch = require_torch()
    o: Any = optimizer
    if isinstance(o, SGD):
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov,
                               weight_decay=o.weight_decay)  # fmt: skip
    if isinstance(o, Adam):  # AdamW is an Adam subclass
        cls = torch.optim.AdamW if isinstance(o, AdamW) else torch.optim.Adam
        return cls(params, lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)
    if isinstance(o, RMSprop):
        return torch.optim.RMSprop(params, lr=o.lr, alpha=o.alpha, eps=o.eps,
                                   momentum=o.momentum, weight_decay=o.weight_decay)  # fmt: skip
    raise BarepropError(f"no torch equivalent for optimizer {type(o).__name__}")


def weight_divergence(model: Sequential, tmodel: Any) -> tuple[float, str, float]:
    """The largest ``|ours - torch's|`` over all weights, the parameter where it is, and the
    mean ``|ours - torch's|`` over all weights."""
    theirs = [p.detach().cpu().numpy() for p in tmodel.parameters()]
    worst, where, total, count = 0.0, "", 0.0, 0
    for (name, p), t in zip(named_parameters(model), theirs, strict=True):
        t = t.T if p.data.ndim == 2 else t
        diff = np.abs(p.data.astype(np.float64) - t)
        total, count = total + float(diff.sum()), count + diff.size
        if float(diff.max()) >= worst:
            worst, where = float(diff.max()), name
    return worst, where, total / count


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


def _torch_accuracy(torch: Any, tmodel: Any, x: Any, y: Any) -> float:
    tmodel.eval()
    with torch.no_grad():
        correct = sum(
            int((tmodel(x[i : i + 2048]).argmax(dim=1) == y[i : i + 2048]).sum())
            for i in range(0, len(x), 2048)
        )
    return correct / len(x)


def torch_epoch(
    tmodel: Any, loss_fn: Any, topt: Any, data: tuple[Any, ...], config: TrainConfig,
    shuffle_rng: np.random.Generator, first_step: int,
) -> dict[str, float]:  # fmt: skip
    """One epoch of torch's side, the loop of :func:`bareprop.fit` step for step.

    Args:
        data: ``(x_train, y_train, x_test, y_test)`` tensors; the test set is measured at the end.
        shuffle_rng: a twin of the generator ``fit`` shuffles with.
        first_step: the global step this epoch starts at (for the learning-rate schedule).

    Returns:
        ``{"loss", "test_accuracy", "seconds"}`` (seconds include the test pass, as ``fit``'s
        include its validation pass).
    """
    torch = require_torch()
    x, y, x_test, y_test = data
    n, batch = len(x), config.batch_size
    total_steps = config.epochs * math.ceil(n / batch)
    schedule, base_lr = get_schedule(config.lr_schedule), config.lr
    started = time.perf_counter()
    tmodel.train()
    order = torch.from_numpy(shuffle_rng.permutation(n))
    loss_sum = 0.0
    for step, start in enumerate(range(0, n, batch), start=first_step):
        idx = order[start : start + batch]
        batch_loss = loss_fn(tmodel(x[idx]), y[idx])
        topt.zero_grad()
        batch_loss.backward()
        for group in topt.param_groups:  # what fit does with optimizer.lr
            group["lr"] = base_lr * schedule(step, total_steps)
        topt.step()
        value = float(batch_loss.item())
        loss_sum += value * len(idx) if config.reduction == "mean" else value
    accuracy = _torch_accuracy(torch, tmodel, x_test, y_test)
    return {
        "loss": loss_sum / n,
        "test_accuracy": accuracy,
        "seconds": time.perf_counter() - started,
    }


def _bareprop_epoch(
    model: Sequential, loss: Loss, optimizer: Optimizer, data: Data, config: TrainConfig,
    rng: np.random.Generator, first_step: int,
) -> dict[str, float]:  # fmt: skip
    """One epoch of :func:`bareprop.fit`, on the global schedule of the whole run."""
    steps = config.epochs * math.ceil(len(data.x_train) / config.batch_size)
    schedule = get_schedule(config.lr_schedule)
    history = fit(
        model, data.x_train, data.y_train, loss=loss, optimizer=optimizer, epochs=1,
        batch_size=config.batch_size, rng=rng, verbose=0,
        lr_schedule=lambda step, _: schedule(first_step + step, steps),
        validation_data=(data.x_test, data.y_test),
    )  # fmt: skip
    names = {"loss": "loss", "test_accuracy": "val_accuracy", "seconds": "seconds"}
    return {k: history[v][0] for k, v in names.items()}


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
    torch = require_torch()
    n = min(len(data.x_train), steps * config.batch_size)
    short = dataclasses.replace(config, epochs=1)
    sample = dataclasses.replace(
        data, x_train=data.x_train[:n], y_train=data.y_train[:n],
        x_test=data.x_test[: config.batch_size], y_test=data.y_test[: config.batch_size],
    )  # fmt: skip
    rngs, twins = seeded_rngs(config.seed), seeded_rngs(config.seed)
    model, loss, optimizer = build(short, sample.x_train.shape[1:], data.n_classes, rngs)
    sample = sample.for_model(model)
    tmodel = to_torch(model, dropout_rng=twins["dropout"])
    topt, tloss = torch_optimizer(optimizer, tmodel.parameters()), torch_loss(loss)
    arrays = (sample.x_train, sample.y_train, sample.x_test, sample.y_test)
    tdata = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
    started = time.perf_counter()
    _bareprop_epoch(model, loss, optimizer, sample, short, rngs["shuffle"], 0)
    middle = time.perf_counter()
    torch_epoch(tmodel, tloss, topt, tdata, short, twins["shuffle"], 0)
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
    rngs, twins = seeded_rngs(config.seed), seeded_rngs(config.seed)
    model, loss, optimizer = build(config, data.x_train.shape[1:], data.n_classes, rngs)
    data = data.for_model(model)
    tmodel = to_torch(model, dropout_rng=twins["dropout"])
    topt, tloss = torch_optimizer(optimizer, tmodel.parameters()), torch_loss(loss)
    arrays = (data.x_train, data.y_train, data.x_test, data.y_test)
    tdata = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
    ours: dict[str, list[float]] = {"loss": [], "test_accuracy": [], "seconds": []}
    theirs: dict[str, list[float]] = {"loss": [], "test_accuracy": [], "seconds": []}
    steps_per_epoch = math.ceil(len(data.x_train) / config.batch_size)
    for epoch in range(config.epochs):
        first = epoch * steps_per_epoch
        say(f"epoch {epoch + 1}/{config.epochs}: bareprop")
        mine = _bareprop_epoch(model, loss, optimizer, data, config, rngs["shuffle"], first)
        say(f"epoch {epoch + 1}/{config.epochs}: PyTorch")
        other = torch_epoch(tmodel, tloss, topt, tdata, config, twins["shuffle"], first)
        for key in ours:
            ours[key].append(mine[key])
            theirs[key].append(other[key])
    worst, where, mean = weight_divergence(model, tmodel)
    return CompareResult(ours, theirs, worst, where, mean, threads, warmup, warmup_steps)
