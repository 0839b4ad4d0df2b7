"""The training loop: ``fit``.

``fit`` reads top to bottom: shuffle the indices, slice a batch, forward, loss, backward,
step, record. It returns a history, a dict of per-epoch lists. Its steps run through a
:class:`~bareprop.fast.plan.Plan` (the same numbers as the layers' own ``forward`` and
``backward``, with fewer passes over memory); the helpers below do the rest: the argument
checks (all before the first step), the bookkeeping of an epoch, and resuming.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from bareprop.fast.plan import Plan
from bareprop.nn import Layer
from bareprop.nn.losses import Loss
from bareprop.optim import Optimizer
from bareprop.optim.schedules import Schedule, get_schedule
from bareprop.train.doctor import Doctor
from bareprop.train.doctor import TrainingDiverged as TrainingDiverged  # re-exported
from bareprop.train.early_stopping import EarlyStopping
from bareprop.train.fit_checks import check_callbacks, check_parts, checked_validation
from bareprop.train.predict import check_inputs, evaluate
from bareprop.train.predict import predict as predict  # re-exported
from bareprop.train.predict import predict_proba as predict_proba  # re-exported
from bareprop.train.state import FitState, TrainingInterrupted, deferred_sigint
from bareprop.validation import MAX_COUNT, check_labels, check_positive, check_rng, is_int, show

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")


class Callback(Protocol):
    """What ``fit`` calls; every method is optional."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None: ...


