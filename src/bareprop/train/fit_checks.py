"""The checks of ``fit``'s arguments that stand on their own (validation data, callbacks, the
loss and optimiser); :func:`bareprop.train.fit._checked` runs them, with the rest, before the
first step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bareprop.nn import Layer
from bareprop.optim import Optimizer
from bareprop.train.predict import check_inputs, check_loss
from bareprop.validation import check_labels, check_positive


def checked_validation(model: Layer, data: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(x_val, y_val)`` checked for ``model`` (not empty), ``x_val`` cast to its dtype."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(
            f"validation_data must be a pair (x_val, y_val), got {type(data).__name__}"
        )
    x_val, n_classes = check_inputs(model, data[0], "validation x")
    if len(x_val) == 0:
        raise ValueError("validation_data is empty (0 samples): pass None for no validation")
    return x_val, check_labels(data[1], n_classes, "validation y", n_samples=len(x_val))


def check_callbacks(callbacks: Any) -> None:
    """A list of objects, each with a callable ``on_epoch_end``."""
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Sequence):
        raise TypeError(f"callbacks must be a list of objects, got {type(callbacks).__name__}")
    for i, callback in enumerate(callbacks):
        if not callable(getattr(callback, "on_epoch_end", None)):
            name = getattr(callback, "__qualname__", type(callback).__name__)
            raise TypeError(
                f"callbacks[{i}] ({type(callback).__name__} {name}) has no on_epoch_end(epoch, "
                "logs) method: fit calls nothing else (wrap a function in an object with one)"
            )


def check_parts(model: Layer, loss: Any, optimizer: Any) -> None:
    """The loss and optimiser are instances, and the optimiser updates this model's parameters."""
    check_loss(loss)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an Optimizer instance (e.g. SGD(...)), got {optimizer}")
    check_positive(optimizer.lr, "optimizer.lr")  # an attribute: it may have been set since
    updated = {id(p) for p in optimizer.params}
    missing = sum(id(p) not in updated for p in model.parameters())
    if missing:
        raise ValueError(
            f"optimizer does not update {missing} of the model's {len(model.parameters())} "
            "parameters: build it over model.parameters() of this model"
        )
