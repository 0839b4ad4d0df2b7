"""Figures, drawn with matplotlib on the headless Agg backend. An edge module."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bareprop.serialization import atomic_write  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> None:
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def save_curves(history: dict[str, list[float]], path: Path) -> None:
    """Loss and accuracy per epoch, training and validation, side by side."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy")):
        ax.plot(epochs, history[key], "o-", label="train")
        if history.get(f"val_{key}"):
            ax.plot(epochs, history[f"val_{key}"], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_acc.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    _save(fig, path)


def save_confusion(confusion: np.ndarray, path: Path, *, title: str = "test confusion matrix") -> None:
    """Heatmap with the count in every cell; rows are true classes, columns predictions."""
    n = len(confusion)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(image, ax=ax)
    threshold = confusion.max() / 2
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if confusion[i, j] > threshold else "black")  # fmt: skip
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(confusion) / max(1, confusion.sum())
    ax.set_title(f"{title} (accuracy {100 * accuracy:.2f}%)")
    _save(fig, path)
