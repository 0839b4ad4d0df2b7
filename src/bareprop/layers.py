"""Layers with an explicit forward and backward.

The contract every layer keeps:

* ``forward(x) -> y`` keeps what ``backward`` needs;
* ``backward(dy) -> dx`` returns the gradient with respect to the input of the last
  ``forward`` and **sets** (overwrites, never accumulates) the ``.grad`` of the layer's own
  parameters, so no ``zero_grad`` is needed;
* ``parameters() -> list[Parameter]``; ``train()`` / ``eval()`` switch mode;
* ``get_config() -> dict`` round-trips through :func:`layer_from_config`.

Each derivative sits next to the function it differentiates, so a reader checks one against
the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop._checks import check_dtype, check_range, check_rng
from bareprop.initializers import Initializer, get_initializer


class Parameter:
    """A trainable array and its gradient.

    Attributes:
        data: the values, an ndarray.
        grad: the gradient of the loss with respect to ``data``; same shape and dtype.
    """

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Layer:
    """Base class: identity with no parameters. Subclasses override what they need."""

    training: bool = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def parameters(self) -> list[Parameter]:
        return []

    def train(self) -> Layer:
        self.training = True
        return self

    def eval(self) -> Layer:
        self.training = False
        return self

    def get_config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Linear(Layer):
    """Fully connected layer ``y = x @ W + b``.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        init: initialiser name (see :mod:`bareprop.initializers`) or a callable
            ``(shape, rng, dtype) -> ndarray`` for the weight; the bias starts at zero.
        rng: ``numpy.random.Generator`` for the initialiser (a fresh unseeded one if None).
        dtype: float32 (default) or float64.

    Shapes:
        weight ``(in_features, out_features)`` (torch keeps the transpose), bias
        ``(out_features,)``; x ``(N, in_features)`` -> y ``(N, out_features)``.
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
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.dtype = check_dtype(dtype)
        init_fn = get_initializer(init) if isinstance(init, str) else init
        rng = check_rng(rng)
        w = init_fn((self.in_features, self.out_features), rng, self.dtype)
        self.weight = Parameter(np.asarray(w, dtype=self.dtype))
        self.bias = Parameter(np.zeros(self.out_features, dtype=self.dtype))
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:  # x: (N, in)
        self._x = x
        return x @ self.weight.data + self.bias.data  # (N, out)

    def backward(self, dy: np.ndarray) -> np.ndarray:  # dy: (N, out)
        assert self._x is not None, "backward() called before forward()"
        np.matmul(self._x.T, dy, out=self.weight.grad)  # (in, out)
        np.sum(dy, axis=0, out=self.bias.grad)  # (out,)
        return dy @ self.weight.data.T  # (N, in)

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def get_config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "dtype": self.dtype.name,
        }


class ReLU(Layer):
    """``y = max(x, 0)``; ``dx = dy * [x > 0]`` (the derivative at 0 is taken as 0, as torch)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = np.maximum(x, 0)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * (self._y > 0)


class LeakyReLU(Layer):
    """``y = x if x > 0 else a * x``; ``dx = dy * (1 if x > 0 else a)``.

    Args:
        negative_slope: ``a``, the slope for negative inputs (torch's default 0.01).
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        check_range(negative_slope, "negative_slope", 0.0, 1.0)
        self.negative_slope = float(negative_slope)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._positive = x > 0
        return np.where(self._positive, x, x * x.dtype.type(self.negative_slope))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return np.where(self._positive, dy, dy * dy.dtype.type(self.negative_slope))

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class Sigmoid(Layer):
    """``y = 1 / (1 + exp(-x))``; ``dx = dy * y * (1 - y)``.

    Computed from ``e = exp(-|x|)`` so that no input overflows ``exp``.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        e = np.exp(-np.abs(x))
        self._y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        y = self._y
        return dy * y * (1 - y)


class Tanh(Layer):
    """``y = tanh(x)``; ``dx = dy * (1 - y^2)``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * (1 - self._y * self._y)


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
        if not self.training or self.p == 0.0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self._scale = keep * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self._scale

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy if self._scale is None else dy * self._scale

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}


LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls for cls in (Linear, ReLU, LeakyReLU, Sigmoid, Tanh, Dropout)
}

ACTIVATIONS: dict[str, type[Layer]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
}


def layer_from_config(config: dict[str, Any], *, rng: np.random.Generator | None = None) -> Layer:
    """Build a layer from ``{"type": name, **get_config()}``.

    A :class:`Linear` built this way has freshly initialised weights; load the saved ones
    into it (see :func:`bareprop.load`).
    """
    kind = config.get("type")
    if kind not in LAYERS:
        raise ValueError(f"unknown layer type {kind!r}; known: {', '.join(LAYERS)}")
    kwargs = {k: v for k, v in config.items() if k != "type"}
    cls = LAYERS[kind]
    if cls in (Linear, Dropout):
        kwargs["rng"] = rng
    return cls(**kwargs)


