"""``bareprop trace``: one mini-batch walked forward and backward, layer by layer."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.cli.gradcheck import NETWORK_FIELDS
from bareprop.cli.train import add_model_options, config_from_args

SMALLER_DEFAULTS = {"hidden": [16], "batch_size": 4}  # a trace is read by a person
# The network's options and the batch; always float64, so no --dtype.
TRACE_FIELDS = (*NETWORK_FIELDS, "batch_size")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "trace", help="walk one mini-batch forward and backward, with the formulas",
        description="Walk one mini-batch of training samples through the network `bareprop train` "
        "would build (at its initial weights, in float64): for each layer the formula, the shape "
        "and a few values, forward then backward; then the numerical gradient beside the "
        "analytic one for a few entries of every parameter.",
    )  # fmt: skip
    add_model_options(p, TRACE_FIELDS, SMALLER_DEFAULTS, title="network")
    p.add_argument(
        "--probes",
        type=int,
        default=2,
        metavar="N",
        help="entries per parameter checked numerically (default: %(default)s)",
    )
    p.add_argument("--out", type=Path, default=None, metavar="FILE.md",
                   help="also write the trace as Markdown")  # fmt: skip
    p.add_argument("--svg", type=Path, default=None, metavar="OUT.svg",
                   help="also draw the graph: values, gradients (needs graphviz)")  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bareprop.check.trace import to_markdown, trace_batch
    from bareprop.data.mnist import load_split, preprocess, shaped_for
    from bareprop.files.atomic import write_text
    from bareprop.train.run import build, seeded_rngs

    # The weights are those `bareprop train` starts from (drawn at its default dtype); the
    # trace itself runs on a float64 copy of them, so --dtype is not an option here.
    config = config_from_args(args)
    if args.probes < 1:
        raise ValueError(f"--probes must be a positive integer, got {args.probes}")
    if args.out is not None and args.out.is_dir():
        raise ValueError(f"--out {args.out}: is a folder; give a file name such as trace.md")
    images, labels = load_split(config.data_dir, "train")
    x = preprocess(images[: config.batch_size], np.float64)
    y = labels[: config.batch_size].astype(np.int64)
    model, loss, _ = build(config, x.shape[1:], int(labels.max()) + 1, seeded_rngs(config.seed))
    x = shaped_for(model, x, images.shape[1:])
    trace = trace_batch(model, loss, x, y, probes=args.probes)
    trace.title = (
        f"Network {_describe(config, x.shape[1:], model)}, {config.loss} loss "
        f"({config.reduction}); "
        f"weights at initialisation ({config.init}, seed {config.seed}), float64. "
        f"Batch: the first {len(x)} training samples, labels y = {y.tolist()}."
    )
    render(trace)
    if args.out is not None:
        write_text(args.out, to_markdown(trace))
        print(f"wrote {args.out}")
    if args.svg is not None:
        from bareprop.show.graph_svg import draw_network, write_svg

        print(f"wrote {write_svg(draw_network(model, loss, x, y), args.svg)}")
    return 0


def _describe(config: Any, sample: tuple[int, ...], model: Any) -> str:
    """``784 -> 16 -> 10, relu, dropout 0`` for an MLP; the layer list for any other net."""
    if config.model == "mlp" and config.model_file is None:
        sizes = " -> ".join(map(str, [sample[0], *config.hidden, model.output_shape(sample)[0]]))
        return f"{sizes}, {config.activation}, dropout {config.dropout:g}"
    names = ", ".join(type(layer).__name__ for layer in model.flat())
    return f"{'x'.join(map(str, sample))} -> {names}"


def render(trace: Any) -> None:
    """The trace as rich tables on the terminal."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from bareprop.check.trace import PROBE_HEADER, STEP_HEADER, probe_rows, step_rows

    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 120
    console.print(escape(trace.title))
    sections = [
        ("Forward", STEP_HEADER, step_rows(trace.forward)),
        ("Backward", STEP_HEADER, step_rows(trace.backward)),
        (f"Gradient check (central differences, eps={trace.eps:g})", PROBE_HEADER,
         probe_rows(trace)),
    ]  # fmt: skip
    for title, header, rows in sections:
        table = Table(title=title, title_justify="left", title_style="bold")
        for col in header:
            table.add_column(
                col, justify="left" if col in ("formula", "entry", "values") else "right"
            )
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))  # [y_i] is text, not markup
        console.print(table)
