"""The training loop and what goes beside it: ``fit``, ``evaluate``, ``predict``.

``fit`` reads top to bottom: shuffle the indices, slice a batch, forward, loss, backward,
step, record. It returns a history, a dict of per-epoch lists.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from bareprop.fast.plan import fast_training, fused_relus, reused_buffers
from bareprop.nn import Layer, Sigmoid
from bareprop.nn.losses import Loss, softmax
from bareprop.nn.sequential import Sequential
from bareprop.optim import Optimizer
from bareprop.optim.schedules import Schedule, get_schedule
from bareprop.train.doctor import Doctor
from bareprop.train.doctor import TrainingDiverged as TrainingDiverged  # re-exported
from bareprop.train.state import FitState, TrainingInterrupted, deferred_sigint
from bareprop.validation import check_features, check_labels, check_positive, check_rng


class Callback(Protocol):
    """What ``fit`` calls; every method is optional."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None: ...


def _n_features(model: Layer) -> int | None:
    return model.in_features if isinstance(model, Sequential) else None


def _n_classes(model: Layer) -> int:
    if isinstance(model, Sequential):
        return model.out_features
    raise TypeError(f"model must be a Sequential, got {type(model).__name__}")


def _check_parts(model: Layer, loss: Any, optimizer: Any) -> None:
    """The loss and optimiser are instances, and the optimiser updates this model's parameters."""
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a Loss instance (e.g. SoftmaxCrossEntropy()), got {loss!r}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an Optimizer instance (e.g. SGD(...)), got {optimizer}")
    updated = {id(p) for p in optimizer.params}
    missing = sum(id(p) not in updated for p in model.parameters())
    if missing:
        raise ValueError(
            f"optimizer does not update {missing} of the model's {len(model.parameters())} "
            "parameters: build it over model.parameters() of this model"
        )


def _model_dtype(model: Layer) -> np.dtype:
    params = model.parameters()
    return params[0].data.dtype if params else np.dtype(np.float32)


