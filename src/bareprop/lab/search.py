"""Random search: a grid file's ``[search]`` table samples the space instead of sweeping it.

As in scikit-learn's ``RandomizedSearchCV`` and the hyper-parameter study of *Deep Learning
from Scratch* (which draws ``10 ** uniform(-6, -2)`` for the learning rate), each trial draws
every searched option independently::

    [search]
    trials = 20           # how many configurations to draw
    seed = 0              # the seed of the draws (training seeds are the top-level `seeds`)
    lr = { log_uniform = [1e-4, 1e-1] }
    dropout = { uniform = [0.0, 0.5] }
    batch_size = [32, 64, 128]        # a list, or { choice = [...] }: one value, uniformly

``log_uniform`` draws ``exp(uniform(log low, log high))``. Drawn numbers keep 4 significant
digits (so a configuration reads and round-trips as typed) and become whole numbers for
integer options (``batch_size``, ``epochs``). One ``numpy.random.Generator`` seeded with
``seed`` draws trial by trial, options in file order: the same file gives the same trials on
any machine, which is what lets a Dask worker rebuild them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bareprop.train.config import TrainConfig

KINDS = ("uniform", "log_uniform", "choice")


@dataclass(frozen=True)
class Param:
    """One searched option: ``kind`` in :data:`KINDS`, a range ``(low, high)`` or ``values``."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    values: tuple[Any, ...] = ()

    def draw(self, rng: np.random.Generator, integer: bool) -> Any:
        if self.kind == "choice":
            return self.values[int(rng.integers(len(self.values)))]
        if self.kind == "uniform":
            x = rng.uniform(self.low, self.high)
        else:
            x = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return round(x) if integer else float(f"{x:.4g}")


@dataclass(frozen=True)
class Search:
    """The ``[search]`` table: how many trials, the seed of the draws, the searched options."""

    trials: int
    seed: int
    params: tuple[Param, ...]

    def points(self) -> list[dict[str, Any]]:
        """``trials`` dicts of drawn option values (one per trial, in draw order)."""
        rng = np.random.default_rng(self.seed)
        ints = _integer_fields()
        return [
            {p.name: p.draw(rng, p.name in ints) for p in self.params} for _ in range(self.trials)
        ]

    def names(self) -> list[str]:
        """``trial-01`` ... (zero-padded to the width of ``trials``)."""
        width = len(str(self.trials))
        return [f"trial-{k:0{width}d}" for k in range(1, self.trials + 1)]

    def scales(self) -> dict[str, str]:
        """Option -> ``log`` (log-uniform), ``linear`` (uniform) or ``choice``: the x axis of
        each panel of the report's accuracy-against-option figure."""
        axis = {"uniform": "linear", "log_uniform": "log", "choice": "choice"}
        return {p.name: axis[p.kind] for p in self.params}


def _integer_fields() -> set[str]:
    return {
        f.name
        for f in dataclasses.fields(TrainConfig)
        if isinstance(f.default, int) and not isinstance(f.default, bool)
    }


def parse_search(table: Any) -> Search:
    """Check a ``[search]`` table; errors name ``search.<key>`` and what it should be."""
    if not isinstance(table, dict):
        raise ValueError("[search] must be a table")
    table = dict(table)
    trials, seed = table.pop("trials", None), table.pop("seed", 0)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"search.trials must be a positive integer, got {trials!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"search.seed must be a non-negative integer, got {seed!r}")
    if not table:
        raise ValueError("[search] names no option to search (e.g. lr = { log_uniform = [...] })")
    return Search(trials, seed, tuple(_param(k, v) for k, v in table.items()))


def _param(name: str, spec: Any) -> Param:
    if isinstance(spec, list):
        spec = {"choice": spec}
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise ValueError(
            f"search.{name} must be a list of values or one of {{ uniform = [low, high] }}, "
            f"{{ log_uniform = [low, high] }}, {{ choice = [...] }}; got {spec!r}"
        )
    kind, value = next(iter(spec.items()))
    if kind == "choice":
        if not isinstance(value, list) or not value:
            raise ValueError(f"search.{name}: choice needs a non-empty list, got {value!r}")
        return Param(name, kind, values=tuple(value))
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )
    if not ok or not value[0] < value[1]:
        raise ValueError(f"search.{name}: {kind} needs [low, high] with low < high, got {value!r}")
    if kind == "log_uniform" and value[0] <= 0:
        raise ValueError(f"search.{name}: log_uniform needs low > 0, got {value[0]!r}")
    return Param(name, kind, float(value[0]), float(value[1]))
