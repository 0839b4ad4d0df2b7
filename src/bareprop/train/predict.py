"""Using a trained model: ``evaluate``, ``predict``, ``predict_proba``, and the input checks
``fit`` shares with them."""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.fast.plan import Plan
from bareprop.nn import Layer, Sigmoid
from bareprop.nn.losses import Loss, softmax
from bareprop.validation import check_labels, check_model_input, check_positive


def model_dtype(model: Layer) -> np.dtype:
    """The dtype inputs are cast to: the model's (float32 for a layer that has none)."""
    return np.dtype(getattr(model, "dtype", np.float32))


def check_inputs(model: Layer, x: Any, name: str = "x") -> tuple[np.ndarray, int]:
    """``x`` checked for ``model`` and cast to its dtype (by
    :func:`~bareprop.validation.check_model_input`: numbers, the model's input shape, finite
    after the cast), and the number of classes (outputs per sample) the model gives for it."""
    arr, out_shape = check_model_input(model, x, name)
    return arr, out_shape[-1]


def check_loss(loss: Any, *, optional: bool = False) -> None:
    """``loss`` is a :class:`~bareprop.nn.losses.Loss` instance (or None if ``optional``)."""
    if not (isinstance(loss, Loss) or (optional and loss is None)):
        none = " or None" if optional else ""
        raise TypeError(
            f"loss must be a Loss instance (e.g. SoftmaxCrossEntropy()){none}, got {loss!r}"
        )


IMAGE_BATCH = 256  # rows per forward pass for image inputs: bounds a CNN's activations


def outputs(model: Layer, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's outputs for all of ``x``, in eval mode, batch by batch (through a
    :class:`~bareprop.fast.plan.Plan`: buffers allocated once, Linear+ReLU fused)."""
    check_positive(batch_size, "batch_size", integer=True)
    x, n_classes = check_inputs(model, x)
    restore_modes = model.saved_modes()
    model.eval()
    try:
        plan = Plan(model)
        if x.ndim > 2:  # images: a conv layer's output is ~50x its input; keep batches small
            batch_size = min(batch_size, IMAGE_BATCH)
        starts = range(0, len(x), batch_size)
        chunks = [plan.forward(x[i : i + batch_size]).copy() for i in starts]
    finally:
        restore_modes()
    if not chunks:
        return np.zeros((0, n_classes), dtype=model_dtype(model))
    return np.concatenate(chunks)


def evaluate(
    model: Layer, x: np.ndarray, y: np.ndarray, *, loss: Loss | None = None, batch_size: int = 2048
) -> dict[str, float]:
    """Loss (if a ``loss`` is given) and accuracy of ``model`` on ``(x, y)``, in eval mode.

    Returns:
        ``{"accuracy": fraction correct, "loss": per-sample loss (NaN without a loss)}``. A
        sample's loss is the sum over its outputs, averaged over the samples
        (:meth:`~bareprop.nn.losses.Loss.sample_sum`), whatever the loss's ``reduction``: for
        ``MSELoss`` the squared error summed over the classes, as ``fit``'s history reports it.

    Raises:
        ValueError: ``x`` is empty (an accuracy of no samples is not a number).
    """
    check_loss(loss, optional=True)
    out = outputs(model, x, batch_size)
    if len(out) == 0:
        raise ValueError(f"x is empty (shape {np.shape(x)}): there is nothing to evaluate")
    y = check_labels(y, out.shape[1], "y", n_samples=len(out))
    result = {"accuracy": float(np.mean(out.argmax(axis=1) == y)), "loss": float("nan")}
    if loss is not None:
        result["loss"] = loss.sample_sum(loss.forward(out, y), out.shape) / len(y)
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
