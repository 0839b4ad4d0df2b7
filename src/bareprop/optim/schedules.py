"""Learning-rate schedules: the factor that multiplies the base learning rate at each step.

A schedule is a callable ``(step, total_steps) -> factor`` with ``step`` counted from 0.
:func:`bareprop.fit` sets ``optimizer.lr = base_lr * schedule(step, total_steps)`` before
every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Schedule = Callable[[int, int], float]


def constant(step: int, total_steps: int) -> float:
    """Factor 1 throughout."""
    return 1.0


def linear(step: int, total_steps: int) -> float:
    """From 1 down to 0 in a straight line: ``1 - step / total_steps``."""
    return 1.0 - step / total_steps


def cosine(step: int, total_steps: int) -> float:
    """Half a cosine from 1 down to 0: ``(1 + cos(pi * step / total_steps)) / 2``."""
    return 0.5 * (1.0 + math.cos(math.pi * step / total_steps))


SCHEDULES: dict[str, Schedule] = {"constant": constant, "linear": linear, "cosine": cosine}


def get_schedule(schedule: str | Schedule | None) -> Schedule:
    """A schedule by name (``constant``, ``linear``, ``cosine``), a callable, or None (constant)."""
    if schedule is None:
        return constant
    if callable(schedule):
        return schedule
    if schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")
    return SCHEDULES[schedule]


__all__ = ["SCHEDULES", "Schedule", "constant", "cosine", "get_schedule", "linear"]
