"""What the page draws, computed from a model: plain dicts, ready for JSON.

Images travel as base64 of uint8 arrays (the page turns them into pixels), numbers as floats
rounded to what a chart can show. Every function here runs on the training thread, between
steps, so the model is never read while a step changes it.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.check.trace import probe_rows, step_rows, trace_batch
from bareprop.nn import Layer, Linear
from bareprop.nn.losses import SoftmaxCrossEntropy
from bareprop.nn.sequential import Sequential
from bareprop.train.fit import predict_proba

GRID = 64  # the decision boundary is sampled on GRID x GRID points
BINS = 24
TILES = 32  # first-layer units shown as 28x28 images


def b64(a: np.ndarray) -> str:
    """A uint8 array's bytes (C order) as base64 text."""
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode("ascii")


def grid_points(extent: tuple[float, float, float, float], size: int = GRID) -> np.ndarray:
    """Cell centres of a ``size x size`` grid over ``(x0, x1, y0, y1)``, row 0 at the top.

    Returns:
        ``(size * size, 2)`` float64, row-major (``y`` falls from row to row, as on screen).
    """
    x0, x1, y0, y1 = extent
    xs = x0 + (np.arange(size) + 0.5) * (x1 - x0) / size
    ys = y1 - (np.arange(size) + 0.5) * (y1 - y0) / size
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def boundary(model: Sequential, grid: np.ndarray, size: int = GRID) -> dict[str, Any]:
    """The predicted class and its confidence at each grid point.

    Returns:
        ``{"size", "classes", "pixels"}``: ``pixels`` is base64 of ``(size, size, 2)`` uint8,
        the class, then the confidence rescaled from ``[1/classes, 1]`` to ``[0, 255]``.
    """
    p = predict_proba(model, grid.astype(model.dtype))  # (size * size, classes)
    k = p.shape[1]
    cls = p.argmax(axis=1)
    conf = (p.max(axis=1) - 1.0 / k) / (1.0 - 1.0 / k)
    pixels = np.stack([cls, np.round(255 * np.clip(conf, 0, 1))], axis=1)
    return {"size": size, "classes": k, "pixels": b64(pixels)}


def histogram(a: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    """``{"lo", "hi", "counts"}`` of the finite values of ``a`` over ``bins`` equal bins."""
    a = np.asarray(a, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    if not a.size:
        return {"lo": 0.0, "hi": 0.0, "counts": []}
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, _ = np.histogram(a, bins=bins, range=(lo, hi))
    return {"lo": lo, "hi": hi, "counts": counts.tolist()}


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


def layer_views(model: Sequential, probe: np.ndarray, stats: dict[str, float]) -> list[dict]:
    """Per Linear layer ``k``: histograms of its (activated) outputs on ``probe`` and of its
    weight gradient from the last step, with the doctor's numbers from ``stats``.

    Args:
        model: the network, run here in eval mode.
        probe: ``(P, in_features)`` inputs.
        stats: :meth:`bareprop.train.doctor.Doctor.epoch_stats` (``layer{k}_dead`` etc.).
    """
    was_training = model.training
    model.eval()
    views: list[dict] = []
    try:
        h = probe.astype(model.dtype, copy=False)
        for layer in model.layers:
            h = layer.forward(h)
            if isinstance(layer, Linear):
                k = len(views) + 1
                views.append({
                    "name": f"layer {k}: Linear {layer.in_features}->{layer.out_features}",
                    "grad": histogram(layer.weight.grad),
                    "grad_norm": _finite(stats.get(f"layer{k}_grad_norm")),
                    "update_ratio": _finite(stats.get(f"layer{k}_update_ratio")),
                    "dead": _finite(stats.get(f"layer{k}_dead")),
                    "saturated": _finite(stats.get(f"layer{k}_saturated")),
                })  # fmt: skip
            if views:  # the output of the layer's activation (or of the Linear, at the end)
                views[-1]["activation"] = histogram(h)
                views[-1]["after"] = type(layer).__name__
    finally:
        if was_training:
            model.train()
    return views


def weight_tiles(model: Sequential, n: int = TILES) -> dict[str, Any]:
    """The first ``n`` units' input weights as 28x28 images, each scaled by its largest |w|.

    Returns:
        ``{"count", "pixels"}``: base64 of ``(count, 784)`` uint8, 128 meaning 0.
    """
    first = next(layer for layer in model.layers if isinstance(layer, Linear))
    w = first.weight.data[:, :n].T.astype(np.float64)  # (count, 784)
    scale = np.abs(w).max(axis=1, keepdims=True)
    tiles = 128 + 127 * w / np.where(scale > 0, scale, 1)
    return {"count": len(w), "pixels": b64(np.round(tiles))}


def trace_view(model: Sequential, x: np.ndarray, y: np.ndarray, title: str) -> dict[str, Any]:
    """One sample walked through the network with :func:`bareprop.check.trace.trace_batch`.

    Args:
        x: ``(1, in_features)``. y: ``(1,)``.
    """
    trace = trace_batch(model, SoftmaxCrossEntropy(), x, y, probes=1)
    return {
        "title": title,
        "loss": _finite(trace.loss),
        "forward": step_rows(trace.forward),
        "backward": step_rows(trace.backward),
        "probes": probe_rows(trace),
    }


def hidden_activations(model: Sequential, x: np.ndarray) -> list[list[float]]:
    """The output of every hidden activation layer for the rows of ``x`` (eval mode), sample 0."""
    was_training = model.training
    model.eval()
    out: list[list[float]] = []
    try:
        h = x
        layers: list[Layer] = model.layers
        for i, layer in enumerate(layers):
            h = layer.forward(h)
            block_end = i + 1 < len(layers) and isinstance(layers[i + 1], Linear)
            if block_end and not isinstance(layer, Linear):
                out.append([round(float(v), 4) for v in h[0]])
    finally:
        if was_training:
            model.train()
    return out


def read_drawing(png: bytes) -> np.ndarray:
    """A drawing (PNG bytes) as ``bareprop predict`` sees an image file: ``(28, 28)`` uint8.

    :func:`bareprop.show.images.to_mnist` reads a path, so the bytes go through a temporary file.
    """
    from bareprop.show.images import to_mnist  # Pillow, imported where it is used

    with tempfile.TemporaryDirectory(prefix="bareprop-draw-") as tmp:
        path = Path(tmp) / "drawing.png"
        path.write_bytes(png)
        return to_mnist(path)


def digit_view(model: Sequential, image: np.ndarray) -> dict[str, Any]:
    """Probabilities, prediction and hidden activations of ``model`` for one 28x28 image."""
    from bareprop.data.mnist import preprocess

    x = preprocess(image[None], model.dtype)  # (1, 784) in [0, 1]
    probs = predict_proba(model, x)[0]
    return {
        "prediction": int(probs.argmax()),
        "probabilities": [round(float(p), 5) for p in probs],
        "hidden": hidden_activations(model, x),
        "image": b64(image),
    }
