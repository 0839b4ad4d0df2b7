"""Torch twins of the CNN layers: the same ``torch.nn`` module with the same weights.

Each function takes the bareprop layer and the ``torch`` module (imported by the caller, so
``import bareprop`` never loads torch) and returns a new ``torch.nn`` module whose parameters
and buffers are copies of the layer's, in the layer's dtype and train/eval mode.
:func:`torch_twin` picks the right one, and also covers ``Linear`` (whose weight torch keeps
transposed, ``(out, in)``) and the activations, so a whole list of layers can be mirrored.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.layers import Layer, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from bareprop.nn.conv import Conv2d
from bareprop.nn.norm import BatchNorm1d, BatchNorm2d, LayerNorm, _BatchNorm
from bareprop.nn.pool import AvgPool2d, MaxPool2d
from bareprop.nn.shape import Flatten


def _dtype(torch: Any, dtype: np.dtype) -> Any:
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[dtype]


def _copy(torch: Any, target: Any, source: np.ndarray) -> None:
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.ascontiguousarray(source)))


def _mode(module: Any, layer: Layer) -> Any:
    return module.train(layer.training)


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


def max_pool2d_twin(layer: MaxPool2d, torch: Any) -> Any:
    """``torch.nn.MaxPool2d`` with the same window and stride."""
    return _mode(torch.nn.MaxPool2d(layer.kernel_size, layer.stride), layer)


def avg_pool2d_twin(layer: AvgPool2d, torch: Any) -> Any:
    """``torch.nn.AvgPool2d`` with the same window and stride."""
    return _mode(torch.nn.AvgPool2d(layer.kernel_size, layer.stride), layer)


def batch_norm_twin(layer: _BatchNorm, torch: Any) -> Any:
    """``torch.nn.BatchNorm1d``/``2d`` with the same gamma, beta and running statistics."""
    cls = torch.nn.BatchNorm2d if isinstance(layer, BatchNorm2d) else torch.nn.BatchNorm1d
    twin = cls(layer.num_features, eps=layer.eps, momentum=layer.momentum,
               dtype=_dtype(torch, layer.dtype))  # fmt: skip
    _copy(torch, twin.weight, layer.weight.data)
    _copy(torch, twin.bias, layer.bias.data)
    _copy(torch, twin.running_mean, layer.running_mean)
    _copy(torch, twin.running_var, layer.running_var)
    return _mode(twin, layer)


def layer_norm_twin(layer: LayerNorm, torch: Any) -> Any:
    """``torch.nn.LayerNorm`` with the same elementwise weight and bias."""
    twin = torch.nn.LayerNorm(layer.normalized_shape, eps=layer.eps,
                              dtype=_dtype(torch, layer.dtype))  # fmt: skip
    _copy(torch, twin.weight, layer.weight.data)
    _copy(torch, twin.bias, layer.bias.data)
    return _mode(twin, layer)


def flatten_twin(layer: Flatten, torch: Any) -> Any:
    """``torch.nn.Flatten()``."""
    return _mode(torch.nn.Flatten(), layer)


def linear_twin(layer: Linear, torch: Any) -> Any:
    """``torch.nn.Linear``; its weight is ``(out, in)``, the transpose of bareprop's."""
    twin = torch.nn.Linear(layer.in_features, layer.out_features,
                           dtype=_dtype(torch, layer.dtype))  # fmt: skip
    _copy(torch, twin.weight, layer.weight.data.T)
    _copy(torch, twin.bias, layer.bias.data)
    return _mode(twin, layer)


def torch_twin(layer: Layer, torch: Any) -> Any:
    """The twin of any CNN layer, ``Linear`` or activation; TypeError for other layers."""
    if isinstance(layer, LeakyReLU):
        return _mode(torch.nn.LeakyReLU(layer.negative_slope), layer)
    activations = {ReLU: "ReLU", Sigmoid: "Sigmoid", Tanh: "Tanh"}
    if type(layer) in activations:
        return _mode(getattr(torch.nn, activations[type(layer)])(), layer)
    makers: list[tuple[Any, Any]] = [
        (Conv2d, conv2d_twin), (MaxPool2d, max_pool2d_twin), (AvgPool2d, avg_pool2d_twin),
        ((BatchNorm1d, BatchNorm2d), batch_norm_twin), (LayerNorm, layer_norm_twin),
        (Flatten, flatten_twin), (Linear, linear_twin),
    ]  # fmt: skip
    for cls, make in makers:
        if isinstance(layer, cls):
            return make(layer, torch)
    raise TypeError(f"no torch twin for {type(layer).__name__}")


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
