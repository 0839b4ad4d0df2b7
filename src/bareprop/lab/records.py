"""An experiment's runs on disk: one row of ``results.csv`` and one history per run.

A :class:`RunRecord` is one job trained with one seed: its per-epoch history and its row (the
configuration, the seed, the job's options flattened to cells, the metrics of
:func:`run_metrics` and the notebook's reported figure, if any). :func:`save_records` writes
``results.csv`` and ``histories.json``; :func:`load_records` reads them back.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.files.atomic import atomic_write, write_text
from bareprop.lab.presets import Job
from bareprop.lab.trained import EpochHook, Trained

HISTORIES = "histories.json"
METRICS = [
    "test_accuracy",
    "best_test_accuracy",
    "best_epoch",
    "epochs_run",
    "seconds_per_epoch",
    "seconds_total",
    "target",
    "seconds_to_target",
]


def run_metrics(history: dict[str, list[float]], target: float) -> dict[str, Any]:
    """Final and best test accuracy, epoch of best (1-based), timing, seconds to ``target``."""
    acc, secs = history["test_accuracy"], history["seconds"]
    best = int(np.argmax(acc))
    cumulative = np.cumsum(secs)
    reached = [i for i, a in enumerate(acc) if a >= target]
    return {
        "test_accuracy": acc[-1],
        "best_test_accuracy": acc[best],
        "best_epoch": best + 1,
        "epochs_run": len(acc),
        "seconds_per_epoch": float(cumulative[-1] / len(secs)),
        "seconds_total": float(cumulative[-1]),
        "target": target,
        "seconds_to_target": float(cumulative[reached[0]]) if reached else None,
    }


@dataclass
class RunRecord:
    job: Job
    seed: int
    history: dict[str, list[float]]
    row: dict[str, Any]


def make_record(job: Job, seed: int, history: dict[str, list[float]], target: float) -> RunRecord:
    """The record of one run: its row is config, seed, options, metrics, reported figure."""
    row = {"config": job.config, "seed": seed, **_flat(job.options)}
    row.update(run_metrics(history, target))
    if job.reported is not None:
        row["reported"] = job.reported
    return RunRecord(job, seed, history, row)


def save_records(out_dir: Path, records: list[RunRecord]) -> None:
    """Rewrite ``out_dir/results.csv`` and ``out_dir/histories.json`` with ``records``."""
    write_csv(out_dir / "results.csv", [r.row for r in records])
    histories = [{"config": r.job.config, "seed": r.seed, "history": r.history} for r in records]
    write_text(out_dir / HISTORIES, json.dumps(histories) + "\n")


def load_records(out_dir: Path, jobs: list[Job]) -> list[RunRecord]:
    """The runs an experiment folder holds (``results.csv`` and ``histories.json``), matched to
    ``jobs`` by configuration name, so that its summary and report can be rebuilt."""
    by_name = {j.config: j for j in jobs}
    with open(out_dir / "results.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    histories = json.loads((out_dir / HISTORIES).read_text(encoding="utf-8"))
    records = []
    for row, entry in zip(rows, histories, strict=True):
        job = by_name.get(row["config"]) or Job(row["config"], {}, _no_run)
        for key in METRICS:
            if key in row:
                row[key] = float(row[key]) if row[key] != "" else None
        records.append(RunRecord(job, int(row["seed"]), entry["history"], dict(row)))
    return records


def _no_run(seed: int, on_epoch: EpochHook) -> Trained:
    raise ValueError("this configuration is only known from a results file")


def _flat(options: dict[str, Any]) -> dict[str, Any]:
    return {k: " ".join(map(str, v)) if isinstance(v, list) else v for k, v in options.items()}


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows with the union of their keys as columns: config, seed, options..., metrics."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns and k not in METRICS and k != "reported"]
    columns += [m for m in [*METRICS, "reported"] if any(m in r for r in rows)]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    atomic_write(path, lambda f: f.write(out.getvalue().encode("utf-8")))


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value
