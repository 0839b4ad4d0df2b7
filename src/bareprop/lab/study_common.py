"""What every study shares: its :class:`Setting`, what it returns (:class:`Study`), the training
loop that records every step's loss (:func:`train_steps`), accuracy and Markdown tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.lab.trained import Images
from bareprop.nn.losses import Loss
from bareprop.nn.sequential import Sequential
from bareprop.optim import Optimizer
from bareprop.train.fit import predict
from bareprop.train.textbook import train_epoch


@dataclass
class Setting:
    """What every study is given: the data, the seed, quick or full, where figures go."""

    data: Images
    seed: int
    quick: bool
    out: Path
    plots: bool = True


@dataclass
class Study:
    """What a study returns: a title, rows for ``results.csv``, per-configuration histories,
    figures ``caption -> path`` and the Markdown body of ``results.md``."""

    title: str
    rows: list[dict[str, Any]]
    histories: dict[str, dict[str, Any]]
    figures: dict[str, Path] = field(default_factory=dict)
    markdown: str = ""


EvalHook = Callable[[int, float], None]  # (step, seconds of training so far)


def train_steps(
    model: Sequential,
    loss: Loss,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    every: int = 0,
    on_eval: EvalHook | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> dict[str, list[float]]:
    """Epochs of :func:`~bareprop.train.textbook.train_epoch`; the loss of every step.

    Args:
        x, y: training features ``(N, features)`` and int labels ``(N,)``.
        every: call ``on_eval(step, seconds)`` every this many steps (0: never); its own time
            is not counted in ``seconds``.
        on_epoch: called with the epoch number (1-based) after each epoch.

    Returns:
        ``{"step_loss": [...], "seconds": [per epoch]}``, seconds of training only.
    """
    history: dict[str, list[float]] = {"step_loss": [], "seconds": []}
    step, trained, epoch_seconds, started = 0, 0.0, 0.0, 0.0

    def after_step() -> None:  # every ``every`` steps, on_eval with the clock stopped
        nonlocal step, epoch_seconds, started
        step += 1
        if every and on_eval is not None and step % every == 0:
            epoch_seconds += time.perf_counter() - started
            on_eval(step, trained + epoch_seconds)
            started = time.perf_counter()

    for epoch in range(1, epochs + 1):
        epoch_seconds, started = 0.0, time.perf_counter()
        history["step_loss"] += train_epoch(
            model, loss, optimizer, x, y, batch_size=batch_size, rng=rng, after_step=after_step
        )
        epoch_seconds += time.perf_counter() - started
        trained += epoch_seconds
        history["seconds"].append(epoch_seconds)
        if on_epoch is not None:
            on_epoch(epoch)
    return history


def accuracy(model: Sequential, x: np.ndarray, y: np.ndarray) -> float:
    """The share of ``x`` classified right, in eval mode (no dropout, running statistics)."""
    return float(np.mean(predict(model, x) == y))


def cell(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table_md(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows as a Markdown table of ``columns``."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
