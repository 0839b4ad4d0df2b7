"""Training a network on a handful of images until it knows them: what ``bareprop sanity``'s
overfit and weight-decay checks run."""

from __future__ import annotations

import numpy as np

from bareprop.nn.losses import Loss
from bareprop.nn.sequential import Sequential
from bareprop.optim import Optimizer
from bareprop.train.textbook import train_epoch


def predict_raw(model: Sequential, x: np.ndarray) -> np.ndarray:
    """The network's outputs in eval mode (no dropout), batch statistics not updated."""
    was = model.training
    model.eval()
    try:
        return model.forward(x)
    finally:
        if was:
            model.train()


def train_tiny(
    model: Sequential,
    loss: Loss,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    stop_at_100: bool = True,
) -> tuple[int, float, float]:
    """Train on ``(x, y)`` at a constant learning rate until every training sample is classified
    right (or ``epochs``), one :func:`~bareprop.train.textbook.train_epoch` after another. Returns
    ``(epochs run, training accuracy in eval mode, last epoch's mean training loss)``.

    A loop of its own rather than ``fit``: it takes any input shape (a conv net's images too)
    and stops at 100%.
    """
    rng = np.random.default_rng(seed)
    accuracy, last_loss = 0.0, float("nan")
    sizes = [len(x[start : start + batch_size]) for start in range(0, len(x), batch_size)]
    for epoch in range(1, epochs + 1):
        losses = train_epoch(model, loss, optimizer, x, y, batch_size=batch_size, rng=rng)
        if loss.reduction == "mean":
            last_loss = sum(v * n for v, n in zip(losses, sizes, strict=True)) / len(x)
        else:
            last_loss = sum(losses) / len(x)
        accuracy = float(np.mean(predict_raw(model, x).argmax(axis=1) == y))
        if stop_at_100 and accuracy == 1.0:
            return epoch, accuracy, last_loss
    return epochs, accuracy, last_loss
