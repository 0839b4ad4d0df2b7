"""The random search's figure: test accuracy against each sampled option. An edge module."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.ticker import PercentFormatter

from bareprop.show.plots import plt, save_figure


def save_accuracy_vs_params(
    values: Mapping[str, Sequence[Any]],
    accuracy: Sequence[float],
    scales: dict[str, str],
    path: Path,
    *,
    best: Sequence[bool] | None = None,
) -> None:
    """One panel per searched option: every run's final test accuracy against the value it drew.

    Args:
        values: option -> one value per run (numbers; any values for a ``choice`` option).
        accuracy: the runs' final test accuracies, fractions, in the same order.
        scales: option -> ``log``, ``linear`` or ``choice`` (categories, in order of first
            appearance).
        best: marks the runs of the best trial (drawn as red stars), or None.
    """
    names = list(values)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names) + 0.6, 3.4), squeeze=False)
    marked = list(best) if best is not None else [False] * len(accuracy)
    for ax, name in zip(axes[0], names, strict=True):
        xs: list[float | str] = list(values[name])
        if scales.get(name) == "choice":
            labels = sorted(dict.fromkeys(str(x) for x in xs), key=_order)
            ax.set_xticks(range(len(labels)), labels, fontsize=8)
            ax.set_xlim(-0.5, len(labels) - 0.5)
            xs = [float(labels.index(str(x))) for x in xs]
        elif scales.get(name) == "log":
            ax.set_xscale("log")
        plain = [(x, a) for x, a, m in zip(xs, accuracy, marked, strict=True) if not m]
        star = [(x, a) for x, a, m in zip(xs, accuracy, marked, strict=True) if m]
        ax.scatter([x for x, _ in plain], [a for _, a in plain], s=22, alpha=0.75)
        if star:
            ax.scatter([x for x, _ in star], [a for _, a in star], s=90, c="tab:red", marker="*",
                       label="best trial")  # fmt: skip
            if ax is axes[0][0]:
                ax.legend(fontsize=8, loc="lower right")
        ax.set_xlabel(name)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("final test accuracy (each run)")
    save_figure(fig, path)


def _order(label: str) -> tuple[int, float, str]:
    """Numbers by value, then anything else as it reads."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
