"""Torch twins of bareprop's layers: the same ``torch.nn`` module with the same weights.

Each maker takes the bareprop layer and the ``torch`` module (imported by the caller, so
``import bareprop`` never loads torch) and returns a new ``torch.nn`` module whose parameters
and buffers are copies of the layer's, in the layer's dtype and train/eval mode. They are
registered by layer type in :data:`TWINS`; :func:`torch_twin` picks the right one, opening
nested Sequentials. A new layer type registers its maker with :func:`twin_of`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from bareprop.errors import BarepropError
from bareprop.nn import Dropout, Layer, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh
from bareprop.nn.conv import Conv2d
from bareprop.nn.layernorm import LayerNorm
from bareprop.nn.norm import BatchNorm, BatchNorm1d, BatchNorm2d
from bareprop.nn.pool import AvgPool2d, MaxPool2d
from bareprop.nn.shape import Flatten

Maker = Callable[[Any, Any], Any]
TWINS: dict[type[Layer], Maker] = {}
"""Per layer type: ``(layer, torch) -> torch.nn.Module`` with the same weights."""


def twin_of(*types: type[Layer]) -> Callable[[Maker], Maker]:
    """Decorator: register a maker as the torch twin of ``types``."""

    def register(make: Maker) -> Maker:
        for cls in types:
            TWINS[cls] = make
        return make

    return register


def _dtype(torch: Any, dtype: np.dtype) -> Any:
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[dtype]


def _copy(torch: Any, target: Any, source: np.ndarray) -> None:
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.ascontiguousarray(source)))


def _mode(module: Any, layer: Layer) -> Any:
    return module.train(layer.training)


@twin_of(Conv2d)
def conv2d_twin(layer: Conv2d, torch: Any) -> Any:
    """``torch.nn.Conv2d`` with the same weight ``(O, C, kH, kW)`` and bias."""
    twin = torch.nn.Conv2d(
        layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
        padding=layer.padding, bias=layer.bias is not None, dtype=_dtype(torch, layer.dtype),
    )  # fmt: skip
    _copy(torch, twin.weight, layer.weight.data)
    if layer.bias is not None:
        _copy(torch, twin.bias, layer.bias.data)
    return _mode(twin, layer)


@twin_of(MaxPool2d)
def max_pool2d_twin(layer: MaxPool2d, torch: Any) -> Any:
    """``torch.nn.MaxPool2d`` with the same window and stride."""
    return _mode(torch.nn.MaxPool2d(layer.kernel_size, layer.stride), layer)


@twin_of(AvgPool2d)
def avg_pool2d_twin(layer: AvgPool2d, torch: Any) -> Any:
    """``torch.nn.AvgPool2d`` with the same window and stride."""
    return _mode(torch.nn.AvgPool2d(layer.kernel_size, layer.stride), layer)


@twin_of(BatchNorm1d, BatchNorm2d)
def batch_norm_twin(layer: BatchNorm, torch: Any) -> Any:
    """``torch.nn.BatchNorm1d``/``2d`` with the same gamma, beta and running statistics."""
    cls = torch.nn.BatchNorm2d if isinstance(layer, BatchNorm2d) else torch.nn.BatchNorm1d
    twin = cls(layer.num_features, eps=layer.eps, momentum=layer.momentum,
               dtype=_dtype(torch, layer.dtype))  # fmt: skip
    _copy(torch, twin.weight, layer.weight.data)
    _copy(torch, twin.bias, layer.bias.data)
    _copy(torch, twin.running_mean, layer.running_mean)
    _copy(torch, twin.running_var, layer.running_var)
    return _mode(twin, layer)


@twin_of(LayerNorm)
def layer_norm_twin(layer: LayerNorm, torch: Any) -> Any:
    """``torch.nn.LayerNorm`` with the same elementwise weight and bias."""
    twin = torch.nn.LayerNorm(layer.normalized_shape, eps=layer.eps,
                              dtype=_dtype(torch, layer.dtype))  # fmt: skip
    _copy(torch, twin.weight, layer.weight.data)
    _copy(torch, twin.bias, layer.bias.data)
    return _mode(twin, layer)


@twin_of(Flatten)
def flatten_twin(layer: Flatten, torch: Any) -> Any:
    """``torch.nn.Flatten()``."""
    return _mode(torch.nn.Flatten(), layer)


@twin_of(Linear)
def linear_twin(layer: Linear, torch: Any) -> Any:
    """``torch.nn.Linear``; its weight is ``(out, in)``, the transpose of bareprop's."""
    twin = torch.nn.Linear(layer.in_features, layer.out_features,
                           dtype=_dtype(torch, layer.dtype))  # fmt: skip
    _copy(torch, twin.weight, layer.weight.data.T)
    _copy(torch, twin.bias, layer.bias.data)
    return _mode(twin, layer)


@twin_of(ReLU, Sigmoid, Tanh)
def activation_twin(layer: Layer, torch: Any) -> Any:
    """``torch.nn.ReLU``, ``Sigmoid`` or ``Tanh``."""
    return _mode(getattr(torch.nn, type(layer).__name__)(), layer)


@twin_of(LeakyReLU)
def leaky_relu_twin(layer: LeakyReLU, torch: Any) -> Any:
    """``torch.nn.LeakyReLU`` with the same negative slope."""
    return _mode(torch.nn.LeakyReLU(layer.negative_slope), layer)


@twin_of(Dropout)
def dropout_twin(layer: Dropout, torch: Any) -> Any:
    """A module that draws its masks exactly as the layer would: from a copy of its generator
    (same state, so the same stream), with the same inverted scaling."""
    rng, p = copy.deepcopy(layer.rng), layer.p

    class MaskDropout(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rng = rng

        def forward(self, x: Any) -> Any:
            if not self.training or p == 0.0:
                return x
            dtype = np.dtype(str(x.dtype).removeprefix("torch."))
            keep = self.rng.random(tuple(x.shape), dtype=dtype) >= p
            return x * torch.from_numpy(keep * dtype.type(1.0 / (1.0 - p)))

    return _mode(MaskDropout(), layer)


def torch_twin(layer: Layer, torch: Any) -> Any:
    """The twin of any registered layer; a Sequential becomes a ``torch.nn.Sequential``.

    Raises:
        BarepropError: no twin is registered for the layer's type.
    """
    if isinstance(layer, Sequential):
        return _mode(torch.nn.Sequential(*(torch_twin(sub, torch) for sub in layer.layers)), layer)
    for cls in type(layer).__mro__:
        if cls in TWINS:
            return TWINS[cls](layer, torch)
    raise BarepropError(f"no torch equivalent for layer {type(layer).__name__}")


def parameter_pairs(
    layer: Layer, twin: Any, attr: str = "grad"
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, ours, theirs)`` for each parameter's ``attr`` (``"grad"`` or ``"data"``).

    Torch's array is put in bareprop's layout (a Linear's weight transposed back).
    """
    names = {id(v): k for k, v in vars(layer).items()}
    pairs = []
    for p in layer.parameters():
        name = names[id(p)]
        theirs = getattr(getattr(twin, name), attr).detach().numpy()
        if isinstance(layer, Linear) and name == "weight":
            theirs = theirs.T
        pairs.append((name, getattr(p, attr), theirs))
    return pairs
