"""Experiments: a grid of training configurations (or a preset), each run with several seeds.

:func:`run_jobs` runs every :class:`~bareprop.lab.presets.Job` once per seed, in this process or in
a pool of worker processes, and rewrites ``results.csv`` (one row per run) after each run, so an
interrupted experiment keeps what it finished. The parts live beside it and are re-exported
here: grid files and their jobs in :mod:`bareprop.lab.grid`, a run's row and the files that hold
them in :mod:`bareprop.lab.records`, the per-configuration mean and std over seeds
(:func:`summarize`) in :mod:`bareprop.lab.summary`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from bareprop.lab.summary import Summary, differs, mean_curve, pct, pm, summarize

__all__ = [
    "DEFAULT_TARGET",
    "HISTORIES",
    "METRICS",
    "Grid",
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
    workers: int = 1,
    rebuild: Callable[[], list[Job]] | None = None,
) -> list[RunRecord]:
    """Run every job with every seed; rewrite ``out_dir/results.csv`` after each run.

    Args:
        workers: runs at a time; results do not depend on it. Give each process one BLAS thread
            (``OPENBLAS_NUM_THREADS=1``) when using several.
        rebuild: needed when ``workers > 1``: a picklable function (module-level, or a
            ``functools.partial`` of one) that returns ``jobs`` again. Each worker is a fresh
            "spawn" process that inherits nothing, and a job's ``run`` is often a closure that
            cannot be pickled, so each worker builds the jobs for itself.
        show: a progress display with ``start(i, n, job, seed)``, ``epoch()`` and
            ``finish(record, i, n)`` (see :mod:`bareprop.cli.experiment`), or None.
    """
    if workers > 1 and rebuild is None:
        raise ValueError(f"workers={workers} needs rebuild, a picklable function returning jobs")
    plan = [(j, job, seed) for j, job in enumerate(jobs) for seed in seeds]
    records: list[RunRecord | None] = [None] * len(plan)
    for i, history in _histories(plan, show, workers, rebuild):
        _, job, seed = plan[i]
        records[i] = make_record(job, seed, history, target)
        if out_dir is not None:
            save_records(out_dir, [r for r in records if r is not None])
        if show is not None:
            show.finish(records[i], i, len(plan))
    return [r for r in records if r is not None]


_JOBS: list[Job] = []  # a worker process's own jobs, built when it starts


def _start_worker(rebuild: Callable[[], list[Job]]) -> None:
    global _JOBS
    _JOBS = rebuild()


def _run_in_worker(task: tuple[int, int, str, int]) -> tuple[int, dict[str, list[float]]]:
    i, j, config, seed = task
    if j >= len(_JOBS) or _JOBS[j].config != config:
        raise ValueError(f"rebuild gave other jobs than run_jobs was given: no {config!r} at {j}")
    return i, _JOBS[j].run(seed, None).history


def _histories(
    plan: list[tuple[int, Job, int]],
    show: Any,
    workers: int,
    rebuild: Callable[[], list[Job]] | None,
) -> Iterator[tuple[int, dict[str, list[float]]]]:
    """``(index in plan, history)`` as runs finish: in order, or from a pool of processes."""
    if workers <= 1 or len(plan) <= 1:
        for i, (_, job, seed) in enumerate(plan):
            if show is not None:
                show.start(i, len(plan), job, seed)
            hook = (lambda epoch, logs: show.epoch()) if show is not None else None
            yield i, job.run(seed, hook).history
        return
    import multiprocessing

    # "spawn", not "fork": forking copies the parent's threads' locks mid-use (rich's refresh
    # thread, BLAS), which can deadlock a child; a spawned worker costs about 0.2 s to start.
    tasks = [(i, j, job.config, seed) for i, (j, job, seed) in enumerate(plan)]
    if show is not None:
        show.start(0, len(plan), plan[0][1], plan[0][2])
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, _start_worker, (rebuild,)) as pool:
        yield from pool.imap_unordered(_run_in_worker, tasks)
