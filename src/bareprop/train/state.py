"""Where a training run is: :class:`FitState`, and stopping it cleanly on Ctrl-C.

``fit`` keeps a :class:`FitState` up to date; a checkpoint saves it, and ``fit(state=...)``
continues from it. The first Ctrl-C only asks ``fit`` to stop after the current step
(:func:`deferred_sigint`), which then raises :class:`TrainingInterrupted`.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bareprop.validation import check_int, check_positive, check_range, show


@dataclass
class FitState:
    """Where :func:`bareprop.fit` is; with the weights, optimiser and generators, all it needs.

    Attributes:
        epoch: the epoch in progress or next, counted from 0.
        batch: batches of that epoch already done (0 at an epoch boundary).
        step: optimiser steps done in the whole run.
        loss_sum, correct, seconds: the running sums of the epoch in progress.
        shuffle_state: the shuffle generator's state before this epoch's permutation, so that
            a run resumed mid-epoch draws the same order again.
        base_lr: the optimiser's learning rate before any schedule factor.
        history: the per-epoch lists ``fit`` returns.
        diagnostics: per-epoch, per-layer statistics from :class:`bareprop.train.doctor.Doctor`.
    """

    epoch: int = 0
    batch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seconds: float = 0.0
    shuffle_state: dict[str, Any] | None = None
    base_lr: float | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    diagnostics: dict[str, list[float]] = field(default_factory=dict)

    def check(self, *, epochs: int, steps_per_epoch: int) -> None:
        """Refuse a state ``fit(epochs=epochs)`` cannot continue from, naming the field.

        Counts are integers >= 0; ``epoch`` at most ``epochs``; a state in the middle of an
        epoch (``batch > 0``) has fewer batches done than the epoch has, and the shuffle state
        it was saved with (a ``FitState`` from a checkpoint has it; one made up does not, and
        its running sums would not cover the batches it skips).
        """
        for name in ("epoch", "batch", "step", "correct"):
            check_int(getattr(self, name), f"state.{name}", minimum=0)
        for name in ("loss_sum", "seconds"):
            check_range(getattr(self, name), f"state.{name}", 0.0, math.inf)
        if self.base_lr is not None:
            check_positive(self.base_lr, "state.base_lr")
        if self.epoch > epochs:
            raise ValueError(f"state.epoch is {self.epoch}, past the run's epochs={epochs}")
        if self.batch >= steps_per_epoch:
            raise ValueError(
                f"state.batch is {self.batch}, but an epoch has {steps_per_epoch} batches"
            )
        if self.batch and not isinstance(self.shuffle_state, dict):
            raise ValueError(
                f"state.batch is {self.batch} but state.shuffle_state is "
                f"{show(self.shuffle_state)}: a run resumed mid-epoch needs the shuffle state "
                "and running sums it was saved with (a FitState from a checkpoint)"
            )
        for name in ("history", "diagnostics"):
            kind = type(getattr(self, name)).__name__
            if kind != "dict":
                raise TypeError(f"state.{name} must be a dict of lists, got {kind}")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``: the current step was finished; ``state`` says where it stopped."""

    def __init__(self, state: FitState) -> None:
        super().__init__(f"interrupted at epoch {state.epoch + 1}, after batch {state.batch}")
        self.state = state


class _StopFlag:
    requested = False


@contextmanager
def deferred_sigint() -> Iterator[_StopFlag]:
    """While inside, the first Ctrl-C only sets ``flag.requested``; a second one interrupts.

    Only in the main thread and only if nobody else handles SIGINT; elsewhere it is a no-op.
    """
    flag = _StopFlag()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        flag.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C is immediate

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
