"""``bareprop bench``: bareprop, PyTorch and scikit-learn on the reference MLP, interleaved."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench", help="time training against PyTorch and scikit-learn in the same run",
        description="Train the reference MLP 784-500-250-100-10 (SGD b64, Adam b128) and the "
        "reference CNN (Adam b128) with "
        "bareprop, PyTorch eager and scikit-learn (those installed), each in its own process, in "
        "interleaved rounds; print s/epoch, samples/s, the ratio to PyTorch, the GEMMs-alone "
        "bound and where a bareprop step spends its time.",
    )  # fmt: skip
    p.add_argument(
        "--rounds", type=int, default=3, help="measurements per contender (default: %(default)s)"
    )
    p.add_argument(
        "--epochs", type=int, default=1, help="epochs per measurement (default: %(default)s)"
    )
    p.add_argument(
        "--steps", type=int, default=None, help="time this many steps instead of whole epochs"
    )
    p.add_argument(
        "--threads", type=int, default=2, help="BLAS / torch threads (default: %(default)s)"
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="TASK",
        default=None,
        help="of: bareprop bareprop-numpy torch torch-fused sklearn gemms (default: all installed)",
    )
    p.add_argument(
        "--configs",
        nargs="+",
        metavar="NAME",
        default=None,
        help="of: sgd-b64 adam-b128 cnn-adam-b128 (default: all three)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="1 round of 200 steps, no scikit-learn: a rough look in ~30 s",
    )
    p.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        default=None,
        help="also write the tables as Markdown",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bareprop.bench import TRAINERS, run_bench
    from bareprop.bench.contenders import CONFIGS
    from bareprop.bench.report import print_tables, to_markdown

    for name in ("rounds", "epochs", "threads"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be a positive integer, got {args.steps}")
    tasks = list(args.only or TRAINERS)
    unknown = [t for t in tasks if t not in TRAINERS]
    if unknown:
        raise ValueError(
            f"--only: unknown trainer(s) {', '.join(unknown)}; known: {', '.join(TRAINERS)}"
        )
    names = list(args.configs or CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise ValueError(f"--configs: unknown {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
    rounds, steps = args.rounds, args.steps
    if args.quick:
        rounds, steps = 1, steps or 200
        tasks = [t for t in tasks if t != "sklearn"] if args.only is None else tasks
    console = Console(stderr=True)
    result = run_bench(
        [CONFIGS[n] for n in names], rounds=rounds, steps=steps, epochs=args.epochs,
        threads=args.threads, tasks=tasks,
        predict_repeats=2 if args.quick else 5, on_progress=lambda m: console.print(m, style="dim"),
    )  # fmt: skip
    print_tables(result)
    if args.markdown is not None:
        args.markdown.write_text(to_markdown(result), encoding="utf-8")
    return 0
