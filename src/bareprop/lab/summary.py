"""An experiment's runs per configuration: mean, spread and curve over seeds.

:func:`summarize` groups :class:`~bareprop.lab.records.RunRecord`s by configuration into
:class:`Summary` rows, which ``results.md``, ``report.html`` and the CLI's table show;
:func:`pct`, :func:`pm`, :func:`value_range` and :func:`seeds` are the formats they share,
:func:`differs` the test of a notebook's reported figure against our seed spread.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bareprop.lab.presets import Job
from bareprop.lab.records import RunRecord


@dataclass
class Summary:
    """One configuration over its seeds. Accuracies are fractions."""

    config: str
    n: int
    mean: float
    std: float
    low: float
    high: float
    best_mean: float
    seconds_per_epoch: float
    seconds_to_target: float | None
    reached: int
    job: Job | None = None
    curve: list[float] = field(default_factory=list)  # mean test accuracy per epoch


def mean_curve(histories: list[dict[str, list[float]]]) -> list[float]:
    """Mean test accuracy per epoch over runs, as long as the shortest run."""
    curves = [h.get("test_accuracy", []) for h in histories]
    length = min((len(c) for c in curves), default=0)
    return [statistics.fmean(c[i] for c in curves) for i in range(length)]


def summarize(records: list[RunRecord]) -> list[Summary]:
    """Mean, std (sample, 0 for one seed), range over seeds, per configuration, in run order."""
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        groups.setdefault(r.job.config, []).append(r)
    out = []
    for name, recs in groups.items():
        acc = [r.row["test_accuracy"] for r in recs]
        to_target = [
            r.row["seconds_to_target"] for r in recs if r.row["seconds_to_target"] is not None
        ]
        out.append(
            Summary(
                name,
                len(acc),
                statistics.fmean(acc),
                statistics.stdev(acc) if len(acc) > 1 else 0.0,
                min(acc),
                max(acc),
                statistics.fmean(r.row["best_test_accuracy"] for r in recs),
                statistics.fmean(r.row["seconds_per_epoch"] for r in recs),
                statistics.fmean(to_target) if to_target else None,
                len(to_target),
                recs[0].job,
                mean_curve([r.history for r in recs]),
            )
        )
    return out


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def pm(s: Summary) -> str:
    """``87.75 ± 0.31%`` (mean ± std over seeds); ``87.75%`` for one run: no spread to show."""
    if s.n == 1:
        return pct(s.mean)
    return f"{100 * s.mean:.2f} ± {100 * s.std:.2f}%"


def value_range(s: Summary) -> str:
    """``87.40% to 88.10%`` over seeds; ``one run`` when there is a single one."""
    return "one run" if s.n == 1 else f"{pct(s.low)} to {pct(s.high)}"


def seeds(n: int) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{n} seed" if n == 1 else f"{n} seeds"


def differs(s: Summary) -> bool:
    """Whether a notebook's reported figure lies outside our seed spread: further from our
    mean than twice the std over seeds (at least 0.1 percentage point)."""
    reported = s.job.reported if s.job is not None else None
    return reported is not None and abs(s.mean - reported) > max(2 * s.std, 0.001)
