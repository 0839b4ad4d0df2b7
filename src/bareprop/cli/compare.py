"""``bareprop compare``: train the same network in bareprop and in PyTorch, side by side."""

from __future__ import annotations

import argparse
import os
from contextlib import nullcontext
from typing import Any

from bareprop.cli.train import add_model_options, config_from_args, network_words
from bareprop.train.config import TrainConfig

# Every train option but --augment (both frameworks see the same, unshifted batches) and
# --early-stopping (both run every epoch asked for).
COMPARE_FIELDS = tuple(
    name for name in TrainConfig.__dataclass_fields__ if name not in ("augment", "early_stopping")
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "compare", help="train the same network in bareprop and PyTorch and compare them",
        description="Train one network in bareprop and in PyTorch from identical initial weights "
        "and batch order; print loss, test accuracy and seconds per epoch, the largest weight "
        'divergence and the speed ratio. Needs PyTorch: pip install "bareprop[torch]".',
    )  # fmt: skip
    add_model_options(p, COMPARE_FIELDS)
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="train on the first N training samples only (default: all)")  # fmt: skip
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                   help="torch threads, as NumPy's BLAS (default: %(default)s)")  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from bareprop.check.compare import compare_training
    from bareprop.check.torch_side import require_torch
    from bareprop.train.run import load_data, seeded_rngs

    torch = require_torch()  # before any work: without torch, say how to install it
    config = config_from_args(args)
    for name in ("limit", "threads"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ValueError(f"--{name} must be a positive integer, got {value}")
    data = load_data(config, seeded_rngs(config.seed)["split"])
    if args.limit is not None:
        data.x_train, data.y_train = data.x_train[: args.limit], data.y_train[: args.limit]
    console = Console(highlight=False)
    print(
        f"bareprop {_version()} vs PyTorch {torch.__version__}: {network_words(config)}, "
        f"{config.loss} ({config.reduction}), {config.optimizer} "
        f"lr {config.lr:g} {config.lr_schedule}, batch {config.batch_size}, {config.dtype},\n"
        f"{len(data.x_train)} training samples, torch threads {args.threads}"
    )
    with console.status("", spinner="dots") if console.is_terminal else nullcontext() as status:

        def progress(stage: str) -> None:
            if status is not None:
                status.update(stage)

        result = compare_training(config, data, threads=args.threads, progress=progress)
    table = Table(title_justify="left")
    for col in ("epoch", "loss bareprop", "loss torch", "test acc bareprop", "test acc torch",
                "s bareprop", "s torch"):  # fmt: skip
        table.add_column(col, justify="right")
    ours, theirs = result.bareprop, result.torch
    for e in range(config.epochs):
        table.add_row(
            str(e + 1), f"{ours['loss'][e]:.6f}", f"{theirs['loss'][e]:.6f}",
            f"{100 * ours['test_accuracy'][e]:.2f}%", f"{100 * theirs['test_accuracy'][e]:.2f}%",
            f"{ours['seconds'][e]:.2f}", f"{theirs['seconds'][e]:.2f}",
        )  # fmt: skip
    console.print(table)
    print(
        f"largest weight divergence: {result.divergence:.3g} (in {result.divergence_at}); "
        f"mean |difference| over all weights: {result.mean_divergence:.3g}"
    )
    print(
        f"total seconds: bareprop {sum(ours['seconds']):.2f}, torch {sum(theirs['seconds']):.2f}; "
        f"speed ratio (torch / bareprop): {result.speed_ratio:.2f}"
    )
    print(timing_note(result, config.epochs))
    return 0


def timing_note(result: Any, epochs: int) -> str:
    """What the seconds above include, and how far to trust a ratio from few epochs."""
    warm = result.warmup
    note = (
        f"timed after an untimed warm-up of {result.warmup_steps} batches in each framework "
        f"(bareprop {warm['bareprop']:.2f} s, torch {warm['torch']:.2f} s: thread pools, "
        "compiled kernels, first allocations)"
        if warm
        else "no warm-up: the first epoch includes each framework's start-up costs"
    )
    if epochs < 3:
        note += f";\n{epochs} epoch(s) is a short sample on a shared machine: --epochs 3 or more "
        note += "gives a steadier ratio"
    return note


def _version() -> str:
    from bareprop import __version__

    return __version__
