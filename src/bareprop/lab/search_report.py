"""A random search's results: its trials ranked in ``results.md`` and the report's figure of
accuracy against each sampled option (:mod:`bareprop.show.search_plots`)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bareprop.lab.records import RunRecord
from bareprop.lab.summary import pct

FIGURE = "accuracy_vs_hyperparameters.png"


def _by_trial(records: list[RunRecord]) -> dict[str, list[RunRecord]]:
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        groups.setdefault(r.row["config"], []).append(r)
    return groups


def best_trials(records: list[RunRecord], searched: dict[str, str], top: int = 10) -> str:
    """Markdown: the ``top`` trials by mean final test accuracy over seeds, with their draws."""
    groups = _by_trial(records)
    mean = {
        name: statistics.fmean(r.row["test_accuracy"] for r in rs) for name, rs in groups.items()
    }
    ranked = sorted(groups, key=lambda name: -mean[name])[:top]
    header = ["rank", "trial", "test accuracy (mean)", *searched]
    lines = [
        f"## Random search: the {len(ranked)} best of {len(groups)} trials\n",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for k, name in enumerate(ranked, 1):
        row = groups[name][0].row
        cells = [str(k), name, pct(mean[name]), *(str(row.get(p, "")) for p in searched)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_figures(out: Path, records: list[RunRecord], searched: dict[str, str]) -> dict[str, Path]:
    """Draw ``out/accuracy_vs_hyperparameters.png``; returns ``{caption: path}`` for the report."""
    from bareprop.show.search_plots import save_accuracy_vs_params

    groups = _by_trial(records)
    best = max(groups, key=lambda n: statistics.fmean(r.row["test_accuracy"] for r in groups[n]))
    values = {p: [_number(r.row.get(p), scale) for r in records] for p, scale in searched.items()}
    save_accuracy_vs_params(
        values,
        [r.row["test_accuracy"] for r in records],
        searched,
        out / FIGURE,
        best=[r.row["config"] == best for r in records],
    )
    return {"test accuracy against each sampled option (every run; star: best trial)": out / FIGURE}


def _number(value: Any, scale: str) -> Any:
    """A cell as drawn (a results.csv read back holds strings)."""
    return value if scale == "choice" else float(value)
