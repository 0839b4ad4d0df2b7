"""Figures, drawn with matplotlib on the headless Agg backend. An edge module.

Every ``save_*`` function writes one PNG atomically (no half-written file if drawing fails).
Images are rows of ``rows * cols`` pixels (``(N, 784)`` for MNIST) in any scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bareprop.files.atomic import atomic_write

_ACCURACY_KEYS = (
    ("accuracy", "train", "o-"),
    ("val_accuracy", "validation", "s-"),
    ("test_accuracy", "test", "^-"),
)


# A curve of up to this many points shows its points: a line of one point draws nothing.
FEW_POINTS = 30


def save_figure(fig: plt.Figure, path: Path) -> None:
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def _epoch_axis(ax: plt.Axes, epochs: int) -> None:
    """An x-axis of whole epochs 1..``epochs``: integer ticks only, and room around a few."""
    ax.set_xlabel("epoch")
    if epochs <= 10:
        ax.set_xticks(range(1, epochs + 1))
        ax.set_xlim(0.5, epochs + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def save_curves(history: dict[str, list[float]], path: Path) -> None:
    """Loss (train, validation) and accuracy (train, validation, test if recorded) per epoch."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history["loss"], "o-", label="train")
    if history.get("val_loss"):
        ax_loss.plot(epochs, history["val_loss"], "s-", label="validation")
    for key, label, style in _ACCURACY_KEYS:
        if history.get(key):
            ax_acc.plot(epochs, history[key], style, label=label)
    for ax, title in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        _epoch_axis(ax, len(epochs))
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_acc.yaxis.set_major_formatter(PercentFormatter(1.0))
    save_figure(fig, path)


def save_curves_overlay(
    runs: Sequence[tuple[str, dict[str, list[float]]]], path: Path, *, key: str = "test_accuracy"
) -> None:
    """Several runs overlaid: loss and ``key`` per epoch, one colour per configuration.

    Args:
        runs: ``(configuration name, history)`` pairs; runs of one configuration (its seeds)
            share a colour and a single legend entry.
    """
    names = list(dict.fromkeys(name for name, _ in runs))
    colours = {
        n: plt.get_cmap("tab20" if len(names) > 10 else "tab10")(i % 20)
        for i, n in enumerate(names)
    }
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.5))
    labelled: set[str] = set()
    longest = max((len(history[key]) for _, history in runs), default=1)
    for name, history in runs:
        epochs = np.arange(1, len(history[key]) + 1)
        label = None if name in labelled else name
        labelled.add(name)
        style = {"color": colours[name], "alpha": 0.8, "label": label}
        if len(epochs) <= FEW_POINTS:
            style.update(marker="o", markersize=5 if len(epochs) > 1 else 7)
        ax_loss.plot(epochs, history["loss"], **style)
        ax_acc.plot(epochs, history[key], **style)
    ax_loss.set_yscale("log")
    for ax, title in ((ax_loss, "training loss"), (ax_acc, key.replace("_", " "))):
        _epoch_axis(ax, longest)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    ax_acc.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax_acc.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save_figure(fig, path)


def save_confusion(
    confusion: np.ndarray, path: Path, *, title: str = "test confusion matrix"
) -> None:
    """Heatmap with the count in every cell; rows are true classes, columns predictions."""
    n = len(confusion)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(image, ax=ax)
    threshold = confusion.max() / 2
    for i in range(n):
        for j in range(n):
            colour = "white" if confusion[i, j] > threshold else "black"
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(confusion) / max(1, confusion.sum())
    ax.set_title(f"{title} (accuracy {100 * accuracy:.2f}%)")
    save_figure(fig, path)


