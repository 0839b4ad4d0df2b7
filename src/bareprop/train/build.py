"""The network, loss and optimiser a :class:`~bareprop.train.config.TrainConfig` describes:
``--model mlp/cnn/cnn-bn`` or ``--model-file net.toml``, checked against the data it will take."""

from __future__ import annotations

import inspect
import math
import tomllib
from typing import Any

import numpy as np

from bareprop.data.mnist import model_input_shape
from bareprop.nn.init import get_initializer
from bareprop.nn.layer import LAYERS, Layer
from bareprop.nn.losses import LOSSES, Loss
from bareprop.nn.models import build_cnn, build_mlp
from bareprop.nn.sequential import Sequential
from bareprop.optim import OPTIMIZERS, Optimizer
from bareprop.train.config import TrainConfig


def build(
    config: TrainConfig, input_shape: tuple[int, ...], n_classes: int,
    rngs: dict[str, np.random.Generator],
) -> tuple[Sequential, Loss, Optimizer]:  # fmt: skip
    """The model, loss and optimiser a config describes, for per-sample inputs ``input_shape``
    (``(784,)`` for flat MNIST pixels, ``(1, 28, 28)`` for images)."""
    model = build_model(config, input_shape, n_classes, rngs)
    check_fits(model, input_shape, n_classes)
    loss = LOSSES[config.loss](reduction=config.reduction)
    kwargs: dict[str, Any] = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer == "sgd":
        kwargs.update(momentum=config.momentum, nesterov=config.nesterov)
    elif config.optimizer == "rmsprop":
        kwargs.update(momentum=config.momentum)
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), **kwargs)
    return model, loss, optimizer


def build_model(
    config: TrainConfig, input_shape: tuple[int, ...], n_classes: int,
    rngs: dict[str, np.random.Generator],
) -> Sequential:  # fmt: skip
    """``--model-file``'s network, else ``--model cnn``'s reference CNN, else the MLP."""
    init = (
        get_initializer("normal", std=config.init_std) if config.init == "normal" else config.init
    )
    if config.model_file is not None:
        return read_model_file(config.model_file, config.dtype, rngs["init"])
    if config.model in ("cnn", "cnn-bn"):
        shape = input_shape if len(input_shape) == 3 else (1, *square(input_shape[0]))
        if len(shape) != 3:
            raise ValueError(f"{input_shape[0]} features are not a square image: use --model mlp")
        return build_cnn(shape, n_classes, batch_norm=config.model == "cnn-bn", init=init,
                         rng=rngs["init"], dtype=config.dtype)  # fmt: skip
    return build_mlp(
        math.prod(input_shape), config.hidden, n_classes,
        activation=config.activation, init=init, dropout=config.dropout,
        output_activation="sigmoid" if config.loss == "mse" else None,
        rng=rngs["init"], dropout_rng=rngs["dropout"], dtype=config.dtype,
    )  # fmt: skip


def check_fits(model: Layer, data_shape: tuple[int, ...], n_classes: int) -> None:
    """ValueError, in one sentence, unless ``model`` takes the data (per-sample ``data_shape``,
    flat pixels of square images or images) and gives one output per class."""
    image_shape = data_shape if len(data_shape) > 1 else square(data_shape[0])
    try:
        out = model.output_shape(model_input_shape(model, image_shape[-2:]))
    except ValueError as e:
        raise ValueError(f"the model does not fit the data: {e}") from None
    if out != (n_classes,):
        raise ValueError(f"the model gives outputs of shape {out} per sample; the data has "
                         f"{n_classes} classes, so it needs ({n_classes},)")  # fmt: skip


def square(n_pixels: int) -> tuple[int, ...]:
    """``(side, side)`` of a square image of ``n_pixels``; ``(n_pixels,)`` if there is none."""
    side = math.isqrt(n_pixels)
    return (side, side) if side * side == n_pixels else (n_pixels,)


def read_model_file(path: str, dtype: str, rng: np.random.Generator) -> Sequential:
    """The Sequential a TOML file describes: a list ``[[layers]]`` of layer configs, the same
    dicts a model file stores (``type = "Conv2d"``, ``in_channels = 1``, ...). A layer that
    takes a ``dtype`` and names none gets the run's."""
    try:
        with open(path, "rb") as f:
            spec = tomllib.load(f)
    except OSError as e:
        raise ValueError(f"--model-file {path}: cannot be read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"--model-file {path}: not valid TOML ({e})") from None
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ValueError(f"--model-file {path}: needs a non-empty list [[layers]] of layer tables")
    for layer in layers:
        kind = LAYERS.get(str(layer.get("type"))) if isinstance(layer, dict) else None
        if kind is not None and "dtype" in inspect.signature(kind).parameters:
            layer.setdefault("dtype", dtype)
    try:
        return Sequential.from_config({"layers": layers}, rng=rng)
    except (TypeError, ValueError) as e:
        raise ValueError(f"--model-file {path}: {e}") from None
