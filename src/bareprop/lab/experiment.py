"""Experiments: a grid of training configurations (or a preset), each run with several seeds.

:func:`run_jobs` runs every :class:`~bareprop.lab.presets.Job` once per seed, in this process, in
a pool of worker processes or on a Dask cluster (the runners of :mod:`bareprop.lab.runners` and
:mod:`bareprop.lab.distributed`), and rewrites ``results.csv`` (one row per run) after each run,
so an interrupted experiment keeps what it finished. The parts live beside it and are re-exported
here: grid files and their jobs in :mod:`bareprop.lab.grid`, a run's row and the files that hold
them in :mod:`bareprop.lab.records`, the per-configuration mean and std over seeds
(:func:`summarize`) in :mod:`bareprop.lab.summary`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bareprop.lab.grid import Grid, grid_jobs, load_grid
from bareprop.lab.presets import Job
from bareprop.lab.records import (
    HISTORIES,
    METRICS,
    RunRecord,
    load_records,
    make_record,
    run_metrics,
    save_records,
    write_csv,
)
from bareprop.lab.runners import InProcess, JobRunner, LocalProcesses
from bareprop.lab.summary import Summary, differs, mean_curve, pct, pm, summarize

__all__ = [
    "DEFAULT_TARGET",
    "HISTORIES",
    "METRICS",
    "Grid",
    "InProcess",
    "JobRunner",
    "LocalProcesses",
    "RunRecord",
    "Summary",
    "differs",
    "grid_jobs",
    "load_grid",
    "load_records",
    "mean_curve",
    "pct",
    "pm",
    "run_jobs",
    "run_metrics",
    "summarize",
    "write_csv",
]

DEFAULT_TARGET = 0.97


def run_jobs(
    jobs: list[Job],
    seeds: list[int],
    *,
    target: float = DEFAULT_TARGET,
    out_dir: Path | None = None,
    show: Any = None,
    runner: JobRunner | None = None,
) -> list[RunRecord]:
    """Run every job with every seed; rewrite ``out_dir/results.csv`` after each run.

    Rows come in plan order (job by job, seed by seed) whichever runner runs them and in
    whatever order they finish, so results do not depend on the runner; each run also writes
    its own folder ``out_dir/runs/<config>/seed-<k>/`` where it runs (see
    :mod:`bareprop.lab.runners`).

    Args:
        runner: :class:`~bareprop.lab.runners.InProcess` (the default),
            :class:`~bareprop.lab.runners.LocalProcesses` or
            :class:`~bareprop.lab.distributed.DaskCluster`.
        show: a progress display with ``start(i, n, job, seed)``, ``epoch()`` and
            ``finish(record, i, n)`` (see :mod:`bareprop.cli.experiment`), or None.
    """
    plan = [(j, job, seed) for j, job in enumerate(jobs) for seed in seeds]
    records: list[RunRecord | None] = [None] * len(plan)
    if not plan:
        return []
    for i, history in (runner or InProcess()).histories(plan, show, out_dir):
        if records[i] is not None:
            continue  # a run is kept once, however often a cluster reports it
        _, job, seed = plan[i]
        records[i] = make_record(job, seed, history, target)
        if out_dir is not None:
            save_records(out_dir, [r for r in records if r is not None])
        if show is not None:
            show.finish(records[i], i, len(plan))
    return [r for r in records if r is not None]
