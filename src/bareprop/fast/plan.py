"""The fast path of a training step: reused buffers and Linear+ReLU fusion."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from bareprop.nn.activations import ReLU
from bareprop.nn.layer import Layer
from bareprop.nn.linear import Linear
from bareprop.nn.sequential import Sequential


@contextmanager
def reused_buffers(layers: Iterable[Layer]) -> Iterator[None]:
    """Within the block, ``layers`` write outputs and gradients into arrays kept across calls.

    What ``fit`` uses for speed: a training step then allocates nothing. An array a layer
    returns is overwritten by its next call, so the caller must copy what it keeps. The
    values are the same as without reuse (the same operations, only the destination differs).
    """
    layers = [layer for layer in layers if not layer._reuse]  # nested: the outer block owns those
    for layer in layers:
        layer._reuse = True
    try:
        yield
    finally:
        for layer in layers:
            layer._reuse = False
            layer.__dict__.pop("_buffers", None)


@contextmanager
def fused_relus(layers: Sequence[Layer]) -> Iterator[None]:
    """Within the block, each Linear followed by a ReLU in ``layers`` computes both.

    Forward, the bias addition and the ReLU become one pass over the Linear's output (which
    the ReLU then returns as it is); backward, the ReLU's mask and the bias gradient become
    one pass (the ReLU hands its ``dy`` through). Same float operations, same results: only
    the passes over memory are fewer. ``layers`` must run in this order, as a Sequential's do.
    """
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(layers)
        if isinstance(a, Linear) and type(b) is ReLU and a._relu is None and not b._fused
    ]
    for linear, relu in pairs:
        linear._relu, relu._fused = relu, True
    try:
        yield
    finally:
        for linear, relu in pairs:
            linear._relu, relu._fused = None, False


@contextmanager
def fast_training(model: Layer) -> Iterator[None]:
    """What ``fit`` runs its steps in: nothing allocated per step, no unused gradient.

    The layers reuse their output buffers (see :func:`~bareprop.fast.plan.reused_buffers`),
    each Linear computes the ReLU after it in the same pass (see
    :func:`~bareprop.fast.plan.fused_relus`), and the first layer, if a Linear, skips the input
    gradient that nothing reads. Everything is restored on exit.
    """
    layers = model.flat() if isinstance(model, Sequential) else [model]
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
