"""The studies' figures (matplotlib, imported by the studies when they draw). Each function
writes PNGs into the study's folder and returns ``caption -> path``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bareprop.show.plots import plt, save_figure

SMOOTH = 20  # steps averaged in a loss curve


def smooth(values: list[float], window: int = SMOOTH) -> np.ndarray:
    """Moving average over ``window`` steps (shorter at the start)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return v
    cumulative = np.cumsum(np.insert(v, 0, 0.0))
    counts = np.minimum(np.arange(1, len(v) + 1), window)
    return (cumulative[1:] - cumulative[np.arange(1, len(v) + 1) - counts]) / counts


def init_figures(
    rows: list[dict[str, Any]],
    histories: dict[str, Any],
    ranges: dict[str, tuple[float, float]],
    out: Path,
) -> dict[str, Path]:
    """Histograms at init and after one epoch (pairing x layer), and the loss curves."""
    figures = {}
    for key, when in (("hist_init", "at initialisation"), ("hist_epoch1", "after one epoch")):
        n_layers = len(histories[rows[0]["config"]][key])
        fig, axes = plt.subplots(
            len(rows),
            n_layers,
            figsize=(2.2 * n_layers, 1.25 * len(rows)),
            sharey="row",
            squeeze=False,
        )
        for i, row in enumerate(rows):
            low, high = ranges[row["activation"]]
            for j, counts in enumerate(histories[row["config"]][key]):
                edges = np.linspace(low, high, len(counts) + 1)
                ax = axes[i, j]
                ax.stairs(counts, edges, fill=True, color="C0")
                ax.set_yticks([])
                ax.tick_params(labelsize=7)
                if i == 0:
                    ax.set_title(f"layer {j + 1}", fontsize=9)
                if j == 0:
                    ax.set_ylabel(row["config"], fontsize=8, rotation=0, ha="right", va="center")
        fig.suptitle(f"activations per hidden layer, {when} (share of values per bin)")
        fig.subplots_adjust(left=0.14, right=0.99, top=0.93, bottom=0.03, hspace=0.45, wspace=0.08)
        path = out / f"activations_{key.split('_')[1]}.png"
        save_figure(fig, path)
        figures[f"activation histograms {when}"] = path
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    for ax, act in zip(axes, ("sigmoid", "tanh", "relu"), strict=True):
        for row in (r for r in rows if r["activation"] == act):
            ax.plot(smooth(histories[row["config"]]["step_loss"]), label=row["init"])
        ax.set_title(act)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    axes[0].set_ylabel(f"training loss (mean of {SMOOTH} steps)")
    save_figure(fig, out / "init_curves.png")
    figures["training loss per initialisation"] = out / "init_curves.png"
    return figures


def bn_figure(rows: list[dict[str, Any]], histories: dict[str, Any], out: Path) -> dict[str, Path]:
    """One panel per weight std: training accuracy per epoch, with and without batch norm."""
    scales = list(dict.fromkeys(r["weight_std"] for r in rows))
    cols = min(len(scales), 3)
    n_rows = -(-len(scales) // cols)
    fig, axes = plt.subplots(
        n_rows, cols, figsize=(4 * cols, 2.8 * n_rows), squeeze=False, sharey=True
    )
    for ax, scale in zip(axes.flat, scales, strict=False):
        for row in (r for r in rows if r["weight_std"] == scale):
            acc = histories[row["config"]]["train_accuracy"]
            style = "-" if row["batch_norm"] else "--"
            label = "batch norm" if row["batch_norm"] else "no batch norm"
            ax.plot(range(1, len(acc) + 1), acc, style, label=label)
        ax.set_title(f"weight std {scale:.2g}", fontsize=10)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("epoch")
    for ax in axes.flat[len(scales) :]:
        ax.axis("off")
    axes[0, 0].set_ylabel("training accuracy")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "bn_curves.png")
    return {"training accuracy with and without batch norm": out / "bn_curves.png"}


def optimizer_figure(histories: dict[str, Any], out: Path) -> dict[str, Path]:
    """Left: every optimiser's loss per step; right: test accuracy against training seconds."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4))
    for name, h in histories.items():
        left.plot(smooth(h["step_loss"]), label=name)
        evals = np.asarray(h["evals"], dtype=np.float64).reshape(-1, 3)
        right.plot(evals[:, 1], evals[:, 2], label=name)
    left.set_yscale("log")
    left.set_xlabel("step")
    left.set_ylabel(f"training loss (mean of {SMOOTH} steps)")
    right.axhline(0.97, color="grey", lw=0.8, ls=":")
    right.set_xlabel("seconds of training")
    right.set_ylabel("test accuracy")
    right.set_ylim(0.8, 1.0)
    left.legend(fontsize=8)
    save_figure(fig, out / "optimizer_curves.png")
    return {
        "loss per step and test accuracy over time, per optimiser": out / "optimizer_curves.png"
    }


def regularization_figure(histories: dict[str, Any], out: Path) -> dict[str, Path]:
    """One panel per regulariser: training vs test accuracy per epoch."""
    fig, axes = plt.subplots(1, len(histories), figsize=(4.3 * len(histories), 3.4), sharey=True)
    for ax, (name, h) in zip(np.atleast_1d(axes), histories.items(), strict=True):
        epochs = range(1, len(h["train_accuracy"]) + 1)
        ax.plot(epochs, h["train_accuracy"], "-", label="train")
        ax.plot(epochs, h["test_accuracy"], "--", label="test")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
    np.atleast_1d(axes)[0].set_ylabel("accuracy")
    np.atleast_1d(axes)[0].legend()
    save_figure(fig, out / "regularization_curves.png")
    return {"training vs test accuracy per epoch": out / "regularization_curves.png"}
