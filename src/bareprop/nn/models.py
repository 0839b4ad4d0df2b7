"""Networks by recipe: ``build_mlp`` (any MLP) and ``build_cnn`` (the reference CNN)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from bareprop.nn.activations import ACTIVATIONS, ReLU
from bareprop.nn.conv import Conv2d
from bareprop.nn.dropout import Dropout
from bareprop.nn.init import Initializer
from bareprop.nn.layer import Layer
from bareprop.nn.linear import Linear
from bareprop.nn.norm import BatchNorm1d, BatchNorm2d
from bareprop.nn.pool import MaxPool2d
from bareprop.nn.sequential import Sequential
from bareprop.nn.shape import Flatten
from bareprop.validation import check_dtype, check_int, check_positive, check_range, check_rng


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
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(
            f"hidden must be a list of hidden layer sizes (e.g. [128, 64], or [] for none), "
            f"got {type(hidden).__name__} {hidden!r}"
        )
    for i, h in enumerate(hidden):
        check_positive(h, f"hidden[{i}]", integer=True)
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


def build_cnn(
    image_shape: Sequence[int] = (1, 28, 28),
    out_features: int = 10,
    *,
    batch_norm: bool = False,
    init: str | Initializer = "he_uniform",
    rng: np.random.Generator | None = None,
    dtype: Any = np.float32,
) -> Sequential:
    """The reference CNN (the Keras ``mnist_cnn`` shape, with pooling after each conv)::

        Conv2d(C, 32, 3), ReLU, MaxPool2d(2), Conv2d(32, 64, 3), ReLU, MaxPool2d(2),
        Flatten, Linear(64 * 5 * 5, 128), ReLU, Linear(128, out_features)

    With ``batch_norm``, a BatchNorm2d follows each convolution (which then has no bias: the
    norm's beta does its work) and a BatchNorm1d the hidden Linear.

    Args:
        image_shape: ``(channels, rows, cols)`` of the input images.
        out_features: classes.
        batch_norm: add batch normalisation as above.
        init: the initialiser of every weight; biases start at zero.
        rng: draws the initial weights.
        dtype: float32 (default) or float64.
    """
    rng = check_rng(rng)
    dtype = check_dtype(dtype)
    if not isinstance(image_shape, Sequence) or len(image_shape) != 3:
        raise ValueError(f"image_shape must be (channels, rows, cols), got {image_shape!r}")
    image_shape = tuple(check_int(d, "each of image_shape") for d in image_shape)

    def conv(c_in: int, c_out: int) -> list[Layer]:
        layer = Conv2d(c_in, c_out, 3, bias=not batch_norm, init=init, rng=rng, dtype=dtype)
        norm: list[Layer] = [BatchNorm2d(c_out, dtype=dtype)] if batch_norm else []
        return [layer, *norm, ReLU(), MaxPool2d(2)]

    convs = [*conv(image_shape[0], 32), *conv(32, 64), Flatten()]
    try:
        (n_flat,) = Sequential(convs).output_shape(image_shape)
    except ValueError as e:
        raise ValueError(f"image_shape {image_shape} does not fit the network: {e}") from None
    norm: list[Layer] = [BatchNorm1d(128, dtype=dtype)] if batch_norm else []
    head: list[Layer] = [
        Linear(n_flat, 128, init=init, rng=rng, dtype=dtype), *norm, ReLU(),
        Linear(128, out_features, init=init, rng=rng, dtype=dtype),
    ]  # fmt: skip
    return Sequential(convs + head)


__all__ = ["build_cnn", "build_mlp"]
