"""The fast path: a :class:`Plan` runs a model's steps as its layers would, with fewer passes.

``fit``, ``evaluate`` and ``predict`` build a plan from a model (and, to train, a loss and an
optimiser) and run every step through it. The layers' own ``forward``/``backward``
(:mod:`bareprop.nn`) stay the specification; the plan computes the same floats (an MLP's in
the same order, bit for bit, ``tests/test_speed.py``; a CNN's to rounding, see
:mod:`bareprop.fast.image_ops`), and only changes where they go and how many passes over
memory it takes:

* each ``Linear`` followed by a ``ReLU`` runs as one op: the bias and the ReLU in one pass
  forward, the ReLU's mask and the bias gradient in one pass backward (:func:`use_fusion`);
  so does each ``ReLU`` followed by a ``MaxPool2d`` (the ReLU on the pool's output);
* outputs and gradients go into arrays kept across steps; a batch of ``N`` rows gets the
  first ``N`` rows of the largest, so the short last batch of an epoch allocates nothing;
* the first layer, if a ``Linear``, skips the input gradient nothing reads (a quarter of the
  reference MLP's GEMM work);
* the softmax cross-entropy, the bias+ReLU passes and the finite check of the gradients run
  as compiled loops (:mod:`bareprop.fast.kernels`, when numba is installed);
* the optimiser steps all the weights at once over flat buffers (:mod:`bareprop.fast.flat`);
* a CNN whose layers each treat an image on its own runs a batch as two halves, one per core
  (:mod:`bareprop.fast.halves`): equal to the whole batch's floats to rounding, not bit for
  bit (its parameter gradients are summed in two parts).

A layer the plan does not know (a user's ``Layer`` subclass, ``Dropout``, ``Sigmoid``, ...)
runs through its own ``forward``/``backward``; an optimiser it does not know, through its own
``step()``; a loss other than ``SoftmaxCrossEntropy``, through its own ``forward``/``backward``.
An array the plan returns is overwritten by its next call: copy what you keep.
"""

from __future__ import annotations

import itertools

import numpy as np

from bareprop.fast import halves, kernels
from bareprop.fast.cnn import ELEMENTWISE
from bareprop.fast.flat import flat_step
from bareprop.fast.halves import MIN_ROWS, PER_IMAGE, Halves, twin_layers
from bareprop.fast.image_ops import (
    IMAGE_LAYERS,
    ChannelsFirstOp,
    ChannelsLastOp,
    ImageOp,
    ImageOps,
    ReLUMaxPoolOp,
)
from bareprop.fast.workspace import Workspace
from bareprop.nn.activations import ReLU
from bareprop.nn.conv import Conv2d
from bareprop.nn.layer import Layer
from bareprop.nn.linear import Linear
from bareprop.nn.losses import Loss, SoftmaxCrossEntropy
from bareprop.nn.pool import MaxPool2d
from bareprop.nn.shape import Flatten
from bareprop.optim import Optimizer

_fuse = True


def use_fusion(on: bool) -> None:
    """Fuse each Linear with the ReLU after it in plans built from now on (the default), or
    not: the baseline for measuring what the fusion buys (``benchmarks/fusion_ab.py``)."""
    global _fuse
    _fuse = bool(on)


class LayerOp:
    """A layer the plan does not know: its own ``forward`` and ``backward``."""

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        self.name = type(layer).__name__

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.layer.forward(x)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        return self.layer.backward(dy)


