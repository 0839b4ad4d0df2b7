"""Early stopping: stop when the validation loss has stopped improving, keep the best weights.

As Keras' ``EarlyStopping(monitor="val_loss", patience=N, min_delta=..., restore_best_weights=
True)``: after each epoch, a validation loss below ``best - min_delta`` is an improvement (its
weights are copied); ``patience`` epochs in a row without one stop the training, and the model
gets back the weights of its best epoch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bareprop.files.model_file import model_arrays
from bareprop.nn.layer import Layer
from bareprop.validation import check_positive, check_range


class EarlyStopping:
    """Pass to ``fit(..., early_stopping=EarlyStopping(patience=5))``; needs validation data.

    Args:
        patience: epochs without improvement before stopping (>= 1).
        min_delta: how much lower than the best a validation loss must be to count (>= 0).
        restore_best: give the model the weights (and buffers) of its best epoch when it stops.

    Attributes:
        best: the lowest validation loss so far. best_epoch: its epoch (from 0), or None.
        stopped_epoch: the epoch after which training stopped (from 0), or None if it ran to
            the end. restored: whether the best epoch's weights were put back.
    """

    def __init__(self, patience: int = 5, *, min_delta: float = 0.0, restore_best: bool = True):
        check_positive(patience, "patience", integer=True)
        check_range(min_delta, "min_delta", 0.0, math.inf)
        self.patience, self.min_delta, self.restore_best = (
            int(patience),
            float(min_delta),
            bool(restore_best),
        )
        self.best = math.inf
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.restored = False
        self.best_weights: list[np.ndarray] = []

    def update(self, epoch: int, val_loss: float, model: Layer) -> bool:
        """Record epoch ``epoch``'s validation loss; True if training should stop now."""
        if val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = float(val_loss), epoch, 0
            if self.restore_best:
                self.best_weights = [a.copy() for a in model_arrays(model)]
            return False
        self.wait += 1
        if self.wait < self.patience:
            return False
        self.stopped_epoch = epoch
        if self.restore_best and self.best_weights:
            for target, saved in zip(model_arrays(model), self.best_weights, strict=True):
                target[...] = saved  # in place: the optimiser and the plan keep their arrays
            self.restored = True
        return True

    def summary(self) -> dict[str, Any]:
        """What a run records: where it stopped and which epoch's weights it kept (1-based)."""
        kept = self.best_epoch if self.restored else None
        return {
            "stopped_epoch": None if self.stopped_epoch is None else self.stopped_epoch + 1,
            "best_epoch": None if self.best_epoch is None else self.best_epoch + 1,
            "weights_from_epoch": None if kept is None else kept + 1,
            "best_val_loss": self.best if self.best_epoch is not None else None,
        }

    def state_dict(self) -> dict[str, Any]:
        """The JSON part of its state (a checkpoint keeps ``best_weights`` as arrays)."""
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any], best_weights: list[np.ndarray]) -> None:
        self.best, self.best_epoch = float(state["best"]), state["best_epoch"]
        self.wait, self.stopped_epoch = int(state["wait"]), state["stopped_epoch"]
        self.best_weights = [np.array(a) for a in best_weights]
