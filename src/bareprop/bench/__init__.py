"""``bareprop bench``: bareprop against PyTorch and scikit-learn, measured in the same run.

Each measurement runs in a fresh process (:mod:`bareprop.bench.worker`) with the same number
of BLAS threads, and the contenders take turns: every round runs each of them once, in an
order rotated from round to round, so that a burst of load from elsewhere on the machine
spreads over all of them instead of spoiling one. Figures are medians over the rounds, with
the minimum and maximum beside them.

An edge module: rich is imported to print the tables; torch and scikit-learn only inside the
worker processes, and only when installed.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bareprop.bench.contenders import EPOCH_SAMPLES, REFERENCE, BenchConfig
from bareprop.bench.worker import THREAD_VARIABLES
from bareprop.errors import BarepropError

TRAINERS = ("bareprop", "bareprop-numpy", "torch", "torch-fused", "sklearn", "gemms")
NEEDS = {
    "bareprop-numpy": "numba",  # without numba, "bareprop" is already NumPy only
    "torch": "torch",
    "torch-fused": "torch",
    "torch-predict": "torch",
    "sklearn": "sklearn",
}
LABELS = {
    "bareprop": "bareprop.fit",
    "bareprop-numpy": "bareprop.fit, NumPy only",
    "torch": "torch eager",
    "torch-fused": "torch Adam",
    "sklearn": "sklearn MLP",
    "gemms": "GEMMs alone",
    "bareprop-predict": "bareprop.predict",
    "torch-predict": "torch eager",
}


class BenchError(BarepropError):
    """A benchmark process failed."""


@dataclass
class Series:
    """The figures of one contender on one configuration, one per round."""

    task: str
    config: BenchConfig
    values: list[float] = field(default_factory=list)  # s/epoch (training) or s (predict)
    variant: str = ""

    @property
    def median(self) -> float:
        return float(np.median(self.values)) if self.values else math.nan


@dataclass
class BenchResult:
    series: list[Series]
    parts: dict[str, dict[str, float]]  # config name -> part -> s/epoch
    meta: dict[str, Any]

    def get(self, task: str, config: str) -> Series | None:
        return next((s for s in self.series if s.task == task and s.config.name == config), None)

    def ratio(self, task: str, config: str, against: str = "torch", *, best: bool = False) -> float:
        """Throughput of ``task`` over that of ``against`` (> 1: ``task`` is faster).

        From the medians, or with ``best`` from each one's fastest round (what a busy machine
        disturbs least).
        """
        a, b = self.get(task, config), self.get(against, config)
        if not (a and b and a.values and b.values):
            return math.nan
        return min(b.values) / min(a.values) if best else b.median / a.median


def available(task: str) -> bool:
    """Whether what ``task`` needs is installed (PyTorch, scikit-learn)."""
    need = NEEDS.get(task)
    return need is None or importlib.util.find_spec(need) is not None


def run_worker(job: dict[str, Any], *, timeout: float = 600.0) -> dict[str, Any]:
    """Run one job in a new Python process with the thread count fixed; its JSON answer."""
    env = dict(os.environ, **{name: str(job["threads"]) for name in THREAD_VARIABLES})
    cmd = [sys.executable, "-m", "bareprop.bench.worker", json.dumps(job)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BenchError(f"{job['task']} on {job['config']['name']} failed: {last}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run_bench(
    configs: Sequence[BenchConfig] = REFERENCE,
    *,
    rounds: int = 3,
    steps: int | None = None,
    epochs: int = 1,
    threads: int = 2,
    tasks: Sequence[str] = TRAINERS,
    predict_repeats: int = 5,
    parts: bool = True,
    n_train: int | None = None,
    synthetic: bool = False,
    on_progress: Callable[[str], None] = lambda message: None,
) -> BenchResult:
    """Measure every available task on every config, ``rounds`` times, interleaved.

    Args:
        configs: the configurations (default: SGD b64 and Adam b128 on 784-500-250-100-10;
            ``CONFIGS`` adds the reference CNN with Adam b128).
        rounds: how many times each measurement is taken.
        steps: training steps timed per measurement (default: ``epochs`` whole epochs).
        epochs: whole epochs per measurement when ``steps`` is None.
        threads: BLAS / torch threads of every contender.
        tasks: which trainers to run (those not installed are skipped).
        predict_repeats: predictions of the 10k test set per measurement (0: none).
        parts: also time each part of a bareprop step, once per config.
        n_train: use only the first ``n_train`` training samples (for quick checks).
        synthetic: random data of MNIST's shape instead of MNIST (for tests).
        on_progress: called with a line before each measurement.
    """
    jobs = _plan(configs, tasks, predict_repeats)
    common = {"threads": threads, "n_train": n_train, "synthetic": synthetic}
    series = {(t, c.name): Series(t, c) for t, c, _ in jobs}
    for r in range(rounds):
        for task, cfg, kind in jobs[r % len(jobs) :] + jobs[: r % len(jobs)]:
            per_epoch = math.ceil(EPOCH_SAMPLES / cfg.batch_size)
            n = predict_repeats if kind == "predict" else steps or epochs * per_epoch
            on_progress(f"round {r + 1}/{rounds}: {task} on {cfg.name}")
            answer = run_worker({"task": task, "config": cfg.to_dict(), "steps": n, **common})
            s = series[(task, cfg.name)]
            s.variant = answer.get("variant", "")
            scale = per_epoch if kind == "train" else 1
            s.values.append(answer["seconds"] / answer["steps"] * scale)
    part_times: dict[str, dict[str, float]] = {}
    for cfg in [c for c in configs if c.model == "mlp"] if parts else ():
        on_progress(f"parts of a step on {cfg.name}")
        job = {"task": "parts", "config": cfg.to_dict(), "steps": steps or 300, **common}
        part_times[cfg.name] = run_worker(job)["parts"]
    meta = machine_info(threads) | {"rounds": rounds, "steps": steps, "epochs": epochs}
    return BenchResult(list(series.values()), part_times, meta)


def _plan(
    configs: Sequence[BenchConfig], tasks: Sequence[str], predict_repeats: int
) -> list[tuple[str, BenchConfig, str]]:
    jobs = []
    for cfg in configs:
        for task in tasks:
            if task == "torch-fused" and cfg.optimizer != "adam":
                continue
            if cfg.model == "cnn" and task not in ("bareprop", "torch", "gemms"):
                continue  # the CNN: bareprop, PyTorch eager and the im2col GEMMs alone
            if available(task):
                jobs.append((task, cfg, "train"))
    if predict_repeats:
        jobs += [
            (t, configs[0], "predict")
            for t in ("bareprop-predict", "torch-predict")
            if available(t)
        ]
    return jobs


def machine_info(threads: int) -> dict[str, Any]:
    """What the figures depend on: CPU, cores, threads, versions, load average."""
    info: dict[str, Any] = {
        "cpu": _cpu_name(), "cores": os.cpu_count(), "threads": threads,
        "python": platform.python_version(), "numpy": np.__version__,
    }  # fmt: skip
    for name in ("torch", "sklearn"):
        if importlib.util.find_spec(name) is not None:
            info[name] = _version(name)
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(v, 2) for v in os.getloadavg()]
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scikit-learn" if name == "sklearn" else name)
    except PackageNotFoundError:
        return "?"


__all__ = [
    "REFERENCE",
    "BenchConfig",
    "BenchError",
    "BenchResult",
    "Series",
    "machine_info",
    "run_bench",
]