class LinearOp:
    """``Linear.forward``/``backward`` into kept buffers; with ``relu``, also the ReLU after it:
    ``y = max(x @ W + b, 0)`` forward, ``dz = dy * [y > 0]`` then the Linear's backward."""

    def __init__(self, linear: Linear, *, relu: bool, input_grad: bool = True) -> None:
        self.weight, self.bias = linear.weight, linear.bias
        self.relu, self.input_grad = relu, input_grad
        self.name = "Linear+ReLU" if relu else "Linear"
        self.buf = Workspace()
        self.x = self.y = np.empty(0)

    def forward(self, x: np.ndarray) -> np.ndarray:  # x: (N, in)
        w, b = self.weight.data, self.bias.data
        self.x = x
        out = self.buf.get("y", (*x.shape[:-1], w.shape[1]), np.result_type(x, w))
        y = np.matmul(x, w, out=out)
        if self.relu:
            kernels.bias_relu(y, b)  # y = max(y + b, 0), one pass
        else:
            y += b
        self.y = y
        return y  # (N, out)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:  # dy: (N, out)
        if self.relu:  # dy is the gradient of the ReLU's output: its mask and the bias gradient
            mask = self.buf.get("mask", dy.shape, np.bool_)
            dz = self.buf.get("dz", dy.shape, dy.dtype)
            dy = kernels.relu_bias_backward(dy, self.y, mask, dz, self.bias.grad)
        else:
            kernels.column_sums(dy, self.bias.grad)  # dy.sum(axis=0)
        np.matmul(self.x.T, dy, out=self.weight.grad)  # (in, out)
        if not self.input_grad:
            return None  # the first layer: nothing reads dx
        dx = self.buf.get("dx", self.x.shape, dy.dtype)
        return np.matmul(dy, self.weight.data.T, out=dx)  # (N, in)


class ReLUOp:
    """``ReLU.forward``/``backward`` into kept buffers, compiled when numba is there."""

    name = "ReLU"

    def __init__(self) -> None:
        self.buf = Workspace()
        self.y = np.empty(0)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.y = kernels.relu(x, self.buf.get("y", x.shape, x.dtype))  # max(x, 0)
        return self.y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        mask, dx = self.buf.get("mask", dy.shape, np.bool_), self.buf.get("dx", dy.shape, dy.dtype)
        return kernels.relu_backward(dy, self.y, mask, dx)  # dy * [y > 0]


Op = LayerOp | LinearOp | ReLUOp | ImageOps


class SoftmaxCrossEntropyOp:
    """``SoftmaxCrossEntropy.forward``/``backward`` with compiled pieces around NumPy's exp and
    log. Labels are not checked again: ``fit`` checked all of them once."""

    def __init__(self, loss: SoftmaxCrossEntropy) -> None:
        self.mean = loss.reduction == "mean"
        self.exp = self.sums = self.labels = np.empty(0)

    def forward(self, pred: np.ndarray, labels: np.ndarray) -> float:
        shifted, picked = kernels.shift_rows(pred, labels)  # z - max(z), and z[y] - max(z)
        self.exp = np.exp(shifted, out=shifted)
        self.sums = self.exp.sum(axis=1, keepdims=True)
        self.labels = labels
        total = np.log(self.sums).sum(dtype=np.float64) - picked.sum(dtype=np.float64)
        return float(total / len(labels) if self.mean else total)

    def backward(self) -> np.ndarray:
        scale = 1.0 / len(self.labels) if self.mean else 1.0
        return kernels.softmax_ce_grad(self.exp, self.sums, self.labels, scale)


