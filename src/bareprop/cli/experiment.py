"""``bareprop experiment``: sweep training options over a grid (or run a preset) with seeds."""

from __future__ import annotations

import argparse
import fnmatch
import json
import shlex
import time
from functools import cache, partial
from pathlib import Path
from typing import Any

PRESETS = ("notebooks", "best-mlp")
STUDIES = ("init-study", "optimizer-study", "regularization-study", "bn-study")  # lab/studies.py


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "experiment",
        help="run a grid of training configurations (or a preset) with several seeds",
        description="Run every configuration of GRID.toml (a [base] table of train options and a "
        "[grid] table of lists to sweep) or of a preset, once per seed; write results.csv, "
        "results.md and report.html.",
    )
    p.add_argument(
        "grid", nargs="?", type=Path, metavar="GRID.toml", help="grid file (or use --preset)"
    )
    p.add_argument(
        "--preset",
        choices=PRESETS + STUDIES,
        help="notebooks: the five source notebooks, faithful and sound; "
        "best-mlp: our best plain MLP recipe",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds per configuration (default: the grid's, else 1)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: runs/experiment-...)",
    )
    p.add_argument(
        "--target",
        type=float,
        default=None,
        help="accuracy for 'seconds to target' (default: 0.97)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="CONFIG",
        help="run only these configurations (names or shell patterns, e.g. 'nb004-*')",
    )
    p.add_argument(
        "--no-sound", action="store_true", help="notebooks preset: skip the sound-recipe rows"
    )
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="use only the first N training and test images",
    )
    p.add_argument(
        "--epochs-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply every configuration's epochs (iterations) by F, at least 1 (default: 1)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="runs at a time, in separate processes (set OPENBLAS_NUM_THREADS=1); default 1",
    )
    p.add_argument(
        "--quick", action="store_true", help="a fast smoke run: --limit 6000 --epochs-scale 0.2"
    )
    p.add_argument("--data-dir", metavar="DIR", default=None, help="folder with the four IDX files")
    p.add_argument(
        "--no-plots", action="store_true", help="skip figures (report.html has tables only)"
    )
    p.add_argument(
        "--resummarize",
        type=Path,
        metavar="DIR",
        default=None,
        help="train nothing: rebuild results.md and report.html of the experiment in DIR "
        "(give the same GRID.toml or --preset)",
    )
    p.set_defaults(run=run)


def _jobs(args: argparse.Namespace) -> tuple[list[Any], int, float, str]:
    """The jobs, seeds, target and a title, from the grid file or the preset."""
    from bareprop.lab import best_mlp, experiment, notebooks, presets

    @cache
    def data() -> notebooks.Images:
        return notebooks.Images.load(args.data_dir, args.limit)

    seeds, target, title = args.seeds, args.target, f"Experiment: {args.preset} preset"
    if args.preset == "notebooks":
        jobs = presets.notebook_jobs(data, epochs_scale=args.epochs_scale, sound=not args.no_sound)
    elif args.preset == "best-mlp":
        jobs = best_mlp.best_mlp_jobs(data, epochs_scale=args.epochs_scale)
        target = target if target is not None else 0.988
    else:
        grid = experiment.load_grid(args.grid)
        if args.data_dir is not None:
            grid.base.data_dir = args.data_dir
        jobs = experiment.grid_jobs(grid, limit=args.limit, epochs_scale=args.epochs_scale)
        seeds = seeds if seeds is not None else grid.seeds
        target = target if target is not None else grid.target
        title = f"Experiment: {args.grid.name}"
    if args.limit is not None or args.epochs_scale != 1.0:
        title += " (reduced run: fewer images or epochs, not comparable with the reported figures)"
    if args.only:
        jobs = [j for j in jobs if any(fnmatch.fnmatchcase(j.config, o) for o in args.only)]
        if not jobs:
            raise ValueError(f"--only {' '.join(args.only)}: matches no configuration")
    return (
        jobs,
        seeds if seeds is not None else 1,
        target if target is not None else experiment.DEFAULT_TARGET,
        title,
    )


def _rebuilt_jobs(args: argparse.Namespace) -> list[Any]:
    """The same jobs again, in a worker process (a job's run is a closure and cannot be pickled)."""
    return _jobs(args)[0]


def _check(args: argparse.Namespace) -> None:
    if (args.grid is None) == (args.preset is None):
        raise ValueError("give either a GRID.toml file or --preset (not both)")
    if args.quick:
        args.limit = args.limit or 6000
        args.epochs_scale = 0.2 if args.epochs_scale == 1.0 else args.epochs_scale
    if args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
    if args.seeds is not None and args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    if args.limit is not None and args.limit < 10:
        raise ValueError(f"--limit must be at least 10, got {args.limit}")
    if not args.epochs_scale > 0:
        raise ValueError(f"--epochs-scale must be positive, got {args.epochs_scale}")
    if args.target is not None and not 0 < args.target <= 1:
        raise ValueError(f"--target is a fraction in (0, 1], got {args.target}")