def _image_grid(
    images: np.ndarray, titles: Sequence[str], path: Path, *, cols: int, suptitle: str
) -> None:
    side = math.isqrt(images.shape[1])
    rows = max(1, math.ceil(len(images) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(1.3 * cols, 1.5 * rows + 0.3), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles, strict=False):
        ax.imshow(image.reshape(side, side), cmap="gray_r")
        ax.set_title(title, fontsize=8)
    fig.suptitle(suptitle)
    save_figure(fig, path)


def save_samples(
    images: np.ndarray, labels: np.ndarray, path: Path, *, n: int = 20, cols: int = 10
) -> None:
    """The first ``n`` images with their labels."""
    n = min(n, len(images))
    _image_grid(
        images[:n],
        [f"label {int(y)}" for y in labels[:n]],
        path,
        cols=cols,
        suptitle="sample digits",
    )


def most_confident_errors(probs: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of up to ``n`` misclassified samples, the most confident (highest top
    probability) first."""
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probs[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")[:n]]


def save_misclassified(
    images: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    path: Path,
    *,
    n: int = 20,
    cols: int = 10,
) -> None:
    """The most confidently misclassified images, titled ``true -> predicted (p)``."""
    idx = most_confident_errors(probs, labels, n)
    predicted = probs.argmax(axis=1)
    titles = [f"{labels[i]}→{predicted[i]} ({probs[i, predicted[i]]:.2f})" for i in idx]
    suptitle = (
        f"most confidently misclassified ({len(idx)} of {int(np.sum(predicted != labels))} "
        "errors)\nabove each: true label→predicted (the probability the model gave its prediction)"
    )
    _image_grid(images[idx], titles, path, cols=cols, suptitle=suptitle)


def save_first_layer(weight: np.ndarray, path: Path, *, n: int = 40, cols: int = 10) -> None:
    """The first ``n`` units' input weights (columns of ``weight``, shape ``(784, units)``) as
    images, all on one symmetric colour scale (red positive, blue negative, white 0) with a
    colour bar, so that sign and size compare across tiles. The scale ends at the 99.5th
    percentile of ``|w|``; the rare larger weights take the end colours (the bar's arrows)."""
    side = math.isqrt(weight.shape[0])
    if side * side != weight.shape[0]:
        raise ValueError(f"weight has {weight.shape[0]} inputs, not a square image")
    n = min(n, weight.shape[1])
    rows = math.ceil(n / cols)
    shown = np.asarray(weight[:, :n], dtype=np.float64)
    limit = float(np.percentile(np.abs(shown), 99.5)) or 1.0
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 1.2 * rows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for j, ax in zip(range(n), axes.flat, strict=False):
        ax.imshow(shown[:, j].reshape(side, side), cmap="RdBu_r", vmin=-limit, vmax=limit)
    scale = plt.cm.ScalarMappable(plt.Normalize(-limit, limit), cmap="RdBu_r")
    bar = fig.colorbar(scale, ax=axes, orientation="horizontal", fraction=0.04, pad=0.03,
                       extend="both", aspect=50)  # fmt: skip
    bar.set_label("weight from a pixel to the unit (red: positive, blue: negative)")
    fig.suptitle(f"first-layer weights of {n} of {weight.shape[1]} units, one tile per unit")
    save_figure(fig, path)


def save_per_class(confusion: np.ndarray, path: Path) -> None:
    """Test error (100% - recall) of each true class as bars from 0, the overall error as a
    dashed line. Errors, not accuracies: bars must start at 0 to compare honestly, and
    accuracies of 95-99% drawn from 0 would all look the same."""
    totals = confusion.sum(axis=1)
    correct = np.divide(np.diag(confusion), totals, out=np.zeros(len(confusion)), where=totals > 0)
    error = np.where(totals > 0, 1.0 - correct, 0.0)
    overall = 1.0 - np.trace(confusion) / max(1, confusion.sum())
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    bars = ax.bar(range(len(error)), error, color="tab:blue")
    ax.bar_label(bars, labels=[f"{100 * e:.1f}%" for e in error], fontsize=7, padding=1)
    ax.axhline(overall, color="tab:red", ls="--", label=f"all classes\n{100 * overall:.2f}%")
    ax.set_xticks(range(len(error)))
    ax.set_xlabel("true class")
    ax.set_ylabel("test error (lower is better)")
    ax.set_ylim(0.0, max(float(error.max()), overall, 0.01) * 1.15)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title("test error per class: share of each digit's test images misclassified")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # beside, never on, bars
    save_figure(fig, path)


def save_accuracy_by_config(
    names: Sequence[str],
    means: Sequence[float],
    stds: Sequence[float],
    path: Path,
    *,
    reported: Sequence[float | None] | None = None,
    runs: Sequence[int] | None = None,
) -> None:
    """Mean test accuracy per configuration as a dot with an error bar (std over seeds); a
    notebook's reported figure, where given, as a black diamond.

    Dots, not bars: the axis starts near the lowest accuracy, and a bar's length would
    then exaggerate the differences. ``runs``: seeds per configuration; a single run has no
    spread, so it gets no error bar.
    """
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.2))
    n_runs = list(runs) if runs is not None else [2] * len(names)
    spread = [0.0 if r == 1 else sd for r, sd in zip(n_runs, stds, strict=True)]
    label = "ours (one run each)" if max(n_runs, default=1) == 1 else "ours (mean ± std over seeds)"
    if max(n_runs, default=1) == 1:
        ax.plot(means, y, "o", color="tab:blue", label=label)
    else:
        ax.errorbar(means, y, xerr=spread, fmt="o", color="tab:blue", capsize=3, label=label)
    if reported is not None and any(r is not None for r in reported):
        points = [(r, i) for i, r in enumerate(reported) if r is not None]
        ax.plot([r for r, _ in points], [i for _, i in points], "kD", label="notebook reported")
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)  # first configuration on top
    low = min([*means, *(r for r in (reported or []) if r is not None)], default=0.0)
    ax.set_xlim(max(0.0, low - 0.05), 1.0)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, path)
