"""Losses: ``forward(pred, target) -> float`` and ``backward() -> dpred``.

Both mean what torch's do (``torch.nn.CrossEntropyLoss`` on logits, ``torch.nn.MSELoss``),
with ``reduction="mean"`` or ``"sum"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.validation import check_labels

REDUCTIONS = ("mean", "sum")


def _check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    return reduction


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for any finite logits."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Loss:
    """Base class. ``__call__`` is ``forward``."""

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = _check_reduction(reduction)

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> float:
        return self.forward(pred, target)

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, fused, on logits and integer labels.

    ``loss_i = -log softmax(z_i)[y_i] = logsumexp(z_i) - z_i[y_i]``, averaged (``"mean"``) or
    summed (``"sum"``) over the batch, as ``torch.nn.CrossEntropyLoss``.

    Shapes: pred ``(N, C)`` logits, target ``(N,)`` integers in ``[0, C)``.
    """

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        if pred.ndim != 2:
            raise ValueError(f"pred must be 2-D logits (N, C), got shape {pred.shape}")
        labels = check_labels(target, pred.shape[1], "target", n_samples=pred.shape[0])
        shifted = pred - pred.max(axis=1, keepdims=True)  # exp cannot overflow
        self._exp = np.exp(shifted)
        self._sums = self._exp.sum(axis=1, keepdims=True)  # >= 1: the max contributes exp(0)
        self._labels = labels
        # sum_i logsumexp(z_i) - z_i[y_i], in float64 (the max cancels out)
        picked = shifted[np.arange(len(labels)), labels]
        total = np.log(self._sums).sum(dtype=np.float64) - picked.sum(dtype=np.float64)
        return float(total / len(labels) if self.reduction == "mean" else total)

    def backward(self) -> np.ndarray:
        # d/dz of logsumexp(z) - z[y] is softmax(z) - onehot(y): the softmax Jacobian and the
        # log's 1/p cancel, which is why the two are fused instead of chained. The mean's 1/N
        # is folded into the normalisation: one multiply instead of a divide and a divide.
        scale = 1.0 / len(self._labels) if self.reduction == "mean" else 1.0
        grad = self._exp * (scale / self._sums)  # softmax(z) / N
        grad[np.arange(len(self._labels)), self._labels] -= scale  # - onehot(y) / N
        return grad


class MSELoss(Loss):
    """Squared error ``(pred - target)^2``, averaged over all elements (``"mean"``) or summed.

    As ``torch.nn.MSELoss``. ``target`` has the shape of ``pred``; as a convenience, integer
    class labels of shape ``(N,)`` are also accepted and one-hot encoded first.
    """

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        target = np.asarray(target)
        if target.ndim == 1 and pred.ndim == 2:
            labels = check_labels(target, pred.shape[1], "target", n_samples=pred.shape[0])
            target = np.zeros_like(pred)
            target[np.arange(len(labels)), labels] = 1
        if target.shape != pred.shape:
            raise ValueError(f"target shape {target.shape} does not match pred shape {pred.shape}")
        self._diff = pred - target
        total = np.square(self._diff).sum(dtype=np.float64)
        return float(total / self._diff.size if self.reduction == "mean" else total)

    def backward(self) -> np.ndarray:
        scale = 2.0 / self._diff.size if self.reduction == "mean" else 2.0
        return self._diff * self._diff.dtype.type(scale)


LOSSES: dict[str, type[Loss]] = {
    "cross-entropy": SoftmaxCrossEntropy,
    "mse": MSELoss,
}