def fit(
    model: Layer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    loss: Loss,
    optimizer: Optimizer,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    rng: np.random.Generator | None = None,
    verbose: int = 1,
    lr_schedule: str | Schedule | None = None,
    callbacks: Sequence[Any] = (),
    state: FitState | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` on ``(x, y)`` with shuffled mini-batches.

    Args:
        model: a :class:`Sequential` whose output has one column per class.
        x: features, shape ``(N, in_features)``; cast to the model's dtype.
        y: integer class labels, shape ``(N,)``.
        loss: a :class:`~bareprop.nn.losses.Loss` (e.g. ``SoftmaxCrossEntropy()``).
        optimizer: built over ``model.parameters()``.
        epochs: passes over the data.
        batch_size: samples per step; the last batch of an epoch may be smaller.
        validation_data: ``(x_val, y_val)`` evaluated after every epoch.
        rng: ``numpy.random.Generator`` for the shuffling (a fresh unseeded one if None).
        verbose: 0 silent; 1 a progress bar within each epoch and a line per epoch.
        lr_schedule: ``"constant"``, ``"linear"``, ``"cosine"`` or a callable
            ``(step, total_steps) -> factor`` applied to the optimiser's initial ``lr``.
        callbacks: objects whose ``on_epoch_end(epoch, logs)`` is called after each epoch.
        state: a :class:`~bareprop.train.checkpoint.FitState` to continue from (e.g. read from a
            checkpoint) and to keep up to date, so that a callback can checkpoint it. ``epochs``
            counts from the start of the run, as Keras' ``initial_epoch`` does.

    Returns:
        ``{"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}``, one value per epoch
        (the ``val_`` lists are empty without validation data). ``loss`` is the average over
        the epoch's batches, per sample; ``accuracy`` is measured on the training batches as
        they were seen (with dropout active), as Keras does. Per-layer statistics per epoch
        (gradient norm, update-to-weight ratio, dead or saturated units; see
        :mod:`bareprop.train.doctor`) go to ``state.diagnostics`` when a ``state`` is passed.

    Raises:
        TrainingDiverged: the loss or a gradient became NaN or infinite; the message names the
            step and the layer, and the model keeps its last finite weights.
        TrainingInterrupted: Ctrl-C (SIGINT); raised after the current step, with ``.state``.
    """
    check_positive(epochs, "epochs", integer=True)
    check_positive(batch_size, "batch_size", integer=True)
    n_classes = _n_classes(model)
    x = check_features(x, "x", n_features=_n_features(model))
    y = check_labels(y, n_classes, "y", n_samples=len(x))
    if len(x) == 0:
        raise ValueError("x is empty: there is nothing to train on")
    dtype = _model_dtype(model)
    x = x.astype(dtype, copy=False)
    rng = check_rng(rng)
    _check_parts(model, loss, optimizer)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError(
                "validation_data must be a pair (x_val, y_val), "
                f"got {type(validation_data).__name__}"
            )
        x_val, y_val = validation_data
        x_val = check_features(x_val, "validation x", n_features=_n_features(model)).astype(
            dtype, copy=False
        )
        y_val = check_labels(y_val, n_classes, "validation y", n_samples=len(x_val))
    schedule = get_schedule(lr_schedule)
    state = state if state is not None else FitState()
    if state.base_lr is None:
        state.base_lr = optimizer.lr
    base_lr = state.base_lr
    n = len(x)
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = epochs * steps_per_epoch
    reporter = _reporter(verbose, epochs, steps_per_epoch)

    history = state.history
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds"):
        history.setdefault(key, [])
    doctor = Doctor(model, x)
    x_batch = np.empty((min(batch_size, n), x.shape[1]), dtype)  # reused by every step
    step = state.step
    try:
        with deferred_sigint() as stop, fast_training(model):
            for epoch in range(state.epoch, epochs):
                start_time = time.perf_counter() - state.seconds
                model.train()
                if state.batch and state.shuffle_state is not None:
                    rng.bit_generator.state = state.shuffle_state  # resumed mid-epoch: same order
                else:
                    state.shuffle_state = dict(rng.bit_generator.state)
                order = rng.permutation(n)
                loss_sum, correct = state.loss_sum, state.correct
                doctor.start_epoch()
                reporter.start_epoch(epoch, completed=state.batch)  # resumed mid-epoch: > 0
                for start in range(state.batch * batch_size, n, batch_size):
                    idx = order[start : start + batch_size]
                    xb, yb = np.take(x, idx, axis=0, out=x_batch[: len(idx)], mode="clip"), y[idx]
                    out = model.forward(xb)
                    batch_loss = loss.forward(out, yb)
                    if not math.isfinite(batch_loss):
                        doctor.check_loss(batch_loss, epoch, step, xb)
                    model.backward(loss.backward())
                    doctor.check_gradients(epoch, step)  # before the step: weights stay good
                    if start + batch_size >= n:
                        doctor.before_last_step()
                    optimizer.lr = base_lr * schedule(step, total_steps)
                    optimizer.step()
                    step += 1
                    loss_sum += batch_loss * len(idx) if loss.reduction == "mean" else batch_loss
                    correct += int(np.count_nonzero(out.argmax(axis=1) == yb))
                    reporter.advance()
                    if stop.requested and start + batch_size < n:  # Ctrl-C: stop after this step
                        state.epoch, state.batch, state.step = epoch, start // batch_size + 1, step
                        state.loss_sum, state.correct = loss_sum, correct
                        state.seconds = time.perf_counter() - start_time
                        raise TrainingInterrupted(state)
                logs = {"loss": loss_sum / n, "accuracy": correct / n}
                if validation_data is not None:
                    val = evaluate(model, x_val, y_val, loss=loss)
                    logs["val_loss"], logs["val_accuracy"] = val["loss"], val["accuracy"]
                logs["seconds"] = time.perf_counter() - start_time
                for key, value in logs.items():
                    history[key].append(value)
                for key, value in doctor.epoch_stats().items():
                    state.diagnostics.setdefault(key, []).append(value)
                state.epoch, state.batch, state.step, state.shuffle_state = epoch + 1, 0, step, None
                state.loss_sum, state.correct, state.seconds = 0.0, 0, 0.0
                reporter.end_epoch(epoch, logs)
                for callback in callbacks:
                    if hasattr(callback, "on_epoch_end"):
                        callback.on_epoch_end(epoch, logs)
                if stop.requested and epoch + 1 < epochs:  # Ctrl-C at the epoch's last step
                    raise TrainingInterrupted(state)
    finally:
        optimizer.lr = base_lr
        reporter.close()
    model.eval()
    return history


def _outputs(model: Layer, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's outputs for all of ``x``, in eval mode, batch by batch."""
    check_positive(batch_size, "batch_size", integer=True)
    x = check_features(x, "x", n_features=_n_features(model)).astype(
        _model_dtype(model), copy=False
    )
    was_training = model.training
    model.eval()
    try:
        layers = getattr(model, "layers", [model])
        with reused_buffers(layers), fused_relus(layers):  # allocate once; fewer passes
            starts = range(0, len(x), batch_size)
            chunks = [model.forward(x[i : i + batch_size]).copy() for i in starts]
    finally:
        if was_training:
            model.train()
    if not chunks:
        return np.zeros((0, _n_classes(model)), dtype=_model_dtype(model))
    return np.concatenate(chunks)


def evaluate(
    model: Layer, x: np.ndarray, y: np.ndarray, *, loss: Loss | None = None, batch_size: int = 2048
) -> dict[str, float]:
    """Loss (if a ``loss`` is given) and accuracy of ``model`` on ``(x, y)``, in eval mode.

    Returns:
        ``{"accuracy": fraction correct, "loss": per-sample loss (NaN without a loss)}``.
    """
    out = _outputs(model, x, batch_size)
    y = check_labels(y, out.shape[1], "y", n_samples=len(out))
    result = {"accuracy": float(np.mean(out.argmax(axis=1) == y)) if len(y) else float("nan")}
    result["loss"] = float("nan")
    if loss is not None and len(y):
        value = loss.forward(out, y)
        result["loss"] = value if loss.reduction == "mean" else value / len(y)
    return result


def predict_proba(model: Layer, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
    """Class probabilities, shape ``(N, classes)``.

    For a model that ends in logits this is their softmax. For one that ends in a Sigmoid
    (trained with squared error, as some notebooks do) the outputs are normalised to sum to 1.
    """
    out = _outputs(model, x, batch_size)
    last = model.layers[-1] if isinstance(model, Sequential) else None
    if isinstance(last, Sigmoid):
        total = out.sum(axis=1, keepdims=True)
        return out / np.where(total > 0, total, 1)
    return softmax(out)


def predict(model: Layer, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
    """Predicted class per sample, shape ``(N,)``."""
    return _outputs(model, x, batch_size).argmax(axis=1)


class _Silent:
    def start_epoch(self, epoch: int, completed: int = 0) -> None: ...
    def advance(self) -> None: ...
    def end_epoch(self, epoch: int, logs: dict[str, float]) -> None: ...
    def close(self) -> None: ...


def _reporter(verbose: int, epochs: int, steps: int) -> Any:
    if not verbose:
        return _Silent()
    from bareprop.show.progress import (
        EpochReporter,  # rich is imported only when something is shown
    )

    return EpochReporter(epochs, steps)
