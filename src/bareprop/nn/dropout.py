"""``Dropout``: inverted dropout, the identity in eval mode."""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.nn.layer import Layer, register_layer
from bareprop.validation import check_range, check_rng


@register_layer
class Dropout(Layer):
    """Inverted dropout: in training, ``y = x * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)``.

    In eval mode (and for ``p == 0``) it is the identity. ``dx = dy * m / (1 - p)``.

    Args:
        p: probability of zeroing an element, in ``[0, 1)``.
        rng: ``numpy.random.Generator`` that draws the masks (a fresh unseeded one if None).
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        check_range(p, "p", 0.0, 1.0)
        self.p = float(p)
        self.rng = check_rng(rng)
        self._scale: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._begin_forward(x)
        if not self.training or self.p == 0.0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self._scale = keep * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self._scale

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._begin_backward(dy)
        return dy if self._scale is None else dy * self._scale

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}
