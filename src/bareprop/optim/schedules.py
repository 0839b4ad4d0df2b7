"""Learning-rate schedules: the factor that multiplies the base learning rate at each step.

A schedule is a callable ``(step, total_steps) -> factor`` with ``step`` counted from 0.
:func:`bareprop.fit` sets ``optimizer.lr = base_lr * schedule(step, total_steps)`` before
every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from bareprop.validation import finite_float, is_int

Schedule = Callable[[int, int], float]


def constant(step: int, total_steps: int) -> float:
    """Factor 1 throughout."""
    return 1.0


def linear(step: int, total_steps: int) -> float:
    """From 1 down to 0 in a straight line: ``1 - step / total_steps``."""
    return 1.0 - _fraction(step, total_steps)


def cosine(step: int, total_steps: int) -> float:
    """Half a cosine from 1 down to 0: ``(1 + cos(pi * step / total_steps)) / 2``."""
    return 0.5 * (1.0 + math.cos(math.pi * _fraction(step, total_steps)))


def _fraction(step: int, total_steps: int) -> float:
    """``step / total_steps`` for ``0 <= step <= total_steps``, ``total_steps >= 1`` (named
    otherwise; a few hundred nanoseconds a step)."""
    if not (is_int(step) and is_int(total_steps) and 0 <= step <= total_steps >= 1):
        raise ValueError(
            f"a schedule takes 0 <= step <= total_steps (integers, total_steps >= 1), got "
            f"step={step!r}, total_steps={total_steps!r}"
        )
    return step / total_steps


SCHEDULES: dict[str, Schedule] = {"constant": constant, "linear": linear, "cosine": cosine}


def get_schedule(schedule: str | Schedule | None) -> Schedule:
    """A schedule by name (``constant``, ``linear``, ``cosine``), a callable, or None (constant).

    A callable is wrapped in a :class:`CheckedSchedule`: a factor that is not a finite number
    ``>= 0`` (NaN, infinity, a negative number, a string) is a ``ValueError`` naming the step,
    instead of a learning rate that silently turns the weights into NaN.
    """
    if schedule is None:
        return constant
    if isinstance(schedule, str) and schedule in SCHEDULES:
        return SCHEDULES[schedule]
    if callable(schedule) and not isinstance(schedule, str):
        return schedule if isinstance(schedule, CheckedSchedule) else CheckedSchedule(schedule)
    raise ValueError(
        f"lr_schedule must be one of {', '.join(SCHEDULES)} or a function (step, total_steps) "
        f"-> factor; got {schedule!r}"
    )


class CheckedSchedule:
    """A user's schedule, whose every factor is checked (a few hundred nanoseconds a step)."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def __call__(self, step: int, total_steps: int) -> float:
        factor = self.schedule(step, total_steps)
        value = finite_float(factor)
        if value is None or value < 0:
            raise ValueError(
                f"lr_schedule returned {factor!r} at step {step} of {total_steps}: a factor "
                "must be a finite number >= 0"
            )
        return value


__all__ = [
    "SCHEDULES",
    "CheckedSchedule",
    "Schedule",
    "constant",
    "cosine",
    "get_schedule",
    "linear",
]
