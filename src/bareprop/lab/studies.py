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
from pathlib import Path
from typing import Any

from bareprop.lab import studies_init, studies_optim
from bareprop.lab.study_common import Setting, Study, cell
from bareprop.lab.trained import Images


def study_names() -> dict[str, Callable[[Setting], Study]]:
    """Preset name -> study function."""
    return {
        "init-study": studies_init.init_study,
        "optimizer-study": studies_optim.optimizer_study,
        "regularization-study": studies_optim.regularization_study,
        "bn-study": studies_init.bn_study,
    }


STUDIES = ("init-study", "optimizer-study", "regularization-study", "bn-study")


def run_study(args: argparse.Namespace) -> int:
    """``bareprop experiment --preset <study>``: run it, write its folder, print the table."""
    from bareprop.files.atomic import check_new_folder, write_text
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
    check_new_folder(out)
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
        table.add_row(*(cell(row.get(c)) for c in columns))
    Console(highlight=False, width=160).print(table)
