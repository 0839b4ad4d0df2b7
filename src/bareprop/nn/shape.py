"""``Flatten``: ``(N, d1, d2, ...) -> (N, d1 * d2 * ...)``, as ``torch.nn.Flatten()``.

A reshape in C order, so a ``(N, C, H, W)`` image becomes rows of ``C * H * W`` features,
channel by channel; ``backward`` reshapes the gradient back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.nn.layer import Layer, register_layer
from bareprop.validation import check_shape


@register_layer
class Flatten(Layer):
    """Flatten every dimension but the first (torch's ``start_dim=1, end_dim=-1``).

    Shapes: x ``(N, *rest)`` -> y ``(N, prod(rest))``; dx has x's shape.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:  # x: (N, ...)
        x = self._begin_forward(x)  # at least 2 dims, or a named error
        self._x_shape = x.shape
        return x.reshape(len(x), -1)  # (N, prod(rest))

    def backward(self, dy: np.ndarray) -> np.ndarray:  # dy: (N, prod(rest))
        dy = self._begin_backward(dy)
        return dy.reshape(self._x_shape)

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> list[tuple[int, ...]]:
        """No parameters; a non-empty config is an error."""
        if config:
            raise ValueError(f"Flatten takes no arguments, got config {config!r}")
        return []

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(d1, d2, ...) -> (d1 * d2 * ...,)``; ValueError for an empty per-sample shape."""
        shape = check_shape(shape, "shape")
        if not shape:
            raise ValueError("Flatten expects a per-sample shape with at least 1 dim, got ()")
        return (int(np.prod(shape)),)
