"""Experiments: a grid of training configurations (or a preset), each run with several seeds.

A grid file is TOML: a ``[base]`` table of :class:`~bareprop.config.TrainConfig` options and a
``[grid]`` table of lists to sweep (their cartesian product); optional top-level ``seeds`` and
``target``::

    seeds = 3
    target = 0.97
    [base]
    hidden = [128]
    epochs = 3
    [grid]
    activation = ["relu", "tanh"]
    lr = [1e-3, 3e-3]

:func:`run_jobs` runs every configuration once per seed and writes ``results.csv`` (one row per
run) after each run, so an interrupted experiment keeps what it finished; :func:`summarize`
groups the rows per configuration (mean and std over seeds).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import statistics
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bareprop import notebooks as nb
from bareprop.config import TrainConfig
from bareprop.presets import Job, _FitHook
from bareprop.run import Data, build, load_data, seeded_rngs, write_text
from bareprop.serialization import atomic_write
from bareprop.training import fit

DEFAULT_TARGET = 0.97
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


@dataclass
class Grid:
    base: TrainConfig
    sweep: dict[str, list[Any]]
    seeds: int | None = None
    target: float | None = None

    def configs(self) -> list[tuple[str, TrainConfig]]:
        """Every point of the grid, named ``key=value,key=value`` (``base`` for an empty grid)."""
        keys = list(self.sweep)
        points = []
        for values in itertools.product(*(self.sweep[k] for k in keys)):
            change = dict(zip(keys, values, strict=True))
            config = TrainConfig.from_dict({**self.base.to_dict(), **change})
            name = ",".join(f"{k}={_fmt(v)}" for k, v in change.items()) or "base"
            points.append((name, config))
        return points


def _fmt(value: Any) -> str:
    return "-".join(map(str, value)) if isinstance(value, list) else str(value)


def load_grid(path: Path) -> Grid:
    """Parse a grid file; errors name the file and the offending key."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from None
    unknown = sorted(set(data) - {"base", "grid", "seeds", "target"})
    if unknown:
        raise ValueError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)}; expected base, grid, seeds, "
            f"target"
        )
    base, sweep = data.get("base", {}), data.get("grid", {})
    if not isinstance(base, dict) or not isinstance(sweep, dict):
        raise ValueError(f"{path}: [base] and [grid] must be tables")
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise ValueError(
                f"{path}: grid.{key} must be a non-empty list of values, got {values!r}"
            )
    try:
        base_config = TrainConfig.from_dict(base)
        grid = Grid(base_config, sweep, data.get("seeds"), data.get("target"))
        grid.configs()  # validates every point now, not after an hour of training
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None
    return grid


def grid_jobs(grid: Grid, *, limit: int | None = None, epochs_scale: float = 1.0) -> list[Job]:
    """One :class:`Job` per grid point; options are the full TrainConfig (less the seed)."""
    jobs = []
    for name, config in grid.configs():
        config = replace(config, epochs=max(1, round(config.epochs * epochs_scale)))
        options = {k: v for k, v in config.to_dict().items() if k != "seed"}
        jobs.append(Job(name, options, _config_runner(config, limit)))
    return jobs


def _config_runner(
    config: TrainConfig, limit: int | None
) -> Callable[[int, nb.EpochHook], nb.Trained]:
    def run(seed: int, on_epoch: nb.EpochHook) -> nb.Trained:
        cfg = replace(config, seed=seed).validate()
        rngs = seeded_rngs(seed)
        data = _limited(load_data(cfg, rngs["split"]), limit)
        model, loss, optimizer = build(cfg, data.x_train.shape[1], data.n_classes, rngs)
        rec = nb._Recorder(model, data.x_test, data.y_test, on_epoch)
        validation = (data.x_val, data.y_val) if len(data.x_val) else None
        history = fit(
            model,
            data.x_train,
            data.y_train,
            loss=loss,
            optimizer=optimizer,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            validation_data=validation,
            rng=rngs["shuffle"],
            verbose=0,
            lr_schedule=cfg.lr_schedule,
            callbacks=[_FitHook(rec)],
        )
        for key in ("seconds", "val_loss", "val_accuracy"):
            if history.get(key):
                rec.history[key] = history[key]
        return rec.done()

    return run


def _limited(data: Data, limit: int | None) -> Data:
    if limit is None:
        return data
    n_val = min(len(data.x_val), max(1, limit // 10)) if len(data.x_val) else 0
    return replace(
        data,
        x_train=data.x_train[:limit],
        y_train=data.y_train[:limit],
        x_val=data.x_val[:n_val],
        y_val=data.y_val[:n_val],
        x_test=data.x_test[:limit],
        y_test=data.y_test[:limit],
    )


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
        row = {"config": job.config, "seed": seed, **_flat(job.options)}
        row.update(run_metrics(history, target))
        if job.reported is not None:
            row["reported"] = job.reported
        records[i] = RunRecord(job, seed, history, row)
        done = [r for r in records if r is not None]
        if out_dir is not None:
            write_csv(out_dir / "results.csv", [r.row for r in done])
            histories = [
                {"config": r.job.config, "seed": r.seed, "history": r.history} for r in done
            ]
            write_text(out_dir / HISTORIES, json.dumps(histories) + "\n")
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


def _no_run(seed: int, on_epoch: nb.EpochHook) -> nb.Trained:
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
    return f"{100 * s.mean:.2f} ± {100 * s.std:.2f}%"


def differs(s: Summary) -> bool:
    """Whether a notebook's reported figure lies outside our seed spread: further from our
    mean than twice the std over seeds (at least 0.1 percentage point)."""
    reported = s.job.reported if s.job is not None else None
    return reported is not None and abs(s.mean - reported) > max(2 * s.std, 0.001)


def timestamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")


def isfinite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
