"""What an experiment's trainer is given and what it returns.

A trainer (a notebook's, the sound recipe, best-mlp, a grid point) takes the MNIST
:class:`Images` and a seeded generator, calls ``on_epoch(epoch, logs)`` (an :data:`EpochHook`)
after each epoch, and returns a :class:`Trained`: the model, a per-epoch history (``loss``,
``test_accuracy``, ``seconds`` of training, excluding the test evaluation) and the final test
accuracy. :class:`Recorder` builds that history epoch by epoch, from a hand-written loop or,
through :class:`FitHook`, from :func:`~bareprop.train.fit.fit`'s callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bareprop.nn.sequential import Sequential
from bareprop.train.fit import predict

EpochHook = Callable[[int, dict[str, float]], None] | None


@dataclass
class Images:
    """MNIST as the notebooks load it: flattened uint8 pixels ``(N, 784)`` and int labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @classmethod
    def load(cls, data_dir: str | None = None, limit: int | None = None) -> Images:
        """The bundled MNIST (or ``data_dir``); ``limit`` keeps the first N train/test images."""
        from bareprop.data.mnist import load_mnist

        (xtr, ytr), (xte, yte) = load_mnist(data_dir)
        n_tr = len(xtr) if limit is None else min(limit, len(xtr))
        n_te = len(xte) if limit is None else min(limit, len(xte))
        flat = [a.reshape(len(a), -1) for a in (xtr[:n_tr], xte[:n_te])]
        return cls(flat[0], ytr[:n_tr].astype(np.int64), flat[1], yte[:n_te].astype(np.int64))

    def scaled(self, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Train and test pixels divided by 255, as most notebooks do."""
        return (self.x_train / 255.0).astype(dtype), (self.x_test / 255.0).astype(dtype)


@dataclass
class Trained:
    model: Sequential
    history: dict[str, list[float]]
    test_accuracy: float
    transform: Callable[[np.ndarray], np.ndarray] = field(default=lambda x: x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Classes for inputs prepared as this notebook prepares them."""
        return predict(self.model, self.transform(x))


class Recorder:
    """Per-epoch history: training loss, test accuracy, seconds spent training."""

    def __init__(
        self, model: Sequential, x_test: np.ndarray, y_test: np.ndarray, hook: EpochHook
    ) -> None:
        self.model, self.x_test, self.y_test, self.hook = model, x_test, y_test, hook
        self.history: dict[str, list[float]] = {"loss": [], "test_accuracy": [], "seconds": []}
        self._t0 = time.perf_counter()

    def test_accuracy(self) -> float:
        # predict runs in eval mode (dropout off) whatever mode training left the model in
        return float(np.mean(predict(self.model, self.x_test) == self.y_test))

    def end_epoch(self, loss: float, **extra: float) -> None:
        seconds = time.perf_counter() - self._t0
        logs = {"loss": loss, "test_accuracy": self.test_accuracy(), "seconds": seconds, **extra}
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        if self.hook is not None:
            self.hook(len(self.history["loss"]) - 1, logs)
        self._t0 = time.perf_counter()

    def done(self) -> Trained:
        return Trained(self.model, self.history, self.history["test_accuracy"][-1])


class FitHook:
    """Adapts fit's ``on_epoch_end(epoch, logs)`` to a :class:`Recorder`."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.rec.end_epoch(logs["loss"], train_accuracy=logs["accuracy"])
