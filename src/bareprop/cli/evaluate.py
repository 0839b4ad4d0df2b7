"""``bareprop evaluate MODEL``: accuracy, per-class precision and recall, confusion matrix."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate", help="test a saved model: accuracy, per-class table, confusion matrix"
    )
    p.add_argument("model", help="a model.npz written by bareprop train")
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="folder with the four IDX files (default: $BAREPROP_DATA, else the bundled MNIST)",
    )
    p.set_defaults(run=run)


def per_class(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and support per class from a confusion matrix (rows = true)."""
    tp = np.diag(confusion).astype(float)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    return precision, recall, support


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from bareprop.data.mnist import inputs_for, load_split
    from bareprop.files.model_file import load
    from bareprop.train.fit import predict
    from bareprop.train.run import confusion_matrix

    model = load(args.model)
    x_test, y_test = load_split(args.data_dir, "test")
    try:
        x = inputs_for(model, x_test)
    except ValueError as e:
        raise ValueError(f"{args.model}: {e}") from None
    n = model.output_shape(x.shape[1:])[-1]
    if y_test.max() >= n:
        raise ValueError(
            f"{args.model}: the model has {n} classes, the data has label {y_test.max()}"
        )
    confusion = confusion_matrix(y_test.astype(np.int64), predict(model, x), n)
    precision, recall, support = per_class(confusion)
    console = Console(highlight=False)

    table = Table(title="per class", title_justify="left")
    for col in ("class", "precision", "recall", "f1", "support"):
        table.add_column(col, justify="right")
    for c in range(n):
        f1 = (
            2 * precision[c] * recall[c] / (precision[c] + recall[c])
            if precision[c] + recall[c]
            else 0.0
        )
        table.add_row(
            str(c), f"{precision[c]:.4f}", f"{recall[c]:.4f}", f"{f1:.4f}", str(support[c])
        )
    console.print(table)

    matrix = Table(title="confusion matrix (rows: true, columns: predicted)", title_justify="left")
    matrix.add_column("", justify="right", style="bold")
    for c in range(n):
        matrix.add_column(str(c), justify="right")
    for i in range(n):
        matrix.add_row(
            str(i), *(f"[bold]{v}[/]" if i == j else str(v) for j, v in enumerate(confusion[i]))
        )
    console.print(matrix)
    accuracy = np.trace(confusion) / confusion.sum()
    print(f"test accuracy: {100 * accuracy:.2f}%")
    return 0
