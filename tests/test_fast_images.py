"""The compiled image loops (im2col, col2im, max-pool; :mod:`bareprop.fast.image_loops`) against
their NumPy versions, and the plan's ReLU+MaxPool2d fusion against the two layers it replaces.

The loops copy exactly and add in the NumPy versions' order, so the results are the same floats
(``assert_array_equal``; it treats -0.0 and 0.0 as equal, the one difference: a compiled
max-pool backward writes +0.0 where NumPy writes ``dy * 0``). The readable layers are the
specification both follow (``tests/test_cnn_layers.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import bareprop as bp
from bareprop.fast import kernels as _kernels
from bareprop.fast.conv import conv2d_backward, conv2d_forward
from bareprop.fast.image_ops import ReLUMaxPoolOp
from bareprop.fast.plan import Plan
from bareprop.fast.pool import max_pool2d_backward, max_pool2d_forward
from bareprop.fast.workspace import Workspace, to_channels_first, to_channels_last

pytest.importorskip("numba")

# (in channels, out channels, kernel, stride, padding, bias, image (H, W))
CONVS = [
    (1, 4, (3, 3), (1, 1), (0, 0), True, (9, 8)),
    (1, 3, (5, 5), (2, 2), (2, 2), True, (7, 6)),
    (3, 5, (3, 3), (1, 1), (1, 1), True, (6, 6)),
    (2, 3, (2, 3), (2, 1), (1, 0), False, (7, 5)),
    (4, 2, (1, 1), (1, 1), (0, 0), True, (4, 4)),
]
# (kernel, stride, image (H, W)): disjoint and tiling, disjoint with leftover rows and gaps,
# overlapping
POOLS = [((2, 2), (2, 2), (6, 8)), ((2, 2), (2, 2), (7, 5)), ((2, 2), (3, 3), (8, 8)),
         ((3, 3), (2, 2), (7, 7)), ((2, 3), (1, 2), (5, 8))]  # fmt: skip


@pytest.fixture(autouse=True)
def kernels_back_on() -> Iterator[None]:
    yield
    _kernels.use(True)


def both_ways(run: Callable[[], list[np.ndarray]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``run()`` with the compiled loops, then with NumPy only: copies of what it returns."""
    _kernels.use(True)
    assert _kernels.kernels() is not None
    compiled = [a.copy() for a in run()]
    _kernels.use(False)
    numpy = [a.copy() for a in run()]
    return compiled, numpy


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONVS, ids=str)
def test_compiled_conv_equals_numpy(case: tuple[Any, ...], dtype: type) -> None:
    c, o, kernel, stride, padding, bias, (h, w) = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, h, w, c)).astype(dtype)
    weight = rng.standard_normal((o, c, *kernel)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None

    def run() -> list[np.ndarray]:
        ws = Workspace()
        y = conv2d_forward(x, weight, b, stride, padding, ws)
        dy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
        gw, gb = np.empty_like(weight), np.empty(o, dtype)
        dx = conv2d_backward(dy, weight, ws, gw, gb if bias else None)
        assert dx is not None
        return [y, dx, gw, gb] if bias else [y, dx, gw]

    compiled, numpy = both_ways(run)
    for a, b_ in zip(compiled, numpy, strict=True):
        np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("case", POOLS, ids=str)
def test_compiled_max_pool_equals_numpy(case: tuple[Any, ...], relu: bool) -> None:
    kernel, stride, (h, w) = case
    rng = np.random.default_rng(2)
    x = rng.integers(-3, 4, (3, h, w, 4)).astype(np.float32)  # many ties, many zeros after ReLU

    def run() -> list[np.ndarray]:
        ws = Workspace()
        y = max_pool2d_forward(x, kernel, stride, ws, relu=relu)
        dy = np.random.default_rng(3).standard_normal(y.shape).astype(np.float32)
        return [y, max_pool2d_backward(dy, ws)]

    compiled, numpy = both_ways(run)
    for a, b in zip(compiled, numpy, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("case", POOLS, ids=str)
def test_relu_then_max_pool_fused_equals_the_two_layers(case: tuple[Any, ...],
                                                        compiled: bool) -> None:  # fmt: skip
    """Ties, all-negative windows and exact zeros included: the same output and input gradient
    as the readable ReLU followed by the readable MaxPool2d (torch's semantics)."""
    kernel, stride, (h, w) = case
    _kernels.use(compiled)
    rng = np.random.default_rng(4)
    x = rng.integers(-3, 3, (3, 4, h, w)).astype(np.float64)
    relu, pool = bp.ReLU(), bp.MaxPool2d(kernel, stride=stride)
    y = pool.forward(relu.forward(x))
    dy = rng.standard_normal(y.shape)
    dx = relu.backward(pool.backward(dy))
    op = ReLUMaxPoolOp(pool)
    np.testing.assert_array_equal(to_channels_first(op.forward(to_channels_last(x))), y)
    got = op.backward(to_channels_last(dy))
    assert got is not None
    np.testing.assert_array_equal(to_channels_first(got), dx)


def test_the_plan_fuses_a_relu_into_the_max_pool_after_it() -> None:
    model = bp.build_cnn((1, 12, 12), 4, rng=np.random.default_rng(0))
    names = [op.name for op in Plan(model).ops]
    assert names.count("ReLU+MaxPool2d") == 2
    assert "ReLU" not in names
    unfused = [op.name for op in Plan(model, fuse=False).ops]
    assert unfused.count("ReLU") == 3 and "ReLU+MaxPool2d" not in unfused  # and the Linear+ReLU
