"""``Linear``: the fully connected layer ``y = x @ W + b``."""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.nn.init import Initializer, draw
from bareprop.nn.layer import Layer, Parameter, register_layer
from bareprop.validation import check_dtype, check_positive, check_rng


@register_layer
class Linear(Layer):
    """Fully connected layer ``y = x @ W + b``.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        init: initialiser name (see :mod:`bareprop.nn.init`) or a callable
            ``(shape, rng, dtype) -> ndarray`` for the weight; the bias starts at zero.
        rng: ``numpy.random.Generator`` for the initialiser (a fresh unseeded one if None).
        dtype: float32 (default) or float64.

    Shapes:
        weight ``(in_features, out_features)`` (torch keeps the transpose), bias
        ``(out_features,)``; x ``(N, in_features)`` -> y ``(N, out_features)``.

    ``fit`` and ``predict`` run this maths through :mod:`bareprop.fast.plan` (fused with the
    ReLU after it, into kept buffers), which ``tests/test_speed.py`` proves bit-identical.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: str | Initializer = "glorot_uniform",
        rng: np.random.Generator | None = None,
        dtype: Any = np.float32,
    ) -> None:
        check_positive(in_features, "in_features", integer=True)
        check_positive(out_features, "out_features", integer=True)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.dtype = check_dtype(dtype)
        w = draw(init, (self.in_features, self.out_features), check_rng(rng), self.dtype)
        self.weight = Parameter(w)
        self.bias = Parameter(np.zeros(self.out_features, dtype=self.dtype))
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:  # x: (N, in)
        x = self._begin_forward(x)  # cast to self.dtype; (N, in_features) or a named error
        self._x = x
        return x @ self.weight.data + self.bias.data  # (N, out)

    def backward(self, dy: np.ndarray) -> np.ndarray:  # dy: (N, out)
        dy = self._begin_backward(dy)
        assert self._x is not None
        self.weight.grad[...] = self._x.T @ dy  # (in, out)
        self.bias.grad[...] = dy.sum(axis=0)  # (out,)
        return dy @ self.weight.data.T  # (N, in)

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def input_shape(self) -> tuple[int, ...]:
        return (self.in_features,)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if tuple(shape) != (self.in_features,):
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) takes inputs of "
                f"{self.in_features} features, got per-sample shape {tuple(shape)}"
            )
        return (self.out_features,)

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> list[tuple[int, ...]]:
        n_in, n_out = config.get("in_features"), config.get("out_features")
        return [(n_in, n_out), (n_out,)]  # type: ignore[list-item]  # checked against the file

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "dtype": self.dtype.name,
        }
