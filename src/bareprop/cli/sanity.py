"""``bareprop sanity``: CS231n's sanity checks on the network ``bareprop train`` would build.

Initial loss against ln(C), overfitting 50 training images, the gradient's relative error
against its bands, and weight decay raising the loss; one table row each. Exit status 0 when
every check passes, 1 when one fails (named). ``--inject-bug`` breaks one layer's backward on
purpose, as ``bareprop gradcheck --inject-bug`` does, to see the checks fail.
"""

from __future__ import annotations

import argparse
from typing import Any

from bareprop.cli.gradcheck import BUGS
from bareprop.cli.train import add_model_options, config_from_args


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sanity",
        help="sanity checks before training: initial loss, overfit, gradients, decay",
        description="Run CS231n's sanity checks on the network `bareprop train` would build "
        "from the same options: the initial loss against ln(C), overfitting a few training "
        "images, the gradient's relative error against central differences, and weight decay "
        "raising the loss. Exit status 1 if any check fails.",
    )
    add_model_options(p)
    g = p.add_argument_group("sanity checks")
    g.add_argument(
        "--overfit-samples",
        type=int,
        default=50,
        metavar="N",
        help="training images to overfit (default: %(default)s)",
    )
    g.add_argument(
        "--overfit-epochs",
        type=int,
        default=200,
        metavar="N",
        help="epochs allowed to reach 100%% on them (default: %(default)s)",
    )
    g.add_argument(
        "--probes",
        type=int,
        default=20,
        metavar="N",
        help="entries probed per array by the gradient check (default: %(default)s)",
    )
    g.add_argument(
        "--inject-bug",
        choices=list(BUGS),
        default=None,
        help="self-test: break a backward on purpose, a check must then fail",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from bareprop.check.sanity import run_sanity
    from bareprop.cli.gradcheck import inject_bug
    from bareprop.data.mnist import load_mnist

    for name in ("overfit_samples", "overfit_epochs", "probes"):
        if getattr(args, name) < 1:
            raise ValueError(
                f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}"
            )
    config = config_from_args(args)
    (images, labels), _ = load_mnist(config.data_dir)
    n_classes = int(labels.max()) + 1
    if args.overfit_samples > len(images):
        raise ValueError(
            f"--overfit-samples {args.overfit_samples}: the training set has only "
            f"{len(images)} images"
        )
    network = f"{config.hidden} {config.activation}" if config.model == "mlp" else config.model
    print(
        f"sanity: {network}, {config.init} init, {config.loss} ({config.reduction}), "
        f"{config.optimizer} lr {config.lr:g}, seed {config.seed}"
    )
    tamper = None
    if args.inject_bug:
        bug = args.inject_bug

        def tamper(model: Any) -> str:
            return inject_bug(model, bug)

        print(f"self-test, bug injected in every network built: {BUGS[bug]}")
    checks = run_sanity(
        config,
        images[: max(500, args.overfit_samples)],
        labels,
        n_classes,
        overfit_samples=args.overfit_samples,
        max_epochs=args.overfit_epochs,
        probes=args.probes,
        tamper=tamper,
    )
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 116
    table = Table(show_lines=True)
    for col, ratio in (("check", 2), ("measured", 4), ("verdict", 2), ("what it means", 6)):
        table.add_column(col, ratio=ratio)
    for c in checks:
        style = (
            "green" if c.passed and c.verdict == "pass" else ("bold red" if not c.passed else "")
        )
        verdict = f"[{style}]{escape(c.verdict)}[/]" if style else escape(c.verdict)
        table.add_row(escape(c.name), escape(c.measured), verdict, escape(c.meaning))
    console.print(table)
    failed = [c.name for c in checks if not c.passed]
    if failed:
        print(f"sanity: FAIL in {', '.join(failed)}")
        return 1
    print(f"sanity: PASS ({len(checks)} checks)")
    return 0
