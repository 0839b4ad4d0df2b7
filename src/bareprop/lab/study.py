"""What an experiment runs, from a grid file (or a random search) or a preset: a :class:`Study`.

Its ``rebuild`` returns the same jobs again from plain data (the parsed grid or the preset's
options, never a closure nor the grid file's path), so that a spawned process or a Dask worker
on another machine can build them for itself (see :mod:`bareprop.lab.runners`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path

from bareprop.lab.experiment import DEFAULT_TARGET
from bareprop.lab.grid import Grid, grid_jobs, load_grid
from bareprop.lab.presets import Job

PRESET_TARGETS = {"best-mlp": 0.988, "best-cnn": 0.995}


@dataclass
class Study:
    """The jobs, a picklable ``rebuild`` returning them again, seeds, target, title, and the
    random search's options (name -> axis scale), if any."""

    jobs: list[Job]
    rebuild: Callable[[], list[Job]]
    seeds: int
    target: float
    title: str
    searched: dict[str, str] = field(default_factory=dict)


def make_study(
    *,
    grid: Path | None,
    preset: str | None,
    seeds: int | None = None,
    target: float | None = None,
    only: tuple[str, ...] = (),
    data_dir: str | None = None,
    limit: int | None = None,
    epochs_scale: float = 1.0,
    sound: bool = True,
) -> Study:
    """The study of a grid file or a preset; ``seeds``/``target`` override the grid's;
    ``only`` keeps configurations matching these names or shell patterns."""
    title, searched = f"Experiment: {preset} preset", {}
    rebuild: Callable[[], list[Job]]
    if preset is not None:
        rebuild = partial(_preset_jobs, preset, data_dir, limit, epochs_scale, sound, only)
        target = target if target is not None else PRESET_TARGETS.get(preset)
    else:
        assert grid is not None
        parsed = load_grid(grid)
        if data_dir is not None:
            parsed.base.data_dir = data_dir
        rebuild = partial(_grid_jobs, parsed, limit, epochs_scale, only)
        seeds = seeds if seeds is not None else parsed.seeds
        target = target if target is not None else parsed.target
        title = f"Experiment: {grid.name}"
        if parsed.search is not None:
            title, searched = f"Random search: {grid.name}", parsed.search.scales()
    if limit is not None or epochs_scale != 1.0:
        title += " (reduced run: fewer images or epochs, not comparable with the reported figures)"
    return Study(
        rebuild(),
        rebuild,
        seeds if seeds is not None else 1,
        target if target is not None else DEFAULT_TARGET,
        title,
        searched,
    )


def _preset_jobs(
    preset: str,
    data_dir: str | None,
    limit: int | None,
    epochs_scale: float,
    sound: bool,
    only: tuple[str, ...],
) -> list[Job]:
    """A preset's jobs (MNIST is loaded on a job's first run, once per process)."""
    from bareprop.lab import best_cnn, best_mlp, notebooks, presets

    @cache
    def data() -> notebooks.Images:
        return notebooks.Images.load(data_dir, limit)

    if preset == "notebooks":
        jobs = presets.notebook_jobs(data, epochs_scale=epochs_scale, sound=sound)
    elif preset == "best-cnn":
        jobs = best_cnn.best_cnn_jobs(data_dir, limit, epochs_scale=epochs_scale)
    else:
        jobs = best_mlp.best_mlp_jobs(data, epochs_scale=epochs_scale)
    return _only(jobs, only)


def _grid_jobs(
    grid: Grid, limit: int | None, epochs_scale: float, only: tuple[str, ...]
) -> list[Job]:
    """A grid's (or a random search's) jobs."""
    return _only(grid_jobs(grid, limit=limit, epochs_scale=epochs_scale), only)


def _only(jobs: list[Job], only: tuple[str, ...]) -> list[Job]:
    if not only:
        return jobs
    jobs = [j for j in jobs if any(fnmatch.fnmatchcase(j.config, o) for o in only)]
    if not jobs:
        raise ValueError(f"--only {' '.join(only)}: matches no configuration")
    return jobs
