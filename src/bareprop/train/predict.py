"""Using a trained model: ``evaluate``, ``predict``, ``predict_proba``, and the input checks
``fit`` shares with them."""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.fast.plan import Plan
from bareprop.nn import Layer, Sigmoid
from bareprop.nn.losses import Loss, softmax
from bareprop.validation import check_features, check_labels, check_positive


def model_dtype(model: Layer) -> np.dtype:
    """The dtype inputs are cast to: the model's (float32 for a layer that has none)."""
    return np.dtype(getattr(model, "dtype", np.float32))


def check_inputs(model: Layer, x: Any, name: str = "x") -> tuple[np.ndarray, int]:
    """``x`` checked against the model's input shape and cast to its dtype; and the number of
    classes (outputs per sample) the model gives for it.

    A model with a fixed 1-D input (an MLP) takes ``(N, features)`` and names a wrong feature
    count; one with another input shape (a conv net's ``(C, H, W)``) takes ``(N, *shape)``.
    """
    shape = model.input_shape()
    arr = np.asarray(x)
    if (shape is None and arr.ndim != 2) or (shape is not None and len(shape) != 1):
        arr = _check_samples(arr, name, shape)
    else:
        arr = check_features(arr, name, n_features=None if shape is None else shape[0])
    out_shape = model.output_shape(tuple(arr.shape[1:]))
    return arr.astype(model_dtype(model), copy=False), out_shape[-1]


def _check_samples(arr: np.ndarray, name: str, shape: tuple[int, ...] | None) -> np.ndarray:
    """A batch of samples of any per-sample ``shape``: numbers, finite, the right shape."""
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim < 2 or (shape is not None and tuple(arr.shape[1:]) != tuple(shape)):
        want = "(N, ...)" if shape is None else f"(N, {', '.join(map(str, shape))})"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


IMAGE_BATCH = 256  # rows per forward pass for image inputs: bounds a CNN's activations


def outputs(model: Layer, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's outputs for all of ``x``, in eval mode, batch by batch (through a
    :class:`~bareprop.fast.plan.Plan`: buffers allocated once, Linear+ReLU fused)."""
    check_positive(batch_size, "batch_size", integer=True)
    x, n_classes = check_inputs(model, x)
    was_training = model.training
    model.eval()
    try:
        plan = Plan(model)
        if x.ndim > 2:  # images: a conv layer's output is ~50x its input; keep batches small
            batch_size = min(batch_size, IMAGE_BATCH)
        starts = range(0, len(x), batch_size)
        chunks = [plan.forward(x[i : i + batch_size]).copy() for i in starts]
    finally:
        if was_training:
            model.train()
    if not chunks:
        return np.zeros((0, n_classes), dtype=model_dtype(model))
    return np.concatenate(chunks)


def evaluate(
    model: Layer, x: np.ndarray, y: np.ndarray, *, loss: Loss | None = None, batch_size: int = 2048
) -> dict[str, float]:
    """Loss (if a ``loss`` is given) and accuracy of ``model`` on ``(x, y)``, in eval mode.

    Returns:
        ``{"accuracy": fraction correct, "loss": per-sample loss (NaN without a loss)}``.
    """
    out = outputs(model, x, batch_size)
    y = check_labels(y, out.shape[1], "y", n_samples=len(out))
    result = {"accuracy": float(np.mean(out.argmax(axis=1) == y)) if len(y) else float("nan")}
    result["loss"] = float("nan")
    if loss is not None and len(y):
        value = loss.forward(out, y)
        result["loss"] = value if loss.reduction == "mean" else value / len(y)
    return result


def predict_proba(model: Layer, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
    """Class probabilities, shape ``(N, classes)``.

    For a model that ends in logits this is their softmax. For one that ends in a Sigmoid
    (trained with squared error, as some notebooks do) the outputs are normalised to sum to 1.
    """
    out = outputs(model, x, batch_size)
    flat = getattr(model, "flat", None)
    last = flat()[-1] if callable(flat) else model
    if isinstance(last, Sigmoid):
        total = out.sum(axis=1, keepdims=True)
        return out / np.where(total > 0, total, 1)
    return softmax(out)


def predict(model: Layer, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
    """Predicted class per sample, shape ``(N,)``."""
    return outputs(model, x, batch_size).argmax(axis=1)
