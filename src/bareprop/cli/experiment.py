"""``bareprop experiment``: sweep training options over a grid (or run a preset) with seeds."""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path
from typing import Any

PRESETS = ("notebooks", "best-mlp", "best-cnn")
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
        "best-mlp: our best plain MLP recipe; best-cnn: our best CNN recipe; the classic "
        "studies: init-study, optimizer-study, regularization-study, bn-study",
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
        "--scheduler",
        metavar="tcp://HOST:PORT",
        default=None,
        help="send every run to the Dask cluster whose scheduler is there "
        "(pip install 'bareprop[distributed]'); runs write their folders on the workers",
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the --scheduler to answer (default: 10)",
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


def _study(args: argparse.Namespace) -> Any:
    """The experiment's jobs, seeds, target and title, from the grid file or the preset."""
    from bareprop.lab.study import make_study

    return make_study(
        grid=args.grid,
        preset=args.preset,
        seeds=args.seeds,
        target=args.target,
        only=tuple(args.only or ()),
        data_dir=args.data_dir,
        limit=args.limit,
        epochs_scale=args.epochs_scale,
        sound=not args.no_sound,
    )


def _check(args: argparse.Namespace) -> None:
    if (args.grid is None) == (args.preset is None):
        raise ValueError("give either a GRID.toml file or --preset (not both)")
    if args.quick:
        args.limit = args.limit or 6000
        args.epochs_scale = 0.2 if args.epochs_scale == 1.0 else args.epochs_scale
    if args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
    if args.scheduler is not None and args.jobs != 1:
        raise ValueError(
            "--jobs and --scheduler exclude each other: a cluster's workers set how many runs "
            "go at a time"
        )
    if args.seeds is not None and args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    if args.limit is not None and args.limit < 10:
        raise ValueError(f"--limit must be at least 10, got {args.limit}")
    if not args.epochs_scale > 0:
        raise ValueError(f"--epochs-scale must be positive, got {args.epochs_scale}")
    if args.target is not None and not 0 < args.target <= 1:
        raise ValueError(f"--target is a fraction in (0, 1], got {args.target}")


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
    if args.scheduler is not None:
        parts += ["--scheduler", args.scheduler]
    if args.only:
        parts += ["--only", *args.only]
    if args.no_sound:
        parts.append("--no-sound")
    return " ".join(shlex.quote(p) for p in parts)


def _runner(args: argparse.Namespace, study: Any) -> Any:
    from bareprop.lab import runners

    if args.scheduler is not None:
        from bareprop.lab.distributed import DaskCluster

        cluster = DaskCluster(args.scheduler, study.rebuild, args.connect_timeout)
        cluster.connect()
        return cluster
    if args.jobs > 1:
        return runners.LocalProcesses(args.jobs, study.rebuild)
    return runners.InProcess()


def run(args: argparse.Namespace) -> int:
    from bareprop.files.atomic import check_new_folder, write_text
    from bareprop.lab import experiment
    from bareprop.show.experiment_progress import ExperimentProgress

    if args.preset in STUDIES:
        from bareprop.lab.studies import run_study

        return run_study(args)
    _check(args)
    study = _study(args)
    if args.resummarize is not None:
        meta = json.loads((args.resummarize / "experiment.json").read_text(encoding="utf-8"))
        records = experiment.load_records(args.resummarize, study.jobs)
        _finish(args.resummarize, records, meta, not args.no_plots)
        return 0
    out = (
        args.out
        if args.out is not None
        else Path("runs") / time.strftime("experiment-%Y%m%d-%H%M%S")
    )
    check_new_folder(out)
    runner = _runner(args, study)  # before any file: a bad --scheduler leaves no folder
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "title": study.title,
        "command": _command(args, study.seeds),
        "target": study.target,
        "seeds": study.seeds,
    }
    if study.searched:
        meta["searched"] = study.searched
    if args.scheduler is not None:
        meta["scheduler"] = args.scheduler
    write_text(out / "experiment.json", json.dumps(meta, indent=2) + "\n")
    total = sum(_epochs(j) for j in study.jobs) * study.seeds
    display = ExperimentProgress(total, parallel=args.jobs > 1 or args.scheduler is not None)
    try:
        records = experiment.run_jobs(
            study.jobs,
            list(range(study.seeds)),
            target=study.target,
            out_dir=out,
            show=display,
            runner=runner,
        )
    finally:
        display.close()
    _finish(out, records, meta, not args.no_plots)
    return 0


def _finish(out: Path, records: list[Any], meta: dict[str, Any], plots: bool) -> None:
    """results.md, report.html and the table on the terminal; says every file written."""
    from bareprop.files.atomic import write_text
    from bareprop.lab import experiment, results, search_report
    from bareprop.show import report

    summaries = experiment.summarize(records)
    searched = meta.get("searched", {})
    extra = search_report.best_trials(records, searched) if searched else ""
    markdown = results.render_markdown(
        summaries, title=meta["title"], command=meta["command"], extra=extra
    )
    write_text(out / "results.md", markdown)
    figures: dict[str, Path] = {}
    if plots and searched and records:
        figures = search_report.save_figures(out, records, searched)
    report.write_experiment_report(
        out,
        title=meta["title"],
        records=records,
        summaries=summaries,
        markdown=markdown,
        plots=plots,
        extra_figures=figures,
    )
    results.print_summary_table(summaries, meta["target"])
    print(f"wrote {out}/: {', '.join(_written(out, 'scheduler' in meta))}")


def _written(out: Path, cluster: bool) -> list[str]:
    """The files an experiment writes, those present in ``out``, and its run folders."""
    names = [
        "experiment.json",
        "results.csv",
        "histories.json",
        "results.md",
        "report.html",
        "accuracy_by_config.png",
        "curves_overlay.png",
        "accuracy_vs_hyperparameters.png",
    ]
    found = [n for n in names if (out / n).exists()]
    if (out / "runs").is_dir():
        found.append("runs/<config>/seed-<k>/run.json")
    elif cluster:
        found.append("and runs/<config>/seed-<k>/run.json on the workers' machines")
    return found
