"""Activations: ``ReLU``, ``LeakyReLU``, ``Sigmoid``, ``Tanh``, each with its derivative."""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.nn.layer import Layer, register_layer
from bareprop.validation import check_range


@register_layer
class ReLU(Layer):
    """``y = max(x, 0)``; ``dx = dy * [x > 0]`` (the derivative at 0 is taken as 0, as torch)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._begin_forward(x)
        self._y = np.maximum(x, 0)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._begin_backward(dy)
        return dy * (self._y > 0)


@register_layer
class LeakyReLU(Layer):
    """``y = x if x > 0 else a * x``; ``dx = dy * (1 if x > 0 else a)``.

    Args:
        negative_slope: ``a``, the slope for negative inputs (torch's default 0.01).
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        check_range(negative_slope, "negative_slope", 0.0, 1.0)
        self.negative_slope = float(negative_slope)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._begin_forward(x)  # a float array: integers would round the slope to 0
        self._positive = x > 0
        return np.where(self._positive, x, x * x.dtype.type(self.negative_slope))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._begin_backward(dy)
        return np.where(self._positive, dy, dy * dy.dtype.type(self.negative_slope))

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


@register_layer
class Sigmoid(Layer):
    """``y = 1 / (1 + exp(-x))``; ``dx = dy * y * (1 - y)``.

    Computed from ``e = exp(-|x|)`` so that no input overflows ``exp``.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._begin_forward(x)
        e = np.exp(-np.abs(x))
        self._y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._begin_backward(dy)
        y = self._y
        return dy * y * (1 - y)


@register_layer
class Tanh(Layer):
    """``y = tanh(x)``; ``dx = dy * (1 - y^2)``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._begin_forward(x)
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._begin_backward(dy)
        return dy * (1 - self._y * self._y)


ACTIVATIONS: dict[str, type[Layer]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
}
