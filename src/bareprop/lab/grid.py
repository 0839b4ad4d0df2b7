"""Grid files: a TOML sweep of training configurations, turned into experiment jobs.

A grid file has a ``[base]`` table of :class:`~bareprop.train.config.TrainConfig` options and a
``[grid]`` table of lists to sweep (their cartesian product), or instead a ``[search]`` table of
ranges to sample (a random search, :mod:`bareprop.lab.search`); optional top-level ``seeds``
and ``target``::

    seeds = 3
    target = 0.97
    [base]
    hidden = [128]
    epochs = 3
    [grid]
    activation = ["relu", "tanh"]
    lr = [1e-3, 3e-3]

:func:`load_grid` reads and checks it; :func:`grid_jobs` makes one
:class:`~bareprop.lab.presets.Job` per point, trained as ``bareprop train`` would train it.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bareprop.lab.presets import Job, Runner
from bareprop.lab.search import Search, parse_search
from bareprop.lab.trained import EpochHook, FitHook, Recorder, Trained
from bareprop.train.config import TrainConfig
from bareprop.train.run import Data, build, fit_config, load_data, seeded_rngs


@dataclass
class Grid:
    """A parsed grid file: the base configuration, the lists to sweep (or the random search),
    optional seeds/target."""

    base: TrainConfig
    sweep: dict[str, list[Any]]
    seeds: int | None = None
    target: float | None = None
    search: Search | None = None

    def configs(self) -> list[tuple[str, TrainConfig]]:
        """Every point of the grid, named ``key=value,key=value`` (``base`` for an empty grid),
        or every trial of the search, named ``trial-01``...; each the base plus its changes."""
        if self.search is not None:
            changes = self.search.points()
            names = self.search.names()
        else:
            keys = list(self.sweep)
            changes = [
                dict(zip(keys, values, strict=True))
                for values in itertools.product(*(self.sweep[k] for k in keys))
            ]
            names = [",".join(f"{k}={_fmt(v)}" for k, v in c.items()) or "base" for c in changes]
        base = self.base.to_dict()
        return [
            (name, TrainConfig.from_dict({**base, **change}))
            for name, change in zip(names, changes, strict=True)
        ]


def _fmt(value: Any) -> str:
    return "-".join(map(str, value)) if isinstance(value, list) else str(value)


def load_grid(path: Path) -> Grid:
    """Parse a grid file; errors name the file and the offending key."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from None
    unknown = sorted(set(data) - {"base", "grid", "search", "seeds", "target"})
    if unknown:
        raise ValueError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)}; expected base, grid, "
            f"search, seeds, target"
        )
    if "grid" in data and "search" in data:
        raise ValueError(
            f"{path}: give [grid] (every combination) or [search] (random trials), not both; "
            f"a list in [search] draws one of its values"
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
        search = parse_search(data["search"]) if "search" in data else None
        grid = Grid(base_config, sweep, data.get("seeds"), data.get("target"), search)
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
        jobs.append(Job(name, options, config_runner(config, limit)))
    return jobs


def config_runner(config: TrainConfig, limit: int | None) -> Runner:
    """Trains ``config`` with the seed it is given, as ``bareprop train`` would; ``limit``
    keeps the first N training and test images."""

    def run(seed: int, on_epoch: EpochHook) -> Trained:
        cfg = replace(config, seed=seed).validate()
        rngs = seeded_rngs(seed)
        data = _limited(load_data(cfg, rngs["split"]), limit)
        model, loss, optimizer = build(cfg, data.x_train.shape[1:], data.n_classes, rngs)
        data = data.for_model(model)
        rec = Recorder(model, data.x_test, data.y_test, on_epoch)
        history = fit_config(cfg, data, model, loss, optimizer, rngs, callbacks=[FitHook(rec)])
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
