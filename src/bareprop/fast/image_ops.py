"""The plan's ops for image layers: convolution, pooling, batch norm and Flatten, run by their
fast versions (:mod:`bareprop.fast.cnn`) on channels-last arrays.

The layers take and give ``(N, C, H, W)``; the fast versions work on ``(N, H, W, C)``, where a
convolution is one GEMM with no transpose (see :mod:`bareprop.fast.conv`). So the plan turns a
batch channels-last once, before the first image layer (:class:`ChannelsLastOp`), keeps it so
through convolutions, pools, batch norms and elementwise activations (a ReLU right before a
max-pool runs inside it, :class:`ReLUMaxPoolOp`), and turns it back at
``Flatten`` (which orders the features as the layers' ``C, H, W``) or before any other layer
(:class:`ChannelsFirstOp`). The results equal the layers' own to rounding (a GEMM sums in
another order than the readable loops); ``tests/test_cnn_layers.py`` and
``tests/test_cnn_training.py`` state the tolerances.
"""

from __future__ import annotations

import numpy as np

from bareprop.fast.cnn import fast_backward, fast_forward
from bareprop.fast.pool import max_pool2d_backward, max_pool2d_forward
from bareprop.fast.workspace import Workspace
from bareprop.nn import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Layer,
    MaxPool2d,
)

IMAGE_LAYERS = (Conv2d, MaxPool2d, AvgPool2d, BatchNorm2d)
"""Layers the plan runs channels-last."""


class ImageOp:
    """An image layer (or the Flatten after them) through :func:`~bareprop.fast.cnn.fast_forward`
    and :func:`~bareprop.fast.cnn.fast_backward`, with a workspace kept across steps."""

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        self.name = type(layer).__name__
        self.input_grad = True  # False for the first layer: nothing reads its dx
        self.ws = Workspace()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return fast_forward(self.layer, x, self.ws)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        return fast_backward(self.layer, dy, self.ws, need_dx=self.input_grad)


class ReLUMaxPoolOp:
    """A ``ReLU`` and the ``MaxPool2d`` after it, as one op: the pool's maximum commutes with
    the ReLU, so ``max(pool(x), 0)`` forward (a pass over the small output instead of the
    large input) and the gradient sent only to positive maxima backward; one compiled pass
    each way with numba (see :func:`~bareprop.fast.pool.max_pool2d_forward`)."""

    name = "ReLU+MaxPool2d"

    def __init__(self, pool: MaxPool2d) -> None:
        self.pool = pool
        self.input_grad = True
        self.ws = Workspace()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return max_pool2d_forward(x, self.pool.kernel_size, self.pool.stride, self.ws, relu=True)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        return max_pool2d_backward(dy, self.ws) if self.input_grad else None


class ChannelsLastOp:
    """``(N, C, H, W) -> (N, H, W, C)`` forward, the inverse backward (None stays None)."""

    name = "to NHWC"

    def __init__(self) -> None:
        self.ws = Workspace()

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        out = self.ws.get("y", (n, h, w, c), x.dtype)
        np.copyto(out, x.transpose(0, 2, 3, 1))
        return out

    def backward(self, dy: np.ndarray | None) -> np.ndarray | None:
        return None if dy is None else np.ascontiguousarray(dy.transpose(0, 3, 1, 2))


class ChannelsFirstOp:
    """``(N, H, W, C) -> (N, C, H, W)`` forward, for a layer that needs the layers' layout."""

    name = "to NCHW"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def backward(self, dy: np.ndarray | None) -> np.ndarray | None:
        return None if dy is None else np.ascontiguousarray(dy.transpose(0, 2, 3, 1))


ImageOps = ImageOp | ReLUMaxPoolOp | ChannelsLastOp | ChannelsFirstOp
