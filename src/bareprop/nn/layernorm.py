"""``LayerNorm``: normalisation over each sample's last dimensions, as ``torch.nn.LayerNorm``.

The maths and its backward (staged and closed form) are in :mod:`bareprop.nn.norm`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.nn.layer import Layer, Parameter, register_layer
from bareprop.nn.norm import ln_args, normalize_backward
from bareprop.validation import check_shape


@register_layer
class LayerNorm(Layer):
    """Layer normalisation over each sample's last dimensions, as ``torch.nn.LayerNorm``.

    Args:
        normalized_shape: the shape of the last dimensions normalised over, e.g. ``F`` for
            ``(N, F)`` or ``(C, H, W)`` for ``(N, C, H, W)``.
        eps: added to the variance before the square root.
        dtype: float32 (default) or float64.

    Parameters ``weight`` (ones) and ``bias`` (zeros), of shape ``normalized_shape``, applied
    elementwise. No running statistics: training and eval compute the same thing.
    """

    def __init__(
        self, normalized_shape: int | tuple[int, ...], *, eps: float = 1e-5, dtype: Any = np.float32
    ) -> None:
        args = ln_args(normalized_shape, eps, dtype)
        self.normalized_shape: tuple[int, ...] = args["normalized_shape"]
        self.eps: float = args["eps"]
        self.dtype: np.dtype = args["dtype"]
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=self.dtype))
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=self.dtype))

    def forward(self, x: np.ndarray) -> np.ndarray:  # x: (N, ..., *normalized_shape)
        x = self._begin_forward(x)  # cast to self.dtype; the shape checked, or a named error
        k = len(self.normalized_shape)
        self._axes = tuple(range(x.ndim - k, x.ndim))  # the normalised dimensions
        mean = x.mean(axis=self._axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=self._axes, keepdims=True)  # biased
        self._inv_std = 1 / np.sqrt(var + self.eps)  # (..., 1, ..., 1)
        self._xhat = (x - mean) * self._inv_std
        return self.weight.data * self._xhat + self.bias.data

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._begin_backward(dy)
        batch_axes = tuple(range(dy.ndim - len(self.normalized_shape)))  # gamma's broadcast
        self.weight.grad[...] = (dy * self._xhat).sum(axis=batch_axes)
        self.bias.grad[...] = dy.sum(axis=batch_axes)
        dxhat = dy * self.weight.data
        return normalize_backward(dxhat, self._xhat, self._inv_std, self._axes)

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def get_config(self) -> dict[str, Any]:
        return {
            "normalized_shape": list(self.normalized_shape),
            "eps": self.eps,
            "dtype": self.dtype.name,
        }

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> list[tuple[int, ...]]:
        """weight and bias, each ``normalized_shape``."""
        shape = ln_args(**config)["normalized_shape"]
        return [shape, shape]

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The same shape; ValueError if it does not end with ``normalized_shape``."""
        shape = check_shape(shape, "shape")
        k = len(self.normalized_shape)
        if len(shape) < k or shape[len(shape) - k :] != self.normalized_shape:
            raise ValueError(
                f"LayerNorm expects a per-sample shape ending with {self.normalized_shape}, "
                f"got {shape}"
            )
        return shape
