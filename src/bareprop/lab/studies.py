"""The classic studies of teaching backprop, as ``bareprop experiment --preset NAME``.

From deep-learning-from-scratch, chapter 6: ``init-study`` (activation histograms per layer for
std 0.01, Xavier and He initialisation under sigmoid, tanh and ReLU), ``optimizer-study`` (SGD,
momentum, Nesterov, RMSprop, Adam and AdamW, each at a learning rate tuned on held-out data),
``regularization-study`` (300 training images, none vs weight decay vs dropout) and
``bn-study`` (with and without batch norm across initial weight scales).

Each study is a function ``(Setting) -> Study``; :func:`run_study` writes what it returns:
``results.csv`` (one row per configuration), ``histories.json``, the figures, ``results.md``
(a paragraph per figure: what it shows and what to take from it, with the measured figures)
and ``report.html``. The training loop is :func:`train_steps`: it records the loss of every
step, which the studies' curves need and ``fit``'s per-epoch history does not give.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.lab.trained import Images
from bareprop.nn.losses import Loss
from bareprop.nn.sequential import Sequential
from bareprop.optim.optimizers import Optimizer
from bareprop.train.fit import predict


@dataclass
class Setting:
    """What every study is given: the data, the seed, quick or full, where figures go."""

    data: Images
    seed: int
    quick: bool
    out: Path
    plots: bool = True


@dataclass
class Study:
    """What a study returns: a title, rows for ``results.csv``, per-configuration histories,
    figures ``caption -> path`` and the Markdown body of ``results.md``."""

    title: str
    rows: list[dict[str, Any]]
    histories: dict[str, dict[str, Any]]
    figures: dict[str, Path] = field(default_factory=dict)
    markdown: str = ""


EvalHook = Callable[[int, float], None]  # (step, seconds of training so far)


def train_steps(
    model: Sequential,
    loss: Loss,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    every: int = 0,
    on_eval: EvalHook | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> dict[str, list[float]]:
    """Shuffled mini-batches: forward, loss, backward, step; the loss of every step.

    Args:
        x, y: training features ``(N, features)`` and int labels ``(N,)``.
        every: call ``on_eval(step, seconds)`` every this many steps (0: never); its own time
            is not counted in ``seconds``.
        on_epoch: called with the epoch number (1-based) after each epoch.

    Returns:
        ``{"step_loss": [...], "seconds": [per epoch]}``, seconds of training only.
    """
    history: dict[str, list[float]] = {"step_loss": [], "seconds": []}
    step, trained = 0, 0.0
    for epoch in range(1, epochs + 1):
        model.train()
        started = time.perf_counter()
        epoch_seconds = 0.0
        order = rng.permutation(len(x))
        for first in range(0, len(x), batch_size):
            batch = order[first : first + batch_size]
            history["step_loss"].append(loss.forward(model.forward(x[batch]), y[batch]))
            model.backward(loss.backward())
            optimizer.step()
            step += 1
            if every and on_eval is not None and step % every == 0:
                now = time.perf_counter()
                epoch_seconds += now - started
                on_eval(step, trained + epoch_seconds)
                started = time.perf_counter()
        epoch_seconds += time.perf_counter() - started
        trained += epoch_seconds
        history["seconds"].append(epoch_seconds)
        if on_epoch is not None:
            on_epoch(epoch)
    return history


def accuracy(model: Sequential, x: np.ndarray, y: np.ndarray) -> float:
    """The share of ``x`` classified right, in eval mode (no dropout, running statistics)."""
    return float(np.mean(predict(model, x) == y))


def study_names() -> dict[str, Callable[[Setting], Study]]:
    """Preset name -> study function."""
    from bareprop.lab import studies_init, studies_optim

    return {
        "init-study": studies_init.init_study,
        "optimizer-study": studies_optim.optimizer_study,
        "regularization-study": studies_optim.regularization_study,
        "bn-study": studies_init.bn_study,
    }


STUDIES = ("init-study", "optimizer-study", "regularization-study", "bn-study")


def run_study(args: argparse.Namespace) -> int:
    """``bareprop experiment --preset <study>``: run it, write its folder, print the table."""
    from bareprop.cli.train import check_out_dir
    from bareprop.files.atomic import write_text
    from bareprop.lab.records import write_csv
    from bareprop.show import report

    if args.resummarize is not None or args.only or args.jobs != 1 or args.grid is not None:
        raise ValueError(
            f"--preset {args.preset} takes no GRID.toml, --resummarize, --only "
            "or --jobs: a study runs its own configurations, in one process"
        )
    if args.limit is not None and args.limit < 10:
        raise ValueError(f"--limit must be at least 10, got {args.limit}")
    if args.seeds not in (None, 1):
        raise ValueError(f"--preset {args.preset} runs one seed (0), got --seeds {args.seeds}")
    out = args.out or Path("runs") / time.strftime(f"{args.preset}-%Y%m%d-%H%M%S")
    check_out_dir(out)
    limit = None if not args.quick else 2000
    data = Images.load(args.data_dir, limit if args.limit is None else args.limit)
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join(
        shlex.quote(p)
        for p in [
            "bareprop",
            "experiment",
            "--preset",
            args.preset,
            *(["--quick"] if args.quick else []),
            *(["--limit", str(args.limit)] if args.limit else []),
        ]
    )
    started = time.perf_counter()
    study = study_names()[args.preset](Setting(data, 0, args.quick, out, not args.no_plots))
    minutes = (time.perf_counter() - started) / 60
    reduced = " (quick run: fewer images and epochs, not the study's figures)" if args.quick else ""
    markdown = (
        f"# {study.title}{reduced}\n\nReproduce: `{command}` ({minutes:.1f} minutes here; "
        f"{len(data.x_train)} training and {len(data.x_test)} test images, seed 0)\n\n"
        f"{study.markdown.strip()}\n"
    )
    write_csv(out / "results.csv", study.rows)
    write_text(out / "histories.json", json.dumps(study.histories) + "\n")
    write_text(out / "results.md", markdown)
    figures = {caption: path for caption, path in study.figures.items() if path.exists()}
    body = report.markdown_html(markdown.split("\n", 1)[1])
    report.write_page(
        out / "report.html", study.title, [("", body), ("Figures", report.figures_html(figures))]
    )
    _print_rows(study.rows)
    names = ", ".join(["results.csv", "results.md", *(p.name for p in figures.values())])
    print(f"wrote {out}/: {names}, histories.json, report.html")
    return 0


def _print_rows(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    for c in columns:
        table.add_column(c, justify="left" if c == "config" else "right")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    Console(highlight=False, width=160).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table_md(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows as a Markdown table of ``columns``."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
