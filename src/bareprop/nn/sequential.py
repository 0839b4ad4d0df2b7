"""``Sequential``: a list of layers with the layer contract, and ``build_mlp``."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from bareprop.nn.init import Initializer
from bareprop.nn.layers import (
    ACTIVATIONS,
    Dropout,
    Layer,
    Linear,
    Parameter,
    fused_relus,
    layer_from_config,
    reused_buffers,
)
from bareprop.validation import check_dtype, check_range, check_rng


class Sequential(Layer):
    """Layers applied in order; backward runs them in reverse.

    Args:
        layers: the layers, first to last.

    ``parameters()`` lists the parameters in layer order (for each Linear: weight, bias).
    """

    def __init__(self, layers: Iterable[Layer]) -> None:
        self.layers = list(layers)
        self.metadata: dict[str, Any] = {}  # what a model file carries beside the weights
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a Layer, got {type(layer).__name__}")

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def train(self) -> Sequential:
        self.training = True
        for layer in self.layers:
            layer.train()
        return self

    def eval(self) -> Sequential:
        self.training = False
        for layer in self.layers:
            layer.eval()
        return self

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    @property
    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    @property
    def in_features(self) -> int:
        return self.linears[0].in_features

    @property
    def out_features(self) -> int:
        return self.linears[-1].out_features

    @property
    def dtype(self) -> np.dtype:
        params = self.parameters()
        return params[0].data.dtype if params else np.dtype(np.float32)

    def get_config(self) -> dict[str, Any]:
        layers = [{"type": type(layer).__name__, **layer.get_config()} for layer in self.layers]
        return {"layers": layers}

    @classmethod
    def from_config(
        cls, config: dict[str, Any], *, rng: np.random.Generator | None = None
    ) -> Sequential:
        """Rebuild the architecture (with fresh weights) from :meth:`get_config`'s dict."""
        layers = config.get("layers")
        if not isinstance(layers, list) or not layers:
            raise ValueError("config must have a non-empty list 'layers'")
        return cls(layer_from_config(c, rng=rng) for c in layers)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential([\n  {inner}\n])"


@contextmanager
def fast_training(model: Layer) -> Iterator[None]:
    """What ``fit`` runs its steps in: nothing allocated per step, no unused gradient.

    The layers reuse their output buffers (see :func:`~bareprop.nn.layers.reused_buffers`),
    each Linear computes the ReLU after it in the same pass (see
    :func:`~bareprop.nn.layers.fused_relus`), and the first layer, if a Linear, skips the input
    gradient that nothing reads. Everything is restored on exit.
    """
    layers = model.layers if isinstance(model, Sequential) else [model]
    first = layers[0] if layers and isinstance(layers[0], Linear) else None
    needed = first.input_grad if first is not None else True
    with reused_buffers(layers), fused_relus(layers):
        if first is not None:
            first.input_grad = False
        try:
            yield
        finally:
            if first is not None:
                first.input_grad = needed


def build_mlp(
    in_features: int,
    hidden: Sequence[int],
    out_features: int,
    *,
    activation: str = "relu",
    init: str | Initializer = "glorot_uniform",
    dropout: float = 0.0,
    output_activation: str | None = None,
    rng: np.random.Generator | None = None,
    dropout_rng: np.random.Generator | None = None,
    dtype: Any = np.float32,
) -> Sequential:
    """A multi-layer perceptron ``in -> hidden... -> out``.

    Each hidden layer is Linear, then the activation, then Dropout if ``dropout > 0``. The
    output layer is Linear, followed by ``output_activation`` if one is given (``"sigmoid"`` for
    the notebooks' squared-error networks; none for logits fed to SoftmaxCrossEntropy).
    ``rng`` draws the initial weights; ``dropout_rng`` (default: ``rng``) the dropout masks,
    so that with a stream of their own the masks leave the weights' stream untouched.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    if output_activation is not None and output_activation not in ACTIVATIONS:
        raise ValueError(
            f"output_activation must be None or one of {', '.join(ACTIVATIONS)}; "
            f"got {output_activation!r}"
        )
    for i, h in enumerate(hidden):
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h <= 0:
            raise ValueError(f"hidden[{i}] must be a positive integer, got {h!r}")
    check_range(dropout, "dropout", 0.0, 1.0)
    dtype = check_dtype(dtype)
    rng = check_rng(rng)
    dropout_rng = rng if dropout_rng is None else check_rng(dropout_rng, "dropout_rng")
    sizes = [in_features, *hidden]
    layers: list[Layer] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers.append(Linear(fan_in, fan_out, init=init, rng=rng, dtype=dtype))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(Dropout(dropout, rng=dropout_rng))
    layers.append(Linear(sizes[-1], out_features, init=init, rng=rng, dtype=dtype))
    if output_activation is not None:
        layers.append(ACTIVATIONS[output_activation]())
    return Sequential(layers)


__all__ = ["Sequential", "build_mlp", "fast_training"]
