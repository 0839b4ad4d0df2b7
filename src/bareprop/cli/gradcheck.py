"""``bareprop gradcheck``: check every gradient of a network against central differences.

The network is the one ``bareprop train`` would build from the same options, in float64, on
a few real training samples. Exit status 0 when every gradient passes, 1 when one fails.
``--inject-bug`` breaks one layer's backward on purpose, to see the check fail (a self-test).
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings
from typing import Any

import numpy as np

from bareprop.cli.train import add_model_options, config_from_args, network_words

# The TrainConfig fields that decide the network and the loss; the check always runs float64.
NETWORK_FIELDS = (
    "model", "model_file", "hidden", "activation", "loss", "reduction", "init", "init_std",
    "dropout", "seed", "data_dir",
)  # fmt: skip

BUGS = {
    "linear-bias": "the first Linear sets db = dy[0] instead of summing dy over the batch",
    "linear-weight": "the first Linear divides dW by the batch size a second time",
    "activation": "the first activation passes dy through without its derivative",
}


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "gradcheck", help="check every gradient of a network against central differences",
        description="Build the network `bareprop train` would build from the same options, in "
        "float64, and compare the analytic gradient of the loss on a few training samples with "
        "central differences, for the input and every parameter. Exit status 1 if any fails.",
    )  # fmt: skip
    add_model_options(p, NETWORK_FIELDS, title="network")
    g = p.add_argument_group("gradient check")
    g.add_argument(
        "--samples", type=int, default=8, help="batch size checked (default: %(default)s)"
    )
    g.add_argument("--random-data", action="store_true",
                   help="a random batch instead of the first training samples")  # fmt: skip
    g.add_argument(
        "--max-entries",
        type=int,
        default=100,
        metavar="N",
        help="entries probed per array, at random; 0: all (default: %(default)s)",
    )
    g.add_argument("--eps", type=float, default=1e-6, help="step (default: %(default)s)")
    g.add_argument("--atol", type=float, default=1e-5, help="(default: %(default)s)")
    g.add_argument("--rtol", type=float, default=1e-3, help="(default: %(default)s)")
    g.add_argument("--inject-bug", choices=list(BUGS), default=None,
                   help="self-test: break a backward on purpose, the check must then fail; "
                   + "; ".join(f"{k}: {v}" for k, v in BUGS.items()))  # fmt: skip
    p.set_defaults(run=run)


def inject_bug(model: Any, bug: str) -> str:
    """Swap the class of one layer of ``model`` for a subclass with a broken backward."""
    from bareprop.nn import ACTIVATIONS, Linear

    if bug == "activation":
        kinds = tuple(ACTIVATIONS.values())
        layer = next(layer for layer in model.layers if isinstance(layer, kinds))

        def backward(self: Any, dy: np.ndarray) -> np.ndarray:
            return dy
    else:
        layer = next(layer for layer in model.layers if isinstance(layer, Linear))
        correct = type(layer).backward

        def backward(self: Any, dy: np.ndarray) -> np.ndarray:
            dx = correct(self, dy)
            if bug == "linear-bias":
                self.bias.grad[...] = dy[0]
            else:
                self.weight.grad /= len(dy)
            return dx

    layer.__class__ = type(f"Broken{type(layer).__name__}", (type(layer),), {"backward": backward})
    return f"{type(layer).__name__} at layers.{model.layers.index(layer)}: {BUGS[bug]}"


def _batch(config: Any, args: argparse.Namespace, rng: np.random.Generator) -> tuple[Any, ...]:
    """``(x, y, n_classes, description, image_shape)`` for the check; ``x`` is flat pixels."""
    if args.random_data:
        return (rng.random((args.samples, 784)), rng.integers(0, 10, args.samples), 10,
                f"{args.samples} random samples", (28, 28))  # fmt: skip
    from bareprop.data.mnist import load_split, preprocess

    images, labels = load_split(config.data_dir, "train")
    n_classes = int(labels.max()) + 1
    x = preprocess(images[: args.samples], np.float64)
    what = f"{len(x)} training samples"
    return x, labels[: args.samples].astype(np.int64), n_classes, what, tuple(images.shape[1:])


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from bareprop.check.gradcheck import check_model
    from bareprop.data.mnist import shaped_for
    from bareprop.train.run import build, seeded_rngs

    for name in ("samples", "max_entries"):
        if getattr(args, name) < (0 if name == "max_entries" else 1):
            raise ValueError(f"--{name.replace('_', '-')}: out of range: {getattr(args, name)}")
    config = dataclasses.replace(config_from_args(args), dtype="float64")
    rngs = seeded_rngs(config.seed)
    x, y, n_classes, what, image_shape = _batch(config, args, rngs["split"])
    model, loss, _ = build(config, x.shape[1:], n_classes, rngs)
    x = shaped_for(model, x, image_shape)
    if x.ndim > 2:  # blank pixels put conv outputs exactly on the ReLU's and max-pool's kinks
        x = x + rngs["shuffle"].uniform(0, 1e-3, x.shape)
        what += " plus uniform noise of 1e-3 (off the kinks of blank pixels)"
    print(f"gradcheck: {network_words(config)}, {config.loss} ({config.reduction}), "
          f"dropout {config.dropout}, float64, {what}")  # fmt: skip
    if args.inject_bug:
        print(f"self-test, bug injected: {inject_bug(model, args.inject_bug)}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = check_model(
            model, loss, x, y, eps=args.eps, atol=args.atol, rtol=args.rtol,
            max_entries=args.max_entries or None, rng=rngs["shuffle"], skip_kinks=x.ndim > 2,
        )  # fmt: skip
    table = Table(title_justify="left")
    for col in ("array", "shape", "checked", "max abs error", "max rel error", "result"):
        table.add_column(col, justify="left" if col == "array" else "right")
    for c in report.checks:
        verdict = "[green]pass[/]" if c.passed else "[bold red]FAIL[/]"
        table.add_row(c.name, "x".join(map(str, c.shape)), str(c.checked), f"{c.max_abs:.2e}",
                      f"{c.max_rel:.2e}", verdict)  # fmt: skip
    Console(highlight=False).print(table)
    print(f"tolerances: eps={report.eps:g}, atol={report.atol:g}, rtol={report.rtol:g} "
          "(torch.autograd.gradcheck's defaults);\nan entry passes when "
          "|analytic - numerical| <= atol + rtol * |numerical|")  # fmt: skip
    for w in caught:
        print(f"warning: {w.message}")
    if x.ndim > 2 and any(c.kinks for c in report.checks):
        print("(a conv net's ReLUs and max-pools have kinks at many positions: probes that "
              "straddle one are left out of the verdict)")  # fmt: skip
    if report.passed:
        print(f"gradcheck: PASS ({len(report.checks)} arrays)")
        return 0
    print(f"gradcheck: FAIL in {', '.join(report.failures)}")
    return 1
