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

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from bareprop.fast import kernels as _kernels
from bareprop.nn.init import Initializer, get_initializer
from bareprop.validation import check_dtype, check_range, check_rng


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
    # Set by :func:`reused_buffers` (``fit`` does): outputs then go into arrays kept across
    # calls instead of new ones, so a returned array is only valid until the next call.
    _reuse: bool = False

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

    def _out(self, key: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray | None:
        """Where to write a result: ``None`` (a new array) unless buffers are reused.

        A reused buffer keeps the largest batch seen, and a smaller batch gets a view of its
        first rows, so the short last batch of an epoch allocates nothing.
        """
        if not self._reuse:
            return None
        buffers: dict[str, np.ndarray] = self.__dict__.setdefault("_buffers", {})
        buf = buffers.get(key)
        if buf is not None and buf.shape == shape and buf.dtype == dtype:
            return buf  # the usual case, checked first: called a dozen times per step
        if buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:] or len(buf) < shape[0]:
            buf = buffers[key] = np.empty(shape, dtype)
        return buf[: shape[0]]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


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
        # False when nothing consumes dx (the first layer, inside ``fit``): backward then
        # skips the (N, out) @ (out, in) product, a quarter of the reference MLP's GEMM work.
        self.input_grad = True
        # The ReLU right after this layer, while :func:`fused_relus` fuses the two.
        self._relu: ReLU | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:  # x: (N, in)
        self._x = x
        shape = (*x.shape[:-1], self.out_features)
        y = np.matmul(x, self.weight.data, out=self._out("y", shape, np.result_type(x, self.dtype)))
        if self._relu is None:
            y += self.bias.data
        else:  # fused: y = max(x @ W + b, 0), the ReLU's output, in one pass over y
            self._relu._y = _kernels.bias_relu(y, self.bias.data)
        return y  # (N, out)

    def backward(self, dy: np.ndarray) -> np.ndarray:  # dy: (N, out)
        assert self._x is not None, "backward() called before forward()"
        if self._relu is None:
            _kernels.column_sums(dy, self.bias.grad)  # (out,): dy summed over the batch
        else:  # fused: dy is the gradient of the ReLU's output; apply its mask first
            mask, dz = self._out("mask", dy.shape, np.bool_), self._out("dz", dy.shape, dy.dtype)
            dy = _kernels.relu_bias_backward(dy, self._relu._y, mask, dz, self.bias.grad)
        np.matmul(self._x.T, dy, out=self.weight.grad)  # (in, out)
        if not self.input_grad:
            return None  # type: ignore[return-value]  # see __init__: nobody reads it
        dx = self._out("dx", self._x.shape, dy.dtype)
        return np.matmul(dy, self.weight.data.T, out=dx)  # (N, in)

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

    # True while :func:`fused_relus` has the Linear before this layer compute it.
    _fused = False

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self._fused:  # x is already max(x, 0), and self._y is x
            return x
        self._y = _kernels.relu(x, self._out("y", x.shape, x.dtype))  # np.maximum(x, 0)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._fused:  # the Linear before applies the mask, with its bias gradient
            return dy
        mask, dx = self._out("mask", dy.shape, np.bool_), self._out("dx", dy.shape, dy.dtype)
        return _kernels.relu_backward(dy, self._y, mask, dx)  # dy * (y > 0)


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


@contextmanager
def reused_buffers(layers: Iterable[Layer]) -> Iterator[None]:
    """Within the block, ``layers`` write outputs and gradients into arrays kept across calls.

    What ``fit`` uses for speed: a training step then allocates nothing. An array a layer
    returns is overwritten by its next call, so the caller must copy what it keeps. The
    values are the same as without reuse (the same operations, only the destination differs).
    """
    layers = [layer for layer in layers if not layer._reuse]  # nested: the outer block owns those
    for layer in layers:
        layer._reuse = True
    try:
        yield
    finally:
        for layer in layers:
            layer._reuse = False
            layer.__dict__.pop("_buffers", None)


@contextmanager
def fused_relus(layers: Sequence[Layer]) -> Iterator[None]:
    """Within the block, each Linear followed by a ReLU in ``layers`` computes both.

    Forward, the bias addition and the ReLU become one pass over the Linear's output (which
    the ReLU then returns as it is); backward, the ReLU's mask and the bias gradient become
    one pass (the ReLU hands its ``dy`` through). Same float operations, same results: only
    the passes over memory are fewer. ``layers`` must run in this order, as a Sequential's do.
    """
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(layers)
        if isinstance(a, Linear) and type(b) is ReLU and a._relu is None and not b._fused
    ]
    for linear, relu in pairs:
        linear._relu, relu._fused = relu, True
    try:
        yield
    finally:
        for linear, relu in pairs:
            linear._relu, relu._fused = None, False


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
