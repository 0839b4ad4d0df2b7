"""Where an experiment's runs go: this process, a pool of local processes, or a Dask cluster.

A *plan* lists the runs of an experiment, ``(job index, job, seed)`` each. A runner takes it and
yields ``(index in plan, history)`` as runs finish, in any order; :func:`run_jobs
<bareprop.lab.experiment.run_jobs>` turns them into rows. Wherever a run goes, it goes through
:func:`execute`, which trains and writes the run's folder (``run.json``) on the machine that ran
it. :class:`InProcess` and :class:`LocalProcesses` are here; the Dask runner is
:class:`bareprop.lab.distributed.DaskCluster`.

A :class:`JobRunner` runs plans (a job's own ``run`` function is a
:data:`~bareprop.lab.presets.Runner`). Jobs hold closures, which do not pickle, so a runner that
leaves this process sends a picklable ``rebuild`` function instead, and each worker builds the
jobs for itself once (:func:`jobs_for`).
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bareprop.files.atomic import write_text
from bareprop.lab.presets import Job
from bareprop.lab.trained import EpochHook

Plan = list[tuple[int, Job, int]]
History = dict[str, list[float]]
Rebuild = Callable[[], list[Job]]


class JobRunner(Protocol):
    """Runs a plan; yields ``(index in plan, history)`` once per run, as runs finish."""

    def histories(
        self, plan: Plan, show: Any, out_dir: Path | None
    ) -> Iterator[tuple[int, History]]: ...  # pragma: no cover


def run_dir(out_dir: Path, config: str, seed: int) -> Path:
    """``out_dir/runs/<config>/seed-<seed>``: a run's own folder (``/`` and odd characters in
    the configuration name become ``_``)."""
    safe = re.sub(r"[^A-Za-z0-9._=,+-]", "_", config)
    return Path(out_dir) / "runs" / safe / f"seed-{seed}"


def execute(job: Job, seed: int, hook: EpochHook, out_dir: Path | None, ran_on: str) -> History:
    """Train ``job`` with ``seed``; write ``run.json`` (configuration, seed, options, history,
    where it ran) into its :func:`run_dir`; return the per-epoch history."""
    history = job.run(seed, hook).history
    if out_dir is not None:
        folder = run_dir(out_dir, job.config, seed)
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            "config": job.config,
            "seed": seed,
            "options": job.options,
            "ran_on": ran_on,
            "history": history,
        }
        write_text(folder / "run.json", json.dumps(record, indent=1, default=str) + "\n")
    return history


def here() -> str:
    """``host pid N``: this process, for ``run.json``'s ``ran_on``."""
    return f"{socket.gethostname()} pid {os.getpid()}"


class InProcess:
    """One run after the other in this process; the display sees every epoch."""

    def histories(
        self, plan: Plan, show: Any, out_dir: Path | None
    ) -> Iterator[tuple[int, History]]:
        for i, (_, job, seed) in enumerate(plan):
            if show is not None:
                show.start(i, len(plan), job, seed)
            hook = (lambda epoch, logs: show.epoch()) if show is not None else None
            yield i, execute(job, seed, hook, out_dir, here())


@dataclass(frozen=True)
class Task:
    """One run, as it travels to a worker: the job by index and name, the seed, the folder."""

    i: int
    j: int
    config: str
    seed: int
    out_dir: str | None


def tasks(plan: Plan, out_dir: Path | None) -> list[Task]:
    folder = str(Path(out_dir).resolve()) if out_dir is not None else None
    return [Task(i, j, job.config, seed, folder) for i, (j, job, seed) in enumerate(plan)]


_BUILT: dict[str, list[Job]] = {}  # this worker's jobs, by experiment token
_LOCK = threading.Lock()


def jobs_for(token: str, rebuild: Rebuild) -> list[Job]:
    """The jobs of experiment ``token`` in this worker process, built on first use (a Dask
    worker runs tasks in threads and lives across experiments: keep the latest only)."""
    with _LOCK:
        if token not in _BUILT:
            _BUILT.clear()
            _BUILT[token] = rebuild()
        return _BUILT[token]


def run_task(token: str, rebuild: Rebuild, task: Task, ran_on: str) -> tuple[int, History]:
    """Run one :class:`Task` in a worker; checks that ``rebuild`` gave the client's jobs."""
    jobs = jobs_for(token, rebuild)
    if task.j >= len(jobs) or jobs[task.j].config != task.config:
        raise ValueError(
            f"rebuild gave other jobs than run_jobs was given: no {task.config!r} at {task.j}"
        )
    out_dir = Path(task.out_dir) if task.out_dir is not None else None
    return task.i, execute(jobs[task.j], task.seed, None, out_dir, ran_on)


def _pool_task(args: tuple[str, Rebuild, Task]) -> tuple[int, History]:
    token, rebuild, task = args
    return run_task(token, rebuild, task, here())


class LocalProcesses:
    """``workers`` runs at a time in spawned processes on this machine.

    "spawn", not "fork": forking copies the parent's threads' locks mid-use (rich's refresh
    thread, BLAS), which can deadlock a child; a spawned worker costs about 0.2 s to start.
    Give each process one BLAS thread (``OPENBLAS_NUM_THREADS=1``).
    """

    def __init__(self, workers: int, rebuild: Rebuild) -> None:
        if workers < 2:
            raise ValueError(f"LocalProcesses needs at least 2 workers, got {workers}")
        self.workers, self.rebuild = workers, rebuild

    def histories(
        self, plan: Plan, show: Any, out_dir: Path | None
    ) -> Iterator[tuple[int, History]]:
        import multiprocessing
        import uuid

        if show is not None:
            show.start(0, len(plan), plan[0][1], plan[0][2])
        token = uuid.uuid4().hex
        work = [(token, self.rebuild, t) for t in tasks(plan, out_dir)]
        with multiprocessing.get_context("spawn").Pool(self.workers) as pool:
            yield from pool.imap_unordered(_pool_task, work)
