"""A bareprop model as an ONNX graph that takes raw pixels: ``export_onnx(model, path)``.

The graph::

    pixels  float32 (N, *image_shape), values 0..255
      -> Flatten to (N, features)  [or Reshape to (N, C, H, W) for a model that starts with
         an image layer, e.g. Conv2d]  -> Mul(pixel_scale)        the model's preprocessing
      -> the layers, one converter each (see :mod:`bareprop.export.onnx_ops`)
      -> logits         float32 (N, classes): what ``model.forward`` returns
      -> probabilities  float32 (N, classes): Softmax(logits), or for a model that ends in
                        a Sigmoid the outputs divided by their sum, as ``bareprop.predict_proba``

so a user elsewhere feeds pixels and nothing else. The preprocessing comes from the model
file's ``metadata["preprocessing"]`` (``pixel_scale``, ``image_shape``), as ``bareprop
train`` writes it, or from the arguments.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper

import bareprop as bp
from bareprop.data.mnist import model_input_shape
from bareprop.export.onnx_ops import ExportError, GraphBuilder, convert, float_input
from bareprop.files.atomic import atomic_write

OPSET = 17  # LayerNormalization needs 17; onnxruntime >= 1.14 runs it
IR_VERSION = 8  # the oldest IR that carries opset 17: readable by older runtimes too


def _preprocessing(
    model: bp.Sequential, image_shape: Sequence[int] | None, pixel_scale: float | None
) -> tuple[list[int], float]:
    """``(image_shape, pixel_scale)`` from the arguments, else from ``model.metadata``."""
    pre = getattr(model, "metadata", {}).get("preprocessing") or {}
    shape = image_shape if image_shape is not None else pre.get("image_shape")
    scale = pixel_scale if pixel_scale is not None else pre.get("pixel_scale")
    if shape is None or scale is None:
        raise ExportError(
            "the model has no preprocessing in its metadata (a model file written by "
            "bareprop train has); pass image_shape= and pixel_scale="
        )
    if not shape or not all(isinstance(d, int | np.integer) and d > 0 for d in shape):
        raise ValueError(f"image_shape must be positive integers, got {shape!r}")
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale < math.inf:
        raise ValueError(f"pixel_scale must be a positive number, got {scale!r}")
    return [int(d) for d in shape], float(scale)


def _input(graph: GraphBuilder, sample: tuple[int, ...], scale: float) -> str:
    """The model's preprocessing on the graph input ``pixels``: reshaped to the per-sample
    ``sample`` shape the model takes (flat features, or ``(C, H, W)`` images), then scaled."""
    if len(sample) == 1:
        x = graph.node("Flatten", ["pixels"], "features", axis=1)
    else:  # 0: keep N
        x = graph.node("Reshape", ["pixels", graph.constant("image_shape", [0, *sample])], "images")
    return graph.node("Mul", [x, graph.constant("pixel_scale", scale)], "scaled")


def _probabilities(graph: GraphBuilder, model: bp.Sequential, logits: str) -> str:
    """Softmax, or for a Sigmoid output the outputs over their sum (1 where the sum is 0)."""
    if type(model.layers[-1]).__name__ != "Sigmoid":
        return graph.node("Softmax", [logits], "probabilities", axis=-1)
    total = graph.node("ReduceSum", [logits, graph.constant("axes", [1])], "total", keepdims=1)
    zero, one = graph.constant("zero", 0.0), graph.constant("one", 1.0)
    positive = graph.node("Greater", [total, zero], "positive")
    divisor = graph.node("Where", [positive, total, one], "divisor")
    return graph.node("Div", [logits, divisor], "probabilities")


def to_onnx(
    model: bp.Sequential,
    *,
    image_shape: Sequence[int] | None = None,
    pixel_scale: float | None = None,
) -> Any:
    """The ONNX ``ModelProto`` of ``model`` with its preprocessing (see the module docstring).

    Args:
        model: a :class:`bareprop.Sequential`.
        image_shape: one image's shape, e.g. ``(28, 28)`` (default: the model's metadata).
        pixel_scale: what a pixel is multiplied by, e.g. ``1 / 255`` (default: metadata).

    Raises:
        ExportError: a layer has no converter (the message names it and its place), or the
            model lacks preprocessing and none was given.
    """
    if not isinstance(model, bp.Sequential):
        raise TypeError(f"model must be a bareprop Sequential, got {type(model).__name__}")
    shape, scale = _preprocessing(model, image_shape, pixel_scale)
    graph = GraphBuilder()
    graph.name("pixels")
    try:
        sample = model_input_shape(model, shape)
        classes = model.output_shape(sample)[-1]
    except ValueError as e:
        raise ExportError(f"image_shape {shape} does not fit the model: {e}") from None
    x = _input(graph, sample, scale)
    out = convert(model, graph, x, "model")
    logits = graph.node("Identity", [out], "logits")  # the output's fixed name (no-op in ORT)
    probabilities = _probabilities(graph, model, logits)
    onnx_graph = helper.make_graph(
        graph.nodes, "bareprop", [float_input("pixels", ["N", *shape])],
        [float_input(logits, ["N", classes]), float_input(probabilities, ["N", classes])],
        initializer=graph.initializers,
    )  # fmt: skip
    proto = helper.make_model(
        onnx_graph, producer_name="bareprop", producer_version=bp.__version__,
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string="pixels float32 (N, *image_shape) 0..255 -> logits, probabilities",
    )  # fmt: skip
    proto.ir_version = IR_VERSION
    names = model.metadata.get("classes") if hasattr(model, "metadata") else None
    if names is not None:
        helper.set_model_props(proto, {"classes": json.dumps(names)})
    onnx.checker.check_model(proto)
    return proto


def export_onnx(
    model: bp.Sequential,
    path: str | os.PathLike[str],
    *,
    image_shape: Sequence[int] | None = None,
    pixel_scale: float | None = None,
) -> Any:
    """Write :func:`to_onnx`'s graph to ``path``, atomically: on an error no file is written.

    Returns:
        The ``onnx.ModelProto`` written.
    """
    proto = to_onnx(model, image_shape=image_shape, pixel_scale=pixel_scale)
    data = proto.SerializeToString()
    atomic_write(path, lambda f: f.write(data))
    return proto