class Display:
    """Which run of how many, its epochs, and the ETA, with rich; one printed line per run.

    The live bar is drawn only on an interactive terminal: elsewhere (a pipe, a file) rich would
    print its last frame when it stops, a stray half-finished bar before the results table.
    """

    def __init__(self, total_epochs: int, workers: int = 1, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console or Console(highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("epochs {task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.console.is_interactive,
        )
        self.task = self.progress.add_task("", total=total_epochs)
        self.started = time.perf_counter()
        self.done_epochs = 0
        self.finished = 0
        self.parallel = workers > 1
        self.total = total_epochs
        self.progress.start()

    def start(self, i: int, n: int, job: Any, seed: int) -> None:
        self.label = f"run {i + 1}/{n}: {job.config} seed {seed}"
        self.progress.update(self.task, description=self.label)

    def epoch(self) -> None:
        self.done_epochs += 1
        self.progress.advance(self.task)

    def finish(self, record: Any, i: int, n: int) -> None:
        row = record.row
        self.label = f"run {i + 1}/{n}: {record.job.config} seed {record.seed}"
        self.finished += 1
        if self.parallel:  # runs in other processes report no epochs: count them when they end
            self.done_epochs += len(record.history["test_accuracy"])
            self.progress.update(self.task, completed=self.done_epochs)
            self.progress.update(self.task, description=f"{self.finished}/{n} runs done")
        elapsed = time.perf_counter() - self.started
        eta = elapsed / max(self.done_epochs, 1) * max(self.total - self.done_epochs, 0)
        self.console.print(
            f"{self.label}: test {100 * row['test_accuracy']:.2f}% "
            f"(best {100 * row['best_test_accuracy']:.2f}% at epoch {row['best_epoch']}), "
            f"{row['seconds_per_epoch']:.2f} s/epoch; "
            f"elapsed {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min",
            soft_wrap=True,
        )

    def close(self) -> None:
        self.progress.stop()


def _epochs(job: Any) -> int:
    return max(1, round(float(job.options.get("epochs", 1)) + 0.49))


def _command(args: argparse.Namespace, n_seeds: int) -> str:
    """The command line that reproduces this experiment."""
    parts = ["bareprop", "experiment"]
    parts += [str(args.grid)] if args.grid is not None else ["--preset", args.preset]
    parts += ["--seeds", str(n_seeds)]
    for flag, value in (
        ("--target", args.target),
        ("--limit", args.limit),
        ("--data-dir", args.data_dir),
    ):
        if value is not None:
            parts += [flag, str(value)]
    if args.epochs_scale != 1.0:
        parts += ["--epochs-scale", str(args.epochs_scale)]
    if args.jobs != 1:
        parts += ["--jobs", str(args.jobs)]
    if args.only:
        parts += ["--only", *args.only]
    if args.no_sound:
        parts.append("--no-sound")
    return " ".join(shlex.quote(p) for p in parts)


def run(args: argparse.Namespace) -> int:
    from bareprop.files.atomic import check_new_folder, write_text
    from bareprop.lab import experiment

    if args.preset in STUDIES:
        from bareprop.lab.studies import run_study

        return run_study(args)
    _check(args)
    jobs, n_seeds, target, title = _jobs(args)
    if args.resummarize is not None:
        meta = json.loads((args.resummarize / "experiment.json").read_text(encoding="utf-8"))
        records = experiment.load_records(args.resummarize, jobs)
        _finish(
            args.resummarize,
            records,
            meta["title"],
            meta["command"],
            meta["target"],
            not args.no_plots,
        )
        return 0
    out = (
        args.out
        if args.out is not None
        else Path("runs") / time.strftime("experiment-%Y%m%d-%H%M%S")
    )
    check_new_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    command = _command(args, n_seeds)
    meta = {"title": title, "command": command, "target": target, "seeds": n_seeds}
    write_text(out / "experiment.json", json.dumps(meta, indent=2) + "\n")
    display = Display(sum(_epochs(j) for j in jobs) * n_seeds, args.jobs)
    try:
        records = experiment.run_jobs(
            jobs,
            list(range(n_seeds)),
            target=target,
            out_dir=out,
            show=display,
            workers=args.jobs,
            rebuild=partial(_rebuilt_jobs, args),
        )
    finally:
        display.close()
    _finish(out, records, title, command, target, not args.no_plots)
    return 0


def _finish(
    out: Path, records: list[Any], title: str, command: str, target: float, plots: bool
) -> None:
    """results.md, report.html and the table on the terminal."""
    from bareprop.files.atomic import write_text
    from bareprop.lab import experiment, results
    from bareprop.show import report

    summaries = experiment.summarize(records)
    markdown = results.render_markdown(summaries, title=title, command=command)
    write_text(out / "results.md", markdown)
    report.write_experiment_report(
        out, title=title, records=records, summaries=summaries, markdown=markdown, plots=plots
    )
    _print_table(summaries, target)
    print(f"wrote {out}/: results.csv, results.md, report.html")


def _print_table(summaries: list[Any], target: float) -> None:
    from rich.console import Console
    from rich.table import Table

    from bareprop.lab import results

    header, rows = results.summary_rows(summaries)
    table = Table(title=f"test accuracy over seeds (target {100 * target:.1f}%)")
    for h in header:
        table.add_column(h, justify="left" if h == "config" else "right")
    for row in rows:
        table.add_row(*row)
    Console(highlight=False, width=160).print(table)
