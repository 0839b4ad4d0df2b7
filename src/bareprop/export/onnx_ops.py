"""One ONNX converter per layer type, in a registry keyed by the layer's class name.

A converter ``(layer, graph, x, where) -> y`` adds the nodes that compute the layer on the
tensor named ``x`` to ``graph`` (a :class:`GraphBuilder`) and returns the name of its output;
``where`` names the layer in error messages (``layers[3]``). Supporting a new layer is one
function under ``@register("TypeName")``.

bareprop's layers (Linear, ReLU, LeakyReLU, Sigmoid, Tanh, Dropout, Sequential) are here,
and so are converters for layers bareprop does not have yet, written against torch's
semantics and attribute names (checked against torch's modules by the tests): Conv2d
``weight (out, in/groups, kH, kW)``, ``bias``, ``stride``, numeric ``padding``, ``dilation``,
``groups``; MaxPool2d/AvgPool2d ``kernel_size``, ``stride``, ``padding``, ``ceil_mode`` (and
``count_include_pad``); Flatten ``start_dim=1``; BatchNorm1d/2d ``running_mean``,
``running_var``, ``eps``, ``weight``, ``bias`` (eval mode; BatchNorm1d on ``(N, C)`` inputs,
not ``(N, C, L)``); LayerNorm ``normalized_shape``, ``eps``, ``weight``, ``bias``. A weight
may be a :class:`bareprop.Parameter` or an array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import bareprop as bp


class ExportError(bp.BarepropError, ValueError):
    """The model holds something that cannot be written as ONNX; the message names it."""


class GraphBuilder:
    """Collects the nodes and constants (initializers) of an ONNX graph, in order.

    Every float constant is stored as float32, the graph's type (float64 weights are rounded
    to float32 once, at export).
    """

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._names: set[str] = set()

    def name(self, hint: str) -> str:
        """A tensor name not used yet, from ``hint``."""
        name, i = hint, 1
        while name in self._names:
            i += 1
            name = f"{hint}_{i}"
        self._names.add(name)
        return name

    def constant(self, hint: str, value: Any) -> str:
        """Add ``value`` as an initializer (floats as float32, ints as int64); its name."""
        array = np.asarray(value)
        array = array.astype(np.int64 if array.dtype.kind in "iub" else np.float32)
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attributes: Any) -> str:
        """Add one node of type ``op``; returns the name of its (single) output."""
        out = self.name(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{out}_{op}", **attributes))
        return out


Converter = Callable[[Any, GraphBuilder, str, str], str]
CONVERTERS: dict[str, Converter] = {}


def register(*type_names: str) -> Callable[[Converter], Converter]:
    """Decorator: ``fn`` converts the layers whose class is named one of ``type_names``."""

    def add(fn: Converter) -> Converter:
        for type_name in type_names:
            CONVERTERS[type_name] = fn
        return fn

    return add


def convert(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    """Add ``layer`` to ``graph`` on input ``x``; raise :class:`ExportError` if it cannot."""
    kind = type(layer).__name__
    converter = CONVERTERS.get(kind)
    if converter is None:
        raise ExportError(
            f"cannot export {where}: no ONNX converter for layer type {kind}; "
            f"supported: {', '.join(sorted(CONVERTERS))}"
        )
    return converter(layer, graph, x, where)


def _array(layer: Any, attribute: str) -> np.ndarray | None:
    """A layer's weight as an ndarray (a Parameter's ``.data``), or None if it has none."""
    value = getattr(layer, attribute, None)
    return None if value is None else np.asarray(getattr(value, "data", value))


def _pair(value: Any) -> list[int]:
    return [int(v) for v in value] if isinstance(value, tuple | list) else [int(value)] * 2


# -- bareprop's layers ----------------------------------------------------------------------
@register("Sequential")
def _sequential(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    for i, inner in enumerate(layer.layers):
        x = convert(inner, graph, x, f"{where}.layers[{i}]")
    return x


@register("Linear")
def _linear(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    # bareprop's Linear.weight is (in, out), y = x @ W + b: no transpose (torch's is (out, in)).
    weight = graph.constant("weight", _array(layer, "weight"))
    y = graph.node("MatMul", [x, weight], "matmul")
    bias = _array(layer, "bias")
    return y if bias is None else graph.node("Add", [y, graph.constant("bias", bias)], "linear")


@register("ReLU")
def _relu(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    return graph.node("Relu", [x], "relu")


@register("LeakyReLU")
def _leaky_relu(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    return graph.node("LeakyRelu", [x], "leaky_relu", alpha=float(layer.negative_slope))


@register("Sigmoid")
def _sigmoid(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    return graph.node("Sigmoid", [x], "sigmoid")


@register("Tanh")
def _tanh(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    return graph.node("Tanh", [x], "tanh")


@register("Dropout")
def _dropout(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    return x  # the identity at inference


# -- layers bareprop may add, with torch's semantics ----------------------------------------
@register("Flatten")
def _flatten(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    start, end = getattr(layer, "start_dim", 1), getattr(layer, "end_dim", -1)
    if (start, end) != (1, -1):
        raise ExportError(f"cannot export {where}: Flatten({start}, {end}); only (1, -1)")
    return graph.node("Flatten", [x], "flatten", axis=1)


@register("Conv2d")
def _conv2d(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    weight = _array(layer, "weight")  # (out, in / groups, kH, kW)
    assert weight is not None, f"{where}: Conv2d without a weight"
    padding = getattr(layer, "padding", 0)
    if isinstance(padding, str):
        raise ExportError(f"cannot export {where}: Conv2d padding={padding!r}; give numbers")
    ph, pw = _pair(padding)
    inputs = [x, graph.constant("conv_weight", weight)]
    bias = _array(layer, "bias")
    if bias is not None:
        inputs.append(graph.constant("conv_bias", bias))
    return graph.node(
        "Conv", inputs, "conv", kernel_shape=list(weight.shape[2:]), pads=[ph, pw, ph, pw],
        strides=_pair(getattr(layer, "stride", 1)), dilations=_pair(getattr(layer, "dilation", 1)),
        group=int(getattr(layer, "groups", 1)),
    )  # fmt: skip


def _pool_attributes(layer: Any) -> dict[str, Any]:
    kernel = _pair(layer.kernel_size)
    stride = getattr(layer, "stride", None)
    ph, pw = _pair(getattr(layer, "padding", 0))
    return {
        "kernel_shape": kernel,
        "strides": kernel if stride is None else _pair(stride),  # torch: stride defaults to kernel
        "pads": [ph, pw, ph, pw],
        "ceil_mode": int(bool(getattr(layer, "ceil_mode", False))),
    }


@register("MaxPool2d")
def _max_pool2d(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    if _pair(getattr(layer, "dilation", 1)) != [1, 1]:
        raise ExportError(f"cannot export {where}: MaxPool2d with dilation")
    return graph.node("MaxPool", [x], "max_pool", **_pool_attributes(layer))


@register("AvgPool2d")
def _avg_pool2d(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    include = int(bool(getattr(layer, "count_include_pad", True)))  # torch's default: True
    return graph.node(
        "AveragePool", [x], "avg_pool", count_include_pad=include, **_pool_attributes(layer)
    )


@register("BatchNorm1d", "BatchNorm2d")
def _batch_norm(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    """Eval mode, folded in float64: ``y = x * s + t``, ``s = gamma / sqrt(var + eps)``."""
    mean, var = _array(layer, "running_mean"), _array(layer, "running_var")
    if mean is None or var is None:
        raise ExportError(f"cannot export {where}: {type(layer).__name__} without running stats")
    gamma, beta = _array(layer, "weight"), _array(layer, "bias")
    scale = (1.0 if gamma is None else gamma) / np.sqrt(var.astype(np.float64) + layer.eps)
    shift = (0.0 if beta is None else beta) - mean * scale
    if type(layer).__name__ == "BatchNorm2d":  # per channel of (N, C, H, W)
        scale, shift = scale.reshape(-1, 1, 1), shift.reshape(-1, 1, 1)
    y = graph.node("Mul", [x, graph.constant("bn_scale", scale)], "bn_mul")
    return graph.node("Add", [y, graph.constant("bn_shift", shift)], "batch_norm")


@register("LayerNorm")
def _layer_norm(layer: Any, graph: GraphBuilder, x: str, where: str) -> str:
    shape = layer.normalized_shape
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    gamma, beta = _array(layer, "weight"), _array(layer, "bias")
    inputs = [x, graph.constant("ln_scale", np.ones(shape) if gamma is None else gamma)]
    if beta is not None:
        inputs.append(graph.constant("ln_bias", beta))
    return graph.node(
        "LayerNormalization", inputs, "layer_norm", axis=-len(shape), epsilon=float(layer.eps)
    )


def float_input(name: str, shape: list[Any]) -> Any:
    """A float32 graph input or output; a str in ``shape`` is a symbolic dimension."""
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
