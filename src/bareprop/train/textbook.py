"""The textbook training epoch, through the layers' own ``forward``/``backward``: what
``bareprop sanity``'s tiny trainings and the classic studies run, where every step is to be
seen (``fit`` runs the same maths through the fast plan)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bareprop.nn.losses import Loss
from bareprop.nn.sequential import Sequential
from bareprop.optim import Optimizer


def train_epoch(
    model: Sequential,
    loss: Loss,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    rng: np.random.Generator,
    after_step: Callable[[], None] | None = None,
) -> list[float]:
    """One epoch the textbook way, through the layers' own ``forward``/``backward``: shuffle
    with ``rng``, then per mini-batch forward, loss, backward, ``optimizer.step()`` (and
    ``after_step()``). Returns each step's loss. Any input shape, images too."""
    model.train()
    order, losses = rng.permutation(len(x)), []
    for start in range(0, len(x), batch_size):
        batch = order[start : start + batch_size]
        losses.append(loss.forward(model.forward(x[batch]), y[batch]))
        model.backward(loss.backward())
        optimizer.step()
        if after_step is not None:
            after_step()
    return losses
