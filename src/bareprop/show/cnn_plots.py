"""Figures of a CNN: the first convolution's filters, and the feature maps of one digit.

An edge module: matplotlib on the headless Agg backend, as :mod:`bareprop.show.plots`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bareprop.nn import Conv2d, Layer, Sequential
from bareprop.show.plots import plt, save_figure


def save_filters(weight: np.ndarray, path: Path, *, cols: int = 8) -> None:
    """The filters of a convolution, ``weight`` ``(O, C, kH, kW)``: one tile per output
    channel (its first input channel's kernel), on one symmetric colour scale with a bar."""
    shown = np.asarray(weight[:, 0], dtype=np.float64)  # (O, kH, kW)
    n, rows = len(shown), math.ceil(len(shown) / cols)
    limit = float(np.abs(shown).max()) or 1.0
    fig, axes = plt.subplots(rows, cols, figsize=(1.0 * cols, 1.0 * rows + 0.7), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for kernel, ax in zip(shown, axes.flat, strict=False):
        ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    scale = plt.cm.ScalarMappable(plt.Normalize(-limit, limit), cmap="RdBu_r")
    bar = fig.colorbar(scale, ax=axes, orientation="horizontal", fraction=0.05, pad=0.04,
                       aspect=40)  # fmt: skip
    bar.set_label("kernel weight (red: positive, blue: negative)")
    fig.suptitle(
        f"the {n} filters of the first convolution ({'x'.join(map(str, shown.shape[1:]))})"
    )
    save_figure(fig, path)


def save_feature_maps(
    model: Sequential, x: np.ndarray, label: int, path: Path, *, cols: int = 16
) -> None:
    """One digit ``x`` ``(1, C, H, W)`` through ``model`` in eval mode: the image, then the
    output channels (up to ``cols``) of every convolution, one row per convolution."""
    maps: list[tuple[str, np.ndarray]] = []
    was_training = model.training
    model.eval()
    try:
        h = x
        for i, layer in enumerate(model.flat()):
            h = layer.forward(h)
            if isinstance(layer, Conv2d):
                maps.append((f"layer {i}: {_name(layer)}", h[0].copy()))
    finally:
        if was_training:
            model.train()
    rows = len(maps)
    fig, axes = plt.subplots(rows, cols + 1, figsize=(0.9 * (cols + 1), 1.1 * rows + 0.4),
                             squeeze=False)  # fmt: skip
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].imshow(x[0, 0], cmap="gray_r")
    axes[0, 0].set_title(f"digit {label}", fontsize=8)
    for row, (title, channels) in enumerate(maps):
        axes[row, 1].set_title(title, fontsize=8, loc="left")
        for ax, channel in zip(axes[row, 1:], channels[:cols], strict=False):
            ax.imshow(channel, cmap="viridis")
    fig.suptitle("feature maps: each convolution's output channels for one test digit")
    save_figure(fig, path)


def _name(layer: Layer) -> str:
    assert isinstance(layer, Conv2d)
    k = "x".join(map(str, layer.kernel_size))
    return f"Conv2d {layer.in_channels}->{layer.out_channels}, {k}"
