"""PyTorch's side of a comparison: a bareprop network, loss and optimiser as torch's, and
torch's training epoch written as :func:`bareprop.fit`'s loop, step for step.

An edge module: torch is imported inside the functions that need it, so ``import bareprop``
never loads it. Without torch installed, :func:`require_torch` raises a
:class:`~bareprop.errors.BarepropError` that says how to install it.
"""

from __future__ import annotations

import math
import time
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
