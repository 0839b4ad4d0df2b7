"""Losses: ``forward(pred, target) -> float`` and ``backward() -> dpred``.

Both mean what torch's do (``torch.nn.CrossEntropyLoss`` on logits, ``torch.nn.MSELoss``),
with ``reduction="mean"`` or ``"sum"``.

Inputs follow the layers' rule (:mod:`bareprop.nn.layer`): ``pred`` may be a list or an array
of any real dtype and is computed in float32 if it is float32, in float64 otherwise; a
``backward`` before any ``forward`` is a ``ValueError``.

**Per-sample loss**, the one definition ``fit``'s history, ``evaluate`` and the CLI report: a
sample's loss is the sum over its outputs, and a data set's is the mean over its samples
(:meth:`Loss.sample_sum` / N). For cross-entropy it is the ``"mean"`` value; for squared
error it is ``C`` times the ``"mean"`` value (which averages over all ``N * C`` elements, as
torch's does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.validation import as_float_array, as_numbers, check_forward_done, check_labels

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

    def mean_terms(self, pred_shape: tuple[int, ...]) -> int:
        """How many terms ``"mean"`` averages over for predictions of ``pred_shape``: one per
        sample (cross-entropy)."""
        return pred_shape[0]

    def sample_sum(self, value: float, pred_shape: tuple[int, ...]) -> float:
        """The loss ``value`` of a batch of ``pred_shape`` as the sum over its samples of each
        sample's loss (the sum over its outputs); divide by the number of samples for the
        per-sample loss (see the module doc)."""
        return value * self.mean_terms(pred_shape) if self.reduction == "mean" else value

    def _pred(self, pred: Any, ndim: int | None = None) -> np.ndarray:
        """``pred`` by the layers' dtype rule, of ``ndim`` dimensions if given."""
        pred = as_float_array(pred, "pred")
        if ndim is not None and pred.ndim != ndim:
            raise ValueError(f"pred must be 2-D logits (N, C), got shape {pred.shape}")
        if pred.ndim == 0 or pred.size == 0:
            raise ValueError(f"pred has no samples (shape {pred.shape}): its loss is not a number")
        return pred


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, fused, on logits and integer labels.

    ``loss_i = -log softmax(z_i)[y_i] = logsumexp(z_i) - z_i[y_i]``, averaged (``"mean"``) or
    summed (``"sum"``) over the batch, as ``torch.nn.CrossEntropyLoss``.

    Shapes: pred ``(N, C)`` logits, target ``(N,)`` integers in ``[0, C)``.
    """

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred = self._pred(pred, ndim=2)
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
        check_forward_done(hasattr(self, "_labels"), type(self).__name__)
        # d/dz of logsumexp(z) - z[y] is softmax(z) - onehot(y): the softmax Jacobian and the
        # log's 1/p cancel, which is why the two are fused instead of chained. The mean's 1/N
        # is folded into the normalisation: one multiply instead of a divide and a divide.
        scale = 1.0 / len(self._labels) if self.reduction == "mean" else 1.0
        grad = self._exp * (scale / self._sums)  # softmax(z) / N
        grad[np.arange(len(self._labels)), self._labels] -= scale  # - onehot(y) / N
        return grad


class MSELoss(Loss):
    """Squared error ``(pred - target)^2``, averaged over all elements (``"mean"``) or summed.

    As ``torch.nn.MSELoss``. ``target`` has the shape of ``pred`` and is cast to its dtype (a
    float32 network stays float32). As a convenience, **integer** class labels of shape ``(N,)``
    are also accepted and one-hot encoded first; a float target of another shape is an error,
    never taken for labels.
    """

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred = self._pred(pred)
        target = as_numbers(target, "target")
        if target.ndim == 1 and pred.ndim == 2 and target.dtype.kind in "iu":
            labels = check_labels(target, pred.shape[1], "target", n_samples=pred.shape[0])
            target = np.zeros_like(pred)
            target[np.arange(len(labels)), labels] = 1
        if target.shape != pred.shape:
            raise ValueError(
                f"target shape {target.shape} does not match pred shape {pred.shape} (a 1-D "
                "target is taken as class labels only if it holds integers)"
            )
        if target.dtype.kind == "f" and not np.isfinite(target).all():
            raise ValueError("target contains NaN or infinite values")
        self._diff = pred - target.astype(pred.dtype, copy=False)
        total = np.square(self._diff).sum(dtype=np.float64)
        return float(total / self._diff.size if self.reduction == "mean" else total)

    def backward(self) -> np.ndarray:
        check_forward_done(hasattr(self, "_diff"), type(self).__name__)
        scale = 2.0 / self._diff.size if self.reduction == "mean" else 2.0
        return self._diff * self._diff.dtype.type(scale)

    def mean_terms(self, pred_shape: tuple[int, ...]) -> int:
        """``"mean"`` averages over every element, ``N * C``."""
        return int(np.prod(pred_shape))


LOSSES: dict[str, type[Loss]] = {
    "cross-entropy": SoftmaxCrossEntropy,
    "mse": MSELoss,
}
