"""The compiled image loops (im2col, col2im, max-pool; :mod:`bareprop.fast.image_loops`) against
their NumPy versions, and the plan's ReLU+MaxPool2d fusion against the two layers it replaces.

The loops copy exactly, compare by the same rule and add in the NumPy versions' order, so the
results are the same floats (``assert_array_equal``: it treats -0.0 and 0.0 as equal, the one
difference, a compiled max-pool backward writes +0.0 where NumPy writes ``dy * 0``; and NaN as
equal to NaN). The readable layers are the specification both follow
(``tests/test_cnn_layers.py``; here too for max-pool's NaN rule, torch's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import bareprop as bp
from bareprop.fast import conv as _conv
from bareprop.fast import kernels as _kernels
from bareprop.fast.conv import conv2d_backward, conv2d_forward
from bareprop.fast.image_ops import ReLUMaxPoolOp
from bareprop.fast.plan import Plan
from bareprop.fast.pool import max_pool2d_backward, max_pool2d_forward
from bareprop.fast.workspace import Workspace, to_channels_first, to_channels_last

try:
    import numba  # noqa: F401

    HAVE_NUMBA = True
except ImportError:
    HAVE_NUMBA = False
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")

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
         ((3, 3), (2, 2), (7, 7)), ((2, 3), (1, 2), (5, 8)),
         ((17, 17), (1, 1), (18, 19))]  # fmt: skip  # 289 offsets: an int32 argmax


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


@needs_numba
@pytest.mark.parametrize("chunk_bytes", [_conv.CHUNK_BYTES, 1], ids=["one-chunk", "per-image"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONVS, ids=str)
def test_compiled_conv_equals_numpy(
    case: tuple[Any, ...], dtype: type, chunk_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole batches and a chunk per image (:data:`~bareprop.fast.conv.CHUNK_BYTES`)."""
    monkeypatch.setattr(_conv, "CHUNK_BYTES", chunk_bytes)
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


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("case", POOLS, ids=str)
def test_compiled_max_pool_equals_numpy(case: tuple[Any, ...], relu: bool, dtype: type) -> None:
    kernel, stride, (h, w) = case
    rng = np.random.default_rng(2)
    x = rng.integers(-3, 4, (3, h, w, 4)).astype(dtype)  # many ties, many zeros after ReLU
    x[0, 1, 1, 0] = x[1, 2, 3, 1] = x[1, 3, 2, 1] = np.nan  # NaN wins its windows (torch)

    def run() -> list[np.ndarray]:
        ws = Workspace()
        y = max_pool2d_forward(x, kernel, stride, ws, relu=relu)
        dy = np.random.default_rng(3).standard_normal(y.shape).astype(dtype)
        return [y, max_pool2d_backward(dy, ws)]

    compiled, numpy = both_ways(run)
    for a, b in zip(compiled, numpy, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("compiled", [pytest.param(True, marks=needs_numba), False])
@pytest.mark.parametrize("case", POOLS, ids=str)
def test_relu_then_max_pool_fused_equals_the_two_layers(case: tuple[Any, ...],
                                                        compiled: bool) -> None:  # fmt: skip
    """Ties, all-negative windows, exact zeros and NaN included: the same output and input
    gradient as the readable ReLU followed by the readable MaxPool2d (torch's semantics)."""
    kernel, stride, (h, w) = case
    _kernels.use(compiled)
    rng = np.random.default_rng(4)
    x = rng.integers(-3, 3, (3, 4, h, w)).astype(np.float64)
    x[0, 1, 1, 1] = x[2, 0, 3, 2] = np.nan
    relu, pool = bp.ReLU(), bp.MaxPool2d(kernel, stride=stride)
    y = pool.forward(relu.forward(x))
    dy = rng.standard_normal(y.shape)
    dx = relu.backward(pool.backward(dy))
    op = ReLUMaxPoolOp(pool)
    np.testing.assert_array_equal(to_channels_first(op.forward(to_channels_last(x))), y)
    got = op.backward(to_channels_last(dy))
    assert got is not None
    np.testing.assert_array_equal(to_channels_first(got), dx)


def test_max_pool_sends_a_nan_window_s_gradient_to_its_last_nan_as_torch() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([[[[1.0, np.nan], [np.nan, 3.0]]]])
    pool = bp.MaxPool2d(2)
    y, dx = pool.forward(x), pool.backward(np.ones((1, 1, 1, 1)))
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2).sum().backward()
    assert np.isnan(y).all()
    np.testing.assert_array_equal(dx, xt.grad.numpy())  # [[0, 0], [1, 0]]
    for compiled in [True, False] if HAVE_NUMBA else [False]:
        _kernels.use(compiled)
        ws = Workspace()
        assert np.isnan(max_pool2d_forward(to_channels_last(x), (2, 2), (2, 2), ws)).all()
        got = max_pool2d_backward(np.ones((1, 1, 1, 1)), ws)
        np.testing.assert_array_equal(to_channels_first(got), dx)


@pytest.mark.parametrize("compiled", [pytest.param(True, marks=needs_numba), False])
def test_a_batch_of_no_images_goes_through_forward_and_backward(compiled: bool) -> None:
    _kernels.use(compiled)
    x = np.zeros((0, 6, 6, 2))
    weight, ws = np.ones((3, 2, 3, 3)), Workspace()
    y = conv2d_forward(x, weight, np.ones(3), (1, 1), (1, 1), ws)
    gw, gb = np.full_like(weight, 7.0), np.full(3, 7.0)
    dx = conv2d_backward(np.zeros_like(y), weight, ws, gw, gb)
    assert y.shape == (0, 6, 6, 3) and dx is not None and dx.shape == x.shape
    assert not gw.any() and not gb.any()  # sums over no images: zero
    pool_ws = Workspace()
    y = max_pool2d_forward(x, (2, 2), (2, 2), pool_ws, relu=True)
    assert max_pool2d_backward(np.zeros_like(y), pool_ws).shape == x.shape


def test_the_plan_fuses_a_relu_into_the_max_pool_after_it() -> None:
    model = bp.build_cnn((1, 12, 12), 4, rng=np.random.default_rng(0))
    names = [op.name for op in Plan(model).ops]
    assert names.count("ReLU+MaxPool2d") == 2
    assert "ReLU" not in names
    unfused = [op.name for op in Plan(model, fuse=False).ops]
    assert unfused.count("ReLU") == 3 and "ReLU+MaxPool2d" not in unfused  # and the Linear+ReLU
