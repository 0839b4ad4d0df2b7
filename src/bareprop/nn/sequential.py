"""``Sequential``: a list of layers with the layer contract, and ``build_mlp``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from bareprop.nn.layer import Layer, config_shapes, layer_from_config, register_layer
from bareprop.nn.linear import Linear


@register_layer
class Sequential(Layer):
    """Layers applied in order; backward runs them in reverse.

    Args:
        layers: the layers, first to last; a layer may itself be a Sequential.

    ``parameters()`` lists the parameters in layer order (for each Linear: weight, bias).
    A layer object may appear only once: its ``forward`` keeps what its ``backward`` needs,
    so a second use would overwrite the first's. Layers that cannot follow each other (a
    ``Linear(4, 8)`` then a ``Linear(5, 3)``) are refused here when the input shape is fixed,
    and otherwise by ``output_shape`` when an input's shape is known.
    """

    def __init__(self, layers: Iterable[Layer]) -> None:
        if isinstance(layers, Layer) or not isinstance(layers, Iterable):
            raise TypeError(f"layers must be a list of Layer objects, got {type(layers).__name__}")
        self.layers = list(layers)
        self.metadata: dict[str, Any] = {}  # what a model file carries beside the weights
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a Layer, got {type(layer).__name__}")
        seen: dict[int, str] = {}
        for name, layer in _walk(self, "model"):
            if id(layer) in seen:
                raise ValueError(
                    f"{name} is the same {type(layer).__name__} object as {seen[id(layer)]}: "
                    "a layer keeps the state of its own forward pass, so it cannot be used twice"
                )
            seen[id(layer)] = name
        shape = self.input_shape()
        if shape is not None:
            self.output_shape(shape)  # layers that cannot follow each other: named now

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def named_children(self) -> list[tuple[str, Layer]]:
        return [(f"layers.{i}", layer) for i, layer in enumerate(self.layers)]

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def flat(self) -> list[Layer]:
        """The layers in the order they run, nested Sequentials opened up."""
        return [
            leaf
            for layer in self.layers
            for leaf in (layer.flat() if isinstance(layer, Sequential) else [layer])
        ]

    @property
    def linears(self) -> list[Linear]:
        """The Linear layers, in the order they run."""
        return [layer for layer in self.flat() if isinstance(layer, Linear)]

    # -- shapes: inferred from the layers, not read off the first and last Linear ---------------
    def input_shape(self) -> tuple[int, ...] | None:
        """The per-sample input shape the first layer that fixes one requires, if the layers
        before it keep shapes; None if the model takes many (e.g. a conv net's image size)."""
        for layer in self.flat():
            shape = layer.input_shape()
            if shape is not None:
                return shape
            if type(layer).output_shape is not Layer.output_shape:
                return None  # a shape-changing layer first: the input is not pinned down
        return None

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The layers' output shapes in turn; a ValueError names the layer that refuses its
        input by its position, e.g. ``layers[2]: Linear(5, 3) takes inputs of 5 features``."""
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ValueError as e:
                raise ValueError(f"layers[{i}]: {e}") from None
        return tuple(shape)

    @property
    def in_features(self) -> int:
        """The number of input features of a model with a fixed 1-D input."""
        shape = self.input_shape()
        if shape is None or len(shape) != 1:
            raise ValueError(f"this model takes inputs of shape {shape}, not a feature vector")
        return shape[0]

    @property
    def out_features(self) -> int:
        """The number of outputs per sample (classes), for the model's fixed input shape."""
        shape = self.input_shape()
        if shape is None:
            raise ValueError("this model's input shape is not fixed: use output_shape(shape)")
        return self.output_shape(shape)[-1]

    @property
    def dtype(self) -> np.dtype:
        params = self.parameters()
        return params[0].data.dtype if params else np.dtype(np.float32)

    # -- configuration -------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        layers = [{"type": type(layer).__name__, **layer.get_config()} for layer in self.layers]
        return {"layers": layers}

    @classmethod
    def from_config(
        cls, config: dict[str, Any], *, rng: np.random.Generator | None = None
    ) -> Sequential:
        """Rebuild the architecture (with fresh weights) from :meth:`get_config`'s dict."""
        return cls(layer_from_config(c, rng=rng) for c in _layer_configs(config))

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> list[tuple[int, ...]]:
        return [s for c in _layer_configs(config) for s in config_shapes(c)[0]]

    @classmethod
    def buffer_shapes(cls, config: dict[str, Any]) -> list[tuple[int, ...]]:
        return [s for c in _layer_configs(config) for s in config_shapes(c)[1]]

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer).replace("\n", "\n  ") for layer in self.layers)
        return f"Sequential([\n  {inner}\n])"


def _walk(layer: Layer, name: str) -> list[tuple[str, Layer]]:
    """``(name, layer)`` for ``layer`` and every layer inside it."""
    return [(name, layer)] + [
        pair for child_name, child in layer.named_children() for pair in _walk(child, child_name)
    ]


def _layer_configs(config: Any) -> list[dict[str, Any]]:
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list) or not layers:
        raise ValueError("config must have a non-empty list 'layers'")
    return layers


__all__ = ["Sequential"]