class Plan:
    """A model's forward (and, with a loss and an optimiser, its training step), fast.

    Args:
        model: the model; a Sequential is opened up into its layers (``model.flat()``).
        loss: the loss to train with (None to predict only).
        optimizer: the optimiser to step (None to predict only).
        fuse: fuse Linear+ReLU pairs (default: as :func:`use_fusion` last said).
    """

    def __init__(
        self,
        model: Layer,
        loss: Loss | None = None,
        optimizer: Optimizer | None = None,
        *,
        fuse: bool | None = None,
    ) -> None:
        flat = getattr(model, "flat", None)
        layers: list[Layer] = flat() if callable(flat) else [model]
        fuse = _fuse if fuse is None else fuse
        self.ops = _first_without_dx(_ops(layers, fuse))
        self.halves: Halves | None = None  # a CNN of per-image layers runs batches as halves
        if any(type(la) is Conv2d for la in layers) and all(type(la) in PER_IMAGE for la in layers):
            twins, pairs = twin_layers(layers)
            self.halves = Halves(self.ops, _first_without_dx(_ops(twins, fuse)), pairs)
            kernels.kernels()  # numba loaded here, not by both halves' threads at once
        self._halved: Halves | None = None  # the halves the last forward ran in, if any
        self.loss: Loss | SoftmaxCrossEntropyOp | None = loss
        if type(loss) is SoftmaxCrossEntropy:
            self.loss = SoftmaxCrossEntropyOp(loss)
        self.step = _no_optimizer if optimizer is None else flat_step(optimizer)
        self._batch = Workspace()

    def take(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """``x[idx]``, gathered into a kept buffer."""
        out = self._batch.get("x", (len(idx), *x.shape[1:]), x.dtype)
        return np.take(x, idx, axis=0, out=out, mode="clip")

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._halved = self.halves if len(x) >= MIN_ROWS else None
        if self._halved is not None:
            return self._halved.forward(x)
        return halves.forward(self.ops, x)

    def loss_forward(self, out: np.ndarray, target: np.ndarray) -> float:
        """The loss of ``out``; ``target`` must be checked already (``fit`` checks all of y
        once: the compiled loss reads ``out[i, target[i]]`` without a bounds check)."""
        assert self.loss is not None, "a plan built without a loss"
        return self.loss.forward(out, target)

    def loss_backward(self) -> np.ndarray:
        """The gradient of the last ``loss_forward`` with respect to the model's output."""
        assert self.loss is not None, "a plan built without a loss"
        return self.loss.backward()

    def backward(self) -> None:
        """Backpropagate the gradient of the last ``loss_forward``: every ``.grad`` set."""
        if self._halved is not None:
            self._halved.backward(self.loss_backward())
        else:
            halves.backward(self.ops, self.loss_backward())

    @staticmethod
    def all_finite(a: np.ndarray) -> bool:
        """``np.isfinite(a).all()``, without the boolean copy when compiled."""
        return kernels.all_finite(a)


def _no_optimizer() -> None:
    raise AssertionError("a plan built without an optimizer")


def _first_without_dx(ops: list[Op]) -> list[Op]:
    """``ops``, the first layer's told that nothing reads its input gradient."""
    first = ops[1] if ops and isinstance(ops[0], ChannelsLastOp) else None
    first = ops[0] if ops and first is None else first
    if isinstance(first, (LinearOp, ImageOp)):
        first.input_grad = False
    return ops


def _ops(layers: list[Layer], fuse: bool) -> list[Op]:
    """One op per layer, or per Linear+ReLU or ReLU+MaxPool2d pair when fusing; image layers run
    channels-last between a :class:`ChannelsLastOp` and their Flatten (or a
    :class:`ChannelsFirstOp`)."""
    ops: list[Op] = []
    inside: set[int] = set()  # layers the op of the layer before them runs (its ReLU, its pool)
    channels_last = False
    for layer, after in itertools.zip_longest(layers, layers[1:]):
        if id(layer) in inside:
            continue
        pool = after if fuse and type(layer) is ReLU and type(after) is MaxPool2d else None
        if channels_last and not isinstance(layer, (*IMAGE_LAYERS, *ELEMENTWISE, Flatten)):
            ops.append(ChannelsFirstOp())
            channels_last = False
        if isinstance(layer, IMAGE_LAYERS) or isinstance(pool, MaxPool2d):
            if not channels_last:
                ops.append(ChannelsLastOp())
                channels_last = True
            if isinstance(pool, MaxPool2d):
                inside.add(id(pool))
                ops.append(ReLUMaxPoolOp(pool))
            else:
                ops.append(ImageOp(layer))
        elif isinstance(layer, Flatten) and channels_last:
            ops.append(ImageOp(layer))  # back to (N, C * H * W), in the layers' C, H, W order
            channels_last = False
        elif type(layer) is Linear:
            relu = fuse and type(after) is ReLU
            if relu:
                inside.add(id(after))
            ops.append(LinearOp(layer, relu=relu))
        elif type(layer) is ReLU:
            ops.append(ReLUOp())
        else:
            ops.append(LayerOp(layer))
    if channels_last:
        ops.append(ChannelsFirstOp())
    return ops