@dataclass
class _Run:
    """Everything ``fit`` checked, ready to train with."""

    x: np.ndarray
    y: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None
    schedule: Schedule
    rng: np.random.Generator
    state: FitState
    steps_per_epoch: int
    total_steps: int


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
    augment: Callable[[np.ndarray, int], np.ndarray] | None = None,
    early_stopping: EarlyStopping | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` on ``(x, y)`` with shuffled mini-batches.

    Args:
        model: a layer (typically a :class:`Sequential`) whose output has one column per class.
        x: features, shape ``(N, *model.input_shape())``; cast to the model's dtype.
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
        callbacks: objects whose ``on_epoch_end(epoch, logs)`` is called after each epoch
            (an object without it, a plain function say, is refused before the first step).
        state: a :class:`~bareprop.train.state.FitState` to continue from (e.g. read from a
            checkpoint) and to keep up to date, so that a callback can checkpoint it. ``epochs``
            counts from the start of the run, as Keras' ``initial_epoch`` does.
        augment: ``(batch, step) -> batch``, applied to each training batch before its forward
            pass (e.g. random shifts of the images); ``step`` counts optimiser steps from the
            start of the run, so a resumed run can draw the same as an uninterrupted one.
        early_stopping: an :class:`~bareprop.train.early_stopping.EarlyStopping`: stop once the
            validation loss has not improved for its ``patience`` epochs, with the best
            epoch's weights (needs ``validation_data``). It says where it stopped.

    Returns:
        ``{"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}``, one value per epoch
        (the ``val_`` lists are empty without validation data). ``loss`` is the average over
        the epoch's samples of each sample's loss, the sum over its outputs (the one definition
        ``evaluate`` uses, see :mod:`bareprop.nn.losses`); ``accuracy`` is measured on the
        training batches as they were seen (with dropout active), as Keras does. Per-layer
        statistics per epoch (gradient norm, update-to-weight ratio, dead or saturated units;
        see :mod:`bareprop.train.doctor`) go to ``state.diagnostics`` when a ``state`` is passed.

    Raises:
        TrainingDiverged: the loss or a gradient became NaN or infinite; the message names the
            step and the layer, and the model keeps its last finite weights.
        TrainingInterrupted: Ctrl-C (SIGINT); raised after the current step, with ``.state``.
        ValueError / TypeError: an argument is wrong (checked before the first step), or the
            schedule gave a factor that is not a finite number >= 0 (naming the step). Whatever
            fails, the model is left in the train/eval mode ``fit`` found it in.
    """
    run = _checked(model, x, y, loss, optimizer, epochs, batch_size, validation_data, rng,
                   lr_schedule, callbacks, state)  # fmt: skip
    _check_hooks(augment, early_stopping, run)
    state = run.state
    plan = Plan(model, loss, optimizer)
    doctor = Doctor(model, run.x, all_finite=plan.all_finite)
    reporter = _reporter(verbose, epochs, run.steps_per_epoch)
    base_lr = state.base_lr = optimizer.lr if state.base_lr is None else state.base_lr
    restore_modes = model.saved_modes()  # put back if fit fails: a normal end is eval mode
    try:
        with deferred_sigint() as stop:
            for epoch in range(state.epoch, epochs):
                start_time = time.perf_counter() - state.seconds
                model.train()
                order = _epoch_order(run)
                doctor.start_epoch()
                reporter.start_epoch(epoch, completed=state.batch)  # resumed mid-epoch: > 0
                for start in range(state.batch * batch_size, len(order), batch_size):
                    idx = order[start : start + batch_size]
                    xb, yb = plan.take(run.x, idx), run.y[idx]
                    if augment is not None:
                        xb = augment(xb, state.step)
                    out = plan.forward(xb)
                    batch_loss = plan.loss_forward(out, yb)
                    if not math.isfinite(batch_loss):
                        doctor.check_loss(batch_loss, epoch, state.step, xb)
                    plan.backward()
                    doctor.check_gradients(epoch, state.step)  # before the step: weights stay
                    if start + batch_size >= len(order):
                        doctor.before_last_step()
                    optimizer.lr = base_lr * run.schedule(state.step, run.total_steps)
                    plan.step()
                    _record_step(state, loss, batch_loss, len(idx), out, yb)
                    reporter.advance()
                    if stop.requested and start + batch_size < len(order):  # Ctrl-C
                        state.batch = start // batch_size + 1
                        state.seconds = time.perf_counter() - start_time
                        raise TrainingInterrupted(state)
                logs = _end_epoch(model, loss, run, doctor, start_time)
                reporter.end_epoch(epoch, logs)
                stopping = early_stopping is not None and early_stopping.update(
                    epoch, logs["val_loss"], model
                )
                for callback in callbacks:
                    if hasattr(callback, "on_epoch_end"):
                        callback.on_epoch_end(epoch, logs)
                if stopping:
                    break
                if stop.requested and epoch + 1 < epochs:  # Ctrl-C at the epoch's last step
                    raise TrainingInterrupted(state)
    except BaseException:
        restore_modes()
        raise
    finally:
        optimizer.lr = base_lr
        reporter.close()
    model.eval()
    return state.history


def _check_hooks(augment: Any, early_stopping: Any, run: _Run) -> None:
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be a function (batch, step) -> batch, got {augment!r}")
    if early_stopping is not None:
        if not isinstance(early_stopping, EarlyStopping):
            raise TypeError(f"early_stopping must be an EarlyStopping, got {early_stopping!r}")
        if run.validation is None:
            raise ValueError("early_stopping needs validation_data to watch")


def _record_step(
    state: FitState, loss: Loss, value: float, n: int, out: np.ndarray, y: np.ndarray
) -> None:
    """Add a step's loss (per sample, summed) and correct predictions to the running sums."""
    state.step += 1
    state.loss_sum += loss.sample_sum(value, out.shape)
    state.correct += int(np.count_nonzero(out.argmax(axis=1) == y))


def _epoch_order(run: _Run) -> np.ndarray:
    """This epoch's shuffled indices; a run resumed mid-epoch draws the same order again."""
    state, rng = run.state, run.rng
    if state.batch and state.shuffle_state is not None:
        rng.bit_generator.state = state.shuffle_state
    else:
        state.shuffle_state = dict(rng.bit_generator.state)
    return rng.permutation(len(run.x))


def _end_epoch(
    model: Layer, loss: Loss, run: _Run, doctor: Doctor, start_time: float
) -> dict[str, float]:
    """The epoch's logs (validation included), appended to the history; the state moved on."""
    state, n = run.state, len(run.x)
    logs = {"loss": state.loss_sum / n, "accuracy": state.correct / n}
    if run.validation is not None:
        val = evaluate(model, *run.validation, loss=loss)
        logs["val_loss"], logs["val_accuracy"] = val["loss"], val["accuracy"]
    logs["seconds"] = time.perf_counter() - start_time
    for key, value in logs.items():
        state.history[key].append(value)
    for key, value in doctor.epoch_stats().items():
        state.diagnostics.setdefault(key, []).append(value)
    state.epoch, state.batch, state.shuffle_state = state.epoch + 1, 0, None
    state.loss_sum, state.correct, state.seconds = 0.0, 0, 0.0
    return logs


def _checked(
    model: Any, x: Any, y: Any, loss: Any, optimizer: Any, epochs: Any, batch_size: Any,
    validation_data: Any, rng: Any, lr_schedule: Any, callbacks: Any, state: Any,
) -> _Run:  # fmt: skip
    """Every argument of ``fit`` checked (naming what is wrong), before the first step."""
    if not isinstance(model, Layer):
        raise TypeError(f"model must be a Layer (e.g. a Sequential), got {type(model).__name__}")
    check_positive(epochs, "epochs", integer=True)
    check_positive(batch_size, "batch_size", integer=True)
    x, n_classes = check_inputs(model, x, "x")
    y = check_labels(y, n_classes, "y", n_samples=len(x))
    if len(x) == 0:
        raise ValueError("x is empty: there is nothing to train on")
    check_parts(model, loss, optimizer)
    validation = None if validation_data is None else checked_validation(model, validation_data)
    check_callbacks(callbacks)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    if epochs * steps_per_epoch > MAX_COUNT:
        raise ValueError(
            f"epochs={show(epochs)} makes {epochs * steps_per_epoch} steps, more than 2**53 "
            "(a schedule's step / total_steps would not be exact)"
        )
    if state is not None and not isinstance(state, FitState):
        raise TypeError(f"state must be a FitState or None, got {type(state).__name__}")
    state = FitState() if state is None else state
    state.check(epochs=int(epochs), steps_per_epoch=steps_per_epoch)
    for key in HISTORY_KEYS:
        state.history.setdefault(key, [])
    return _Run(x, y, validation, get_schedule(lr_schedule), check_rng(rng), state,
                steps_per_epoch, int(epochs) * steps_per_epoch)  # fmt: skip


class _Silent:
    def start_epoch(self, epoch: int, completed: int = 0) -> None: ...
    def advance(self) -> None: ...
    def end_epoch(self, epoch: int, logs: dict[str, float]) -> None: ...
    def close(self) -> None: ...


def _reporter(verbose: int, epochs: int, steps: int) -> Any:
    if not (isinstance(verbose, bool) or (is_int(verbose) and 0 <= verbose <= 2)):
        raise ValueError(f"verbose must be 0 (silent) or 1 (progress), got {show(verbose)}")
    if not verbose:
        return _Silent()
    from bareprop.train.progress import (
        EpochReporter,  # rich is imported only when something is shown
    )

    return EpochReporter(epochs, steps)
