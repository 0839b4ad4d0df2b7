"""CNN layers: central differences, PyTorch parity, fast == readable, and the layer contract.

Tolerances, and why:

* gradcheck (float64, ``eps=1e-6``): ``rtol=1e-6, atol=1e-8``, as ``tests/test_layers.py``: the
  central difference's error is ``O(eps^2)`` plus ``|f| * 1e-16 / eps`` of rounding.
* torch parity (float64): ``rtol=1e-9, atol=1e-12``. Only the order of summation differs; the
  ``atol`` is for entries near 0 that are sums of O(1) terms cancelling (a mean-zero gradient,
  a batch-norm output of 0), whose rounding error is absolute, about 1e-15, not relative.
* fast == readable: float64 ``rtol=1e-12, atol=1e-12``; float32 ``rtol=1e-5, atol=1e-5``
  (values of order 1; a GEMM sums in another order than the loops, so bit-identical is not
  expected, though pools happen to be).
* staged batch-norm backward == closed form (float64): ``rtol=1e-10, atol=1e-12``.
* 25-step optimiser trajectories against torch.optim (float64): ``rtol=1e-9, atol=1e-10`` on
  every weight and running statistic after every step. The weights are of order 1, and
  rounding differences grow through train-mode batch norm step by step: the worst, SGD with
  momentum on the conv+BN net, ends 1.4e-11 apart (an entry passing near 0 fails a pure
  ``rtol``); the other three runs stay within 5e-14.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import bareprop as bp
from bareprop.fast.cnn import fast_backward, fast_forward
from bareprop.fast.workspace import Workspace, to_channels_first, to_channels_last
from bareprop.gradcheck import KinkWarning, check_layer, check_model
from bareprop.nn import AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Flatten, LayerNorm, MaxPool2d
from bareprop.nn.norm import normalize_backward, normalize_backward_staged

F64 = np.float64
GRADCHECK: dict[str, Any] = {"rtol": 1e-6, "atol": 1e-8}
TRAJECTORY: dict[str, Any] = {"rtol": 1e-9, "atol": 1e-10}
TORCH: dict[str, Any] = {"rtol": 1e-9, "atol": 1e-12}
FAST: dict[Any, dict[str, Any]] = {
    np.float64: {"rtol": 1e-12, "atol": 1e-12},
    np.float32: {"rtol": 1e-5, "atol": 1e-5},
}


def distinct(shape: tuple[int, ...], seed: int = 0, dtype: Any = F64) -> np.ndarray:
    """Values in [-2, 2) all at least ``4 / size`` apart: no max-pool window has a tie."""
    size = int(np.prod(shape))
    perm = np.random.default_rng(seed).permutation(size)
    return ((perm - size / 2) * (4 / size)).reshape(shape).astype(dtype)


def conv(*args: Any, seed: int = 0, **kwargs: Any) -> Conv2d:
    kwargs.setdefault("dtype", F64)
    layer = Conv2d(*args, rng=np.random.default_rng(seed), **kwargs)
    if layer.bias is not None:  # a non-zero bias, so it is really compared
        layer.bias.data[...] = np.random.default_rng(seed + 1).standard_normal(layer.bias.shape)
    return layer


def norm(layer: Any, seed: int = 0, eval_mode: bool = False) -> Any:
    """Random gamma/beta (and running statistics), so nothing hides behind ones and zeros."""
    rng = np.random.default_rng(seed)
    layer.weight.data[...] = rng.uniform(0.5, 1.5, layer.weight.shape)
    layer.bias.data[...] = rng.standard_normal(layer.bias.shape)
    if hasattr(layer, "running_mean"):
        layer.running_mean[...] = rng.standard_normal(layer.running_mean.shape)
        layer.running_var[...] = rng.uniform(0.5, 2.0, layer.running_var.shape)
    return layer.eval() if eval_mode else layer


# name -> (make the layer in float64, per-sample input shape)
LAYERS: dict[str, tuple[Callable[[], Any], tuple[int, ...]]] = {
    "conv3x3-pad1": (lambda: conv(2, 3, 3, padding=1), (2, 6, 6)),
    "conv2x3-stride21-pad10": (
        lambda: conv(2, 3, (2, 3), stride=(2, 1), padding=(1, 0)),
        (2, 7, 5),
    ),
    "conv1x1-nobias": (lambda: conv(3, 2, 1, bias=False), (3, 4, 4)),
    "conv5x5-stride2-pad2": (lambda: conv(1, 2, 5, stride=2, padding=2), (1, 7, 6)),
    "maxpool2": (lambda: MaxPool2d(2), (2, 6, 7)),
    "maxpool3-stride2": (lambda: MaxPool2d(3, stride=2), (2, 7, 7)),
    "maxpool2x3-stride12": (lambda: MaxPool2d((2, 3), stride=(1, 2)), (2, 5, 8)),
    "avgpool2": (lambda: AvgPool2d(2), (2, 6, 7)),
    "avgpool3-stride1": (lambda: AvgPool2d(3, stride=1), (2, 5, 5)),
    "batchnorm1d": (lambda: norm(BatchNorm1d(5, dtype=F64)), (5,)),
    "batchnorm1d-ncl": (lambda: norm(BatchNorm1d(3, dtype=F64)), (3, 4)),
    "batchnorm1d-eval": (lambda: norm(BatchNorm1d(5, dtype=F64), eval_mode=True), (5,)),
    "batchnorm2d": (lambda: norm(BatchNorm2d(3, momentum=0.3, dtype=F64)), (3, 4, 5)),
    "batchnorm2d-eval": (lambda: norm(BatchNorm2d(3, dtype=F64), eval_mode=True), (3, 4, 5)),
    "layernorm-features": (lambda: norm(LayerNorm(6, dtype=F64)), (6,)),
    "layernorm-chw": (lambda: norm(LayerNorm((2, 3, 4), eps=1e-3, dtype=F64)), (2, 3, 4)),
    "layernorm-hw": (lambda: norm(LayerNorm((3, 4), dtype=F64)), (2, 3, 4)),
    "flatten": (Flatten, (2, 3, 4)),
}
BATCH = 4

# KINKS: gradcheck's kink test compares the two one-sided slopes at the check's tolerance. At
# rtol 1e-6 it also flags the plain curvature of smooth layers (a gap of about |f''| * eps, e.g.
# batch norm over 4 samples), so its warning is ignored for them. Max-pool is piecewise
# linear, without curvature: there a flag is a real kink, and the warning stays an error.


def make(name: str, dtype: Any = F64) -> tuple[Any, np.ndarray]:
    factory, shape = LAYERS[name]
    layer = factory()
    if dtype != F64:  # the same layer in float32: parameters and buffers cast
        for p in layer.parameters():
            p.data = p.data.astype(dtype)
            p.grad = np.zeros_like(p.data)
        for i, b in enumerate(layer.buffers()):
            name_ = ("running_mean", "running_var")[i]
            setattr(layer, name_, b.astype(dtype))
        layer.dtype = np.dtype(dtype)
    return layer, distinct((BATCH, *shape), dtype=dtype)


def nhwc(a: np.ndarray) -> np.ndarray:
    return to_channels_last(a) if a.ndim == 4 else a


def nchw(a: np.ndarray) -> np.ndarray:
    return to_channels_first(a) if a.ndim == 4 else a


# --- central differences ---------------------------------------------------------------------


@pytest.mark.parametrize("name", LAYERS)
def test_gradients_match_central_differences(name: str) -> None:
    layer, x = make(name)
    with warnings.catch_warnings():
        if not isinstance(layer, MaxPool2d):  # see KINKS
            warnings.simplefilter("ignore", KinkWarning)
        report = check_layer(layer, x, **GRADCHECK)
    assert report.passed, report.summary()
    assert [c.name for c in report.checks][1:] == [
        n for n in ("weight", "bias") if getattr(layer, n, None) is not None
    ]


def small_cnn(seed: int = 0) -> bp.Sequential:
    rng = np.random.default_rng(seed)
    return bp.Sequential([
        Conv2d(2, 3, 3, padding=1, rng=rng, dtype=F64), norm(BatchNorm2d(3, dtype=F64)), bp.Tanh(),
        MaxPool2d(2), Conv2d(3, 4, (2, 3), stride=(1, 2), padding=(0, 1), rng=rng, dtype=F64),
        bp.Tanh(), AvgPool2d((2, 1)), Flatten(), norm(LayerNorm(8, dtype=F64)),
        bp.Linear(8, 5, rng=rng, dtype=F64),
    ])  # fmt: skip


def test_whole_cnn_with_a_loss() -> None:
    model = small_cnn()
    x = distinct((3, 2, 8, 8), seed=1)
    y = np.array([0, 3, 4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KinkWarning)  # see KINKS; a max-pool switch would fail
        report = check_model(model, bp.SoftmaxCrossEntropy(), x, y, max_entries=40, **GRADCHECK)
    assert report.passed, report.summary()
    assert len(report.checks) == 1 + len(model.parameters())


# --- torch parity ----------------------------------------------------------------------------

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def close(ours: Any, theirs: Any, **tol: float) -> None:
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    np.testing.assert_allclose(ours, theirs, **(tol or TORCH))


def torch_step(layer: Any, x: np.ndarray, dy: np.ndarray, twin: Any = None) -> Any:
    """Forward and backward in both; compares y, dx and every parameter gradient."""
    from bareprop.check.twins import parameter_pairs, torch_twin

    twin = twin if twin is not None else torch_twin(layer, torch)
    twin.zero_grad()  # torch accumulates; ours sets
    xt = torch.tensor(x, requires_grad=True)
    yt = twin(xt)
    yt.backward(torch.from_numpy(dy))
    close(layer.forward(x), yt)
    close(layer.backward(dy), xt.grad)
    pairs = parameter_pairs(layer, twin)
    assert len(pairs) == len(list(twin.parameters()))
    for name, ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs, **TORCH, err_msg=name)
    return twin


@pytest.mark.parametrize("name", LAYERS)
def test_matches_torch(name: str) -> None:
    layer, x = make(name)
    dy = np.random.default_rng(2).standard_normal((BATCH, *layer.output_shape(x.shape[1:])))
    torch_step(layer, x, dy)


CONVS = [  # (C, O, kernel, stride, padding, H, W)
    (1, 2, 3, 1, 0, 6, 6),
    (3, 4, 3, 1, 1, 7, 8),
    (2, 5, (2, 3), (2, 1), (1, 0), 9, 7),
    (3, 2, (3, 1), (1, 3), (0, 2), 5, 10),
    (4, 3, 5, 2, 2, 11, 9),
    (2, 3, (1, 4), (3, 2), (2, 1), 6, 8),
]


@pytest.mark.parametrize("case", CONVS, ids=str)
def test_conv_matches_torch_over_shapes(case: tuple[Any, ...]) -> None:
    c, o, k, s, p, h, w = case
    layer = conv(c, o, k, stride=s, padding=p, seed=3)
    x = np.random.default_rng(4).standard_normal((3, c, h, w))
    dy = np.random.default_rng(5).standard_normal((3, *layer.output_shape((c, h, w))))
    torch_step(layer, x, dy)


@pytest.mark.parametrize(
    "layer", [MaxPool2d(2), MaxPool2d(3, 1), MaxPool2d((2, 3), (2, 1))], ids=repr
)
def test_max_pool_ties_go_where_torch_sends_them(layer: MaxPool2d) -> None:
    """After a ReLU most windows hold several equal maxima (zeros, and small integers here)."""
    x = np.maximum(np.random.default_rng(6).integers(-3, 3, (2, 3, 7, 8)), 0).astype(F64)
    dy = np.random.default_rng(7).standard_normal((2, *layer.output_shape(x.shape[1:])))
    torch_step(layer, x, dy)
    ws = Workspace()  # and the fast path picks the same maximum
    np.testing.assert_array_equal(nchw(fast_forward(layer, nhwc(x), ws)), layer.forward(x))
    np.testing.assert_array_equal(nchw(fast_backward(layer, nhwc(dy), ws)), layer.backward(dy))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cls", "shape"),
    [(BatchNorm1d, (8, 3)), (BatchNorm1d, (6, 3, 5)), (BatchNorm2d, (5, 3, 4, 2))],
    ids=["1d", "1d-ncl", "2d"],
)
def test_batch_norm_steps_then_eval_match_torch(cls: type, shape: tuple[int, ...]) -> None:
    from bareprop.check.twins import torch_twin

    layer = norm(cls(3, eps=1e-3, momentum=0.2, dtype=F64), seed=8)
    twin = torch_twin(layer, torch)
    rng = np.random.default_rng(9)
    for step in range(4):  # each step a new batch; the running statistics after each
        x = rng.standard_normal(shape) * (step + 1) + step
        torch_step(layer, x, rng.standard_normal(shape), twin)
        close(layer.running_mean, twin.running_mean)
        close(layer.running_var, twin.running_var)  # the unbiased variance, as torch's
    layer.eval(), twin.eval()
    torch_step(layer, rng.standard_normal(shape), rng.standard_normal(shape), twin)


# --- fast == readable ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", LAYERS)
def test_fast_equals_readable(name: str, dtype: type) -> None:
    layer, x = make(name, dtype)
    start = [b.copy() for b in layer.buffers()]
    dy = np.random.default_rng(10).standard_normal(layer.forward(x).shape).astype(dtype)
    ws = Workspace()
    for batch in (BATCH, 2):  # the smaller batch reuses the workspace's arrays, as views
        for b, s in zip(layer.buffers(), start, strict=True):
            b[...] = s
        y, dx = layer.forward(x[:batch]), layer.backward(dy[:batch])
        want = [y, dx, *(p.grad.copy() for p in layer.parameters()), *layer.buffers()]
        want = [a.copy() for a in want]
        for b, s in zip(layer.buffers(), start, strict=True):
            b[...] = s  # the fast path starts from the same running statistics
        yf = nchw(fast_forward(layer, nhwc(x[:batch]), ws))
        dxf = nchw(fast_backward(layer, nhwc(dy[:batch]), ws))  # type: ignore[arg-type]
        got = [yf, dxf, *(p.grad for p in layer.parameters()), *layer.buffers()]
        assert yf.dtype == dxf.dtype == dtype
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, **FAST[dtype])


def test_fast_conv_and_pools_in_a_chain_skip_the_first_dx() -> None:
    layer = conv(1, 4, 3, padding=1)
    x = distinct((3, 1, 6, 6))
    dy = np.random.default_rng(11).standard_normal((3, 4, 6, 6))
    layer.forward(x)
    layer.backward(dy)
    want = [p.grad.copy() for p in layer.parameters()]
    ws = Workspace()
    fast_forward(layer, nhwc(x), ws)
    assert fast_backward(layer, nhwc(dy), ws, need_dx=False) is None
    for p, g in zip(layer.parameters(), want, strict=True):
        np.testing.assert_allclose(p.grad, g, **FAST[F64])
    with pytest.raises(TypeError, match="no fast path for Dropout"):
        fast_forward(bp.Dropout(0.5), x, Workspace())


# --- batch norm: the staged backward and the closed form -------------------------------------


@pytest.mark.parametrize("axes", [(0,), (0, 2), (0, 2, 3), (1, 2, 3), (3,)], ids=str)
def test_staged_batch_norm_backward_equals_closed_form(axes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(12)
    x = rng.standard_normal((5, 3, 4, 2)) * 3 + 1
    dxhat = rng.standard_normal(x.shape)
    eps = 1e-5
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    closed = normalize_backward(dxhat, (x - mean) * inv_std, inv_std, axes)
    staged = normalize_backward_staged(dxhat, x, eps, axes)
    np.testing.assert_allclose(staged, closed, rtol=1e-10, atol=1e-12)


# --- the contract ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", LAYERS)
def test_layer_contract(name: str) -> None:
    layer, x = make(name, np.float32)
    cls = type(layer)
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == config  # JSON-friendly
    rebuilt = cls(**json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    assert cls.param_shapes(config) == [p.shape for p in layer.parameters()]
    assert cls.buffer_shapes(config) == [b.shape for b in layer.buffers()]
    buffers = layer.buffers()
    y = layer.forward(x)
    assert y.shape[1:] == layer.output_shape(x.shape[1:])
    assert all(a is b for a, b in zip(layer.buffers(), buffers, strict=True))  # in place
    dy = np.random.default_rng(13).standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)
    assert y.dtype == dx.dtype == np.float32 and dx.shape == x.shape
    first = [p.grad.copy() for p in layer.parameters()]
    layer.forward(x)
    layer.backward(dy)  # a second backward sets the gradients, it does not add to them
    for p, g in zip(layer.parameters(), first, strict=True):
        np.testing.assert_array_equal(p.grad, g)
        assert p.grad.dtype == p.data.dtype == np.float32
    assert all(b.dtype == np.float32 for b in layer.buffers())
    assert layer.eval() is layer and not layer.training
    assert layer.train() is layer and layer.training


def test_importing_the_layers_leaves_torch_out() -> None:
    code = (
        "import sys, bareprop.nn, bareprop.fast.cnn, bareprop.check.twins; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_conv_fans_and_init() -> None:
    """he_uniform bound sqrt(6 / fan_in), fan_in = C kH kW; glorot's uses fan_out = O kH kW."""
    layer = Conv2d(16, 32, (3, 5), rng=np.random.default_rng(14))
    assert layer.weight.shape == (32, 16, 3, 5) and layer.weight.data.dtype == np.float32
    bound = np.sqrt(6 / (16 * 15))
    assert bound * 0.98 < np.abs(layer.weight.data).max() <= bound
    glorot = Conv2d(16, 32, (3, 5), init="glorot_uniform", rng=np.random.default_rng(14))
    bound = np.sqrt(6 / (16 * 15 + 32 * 15))
    assert bound * 0.98 < np.abs(glorot.weight.data).max() <= bound
    np.testing.assert_array_equal(layer.bias.data, 0)  # type: ignore[union-attr]


def test_running_stats_are_updated_in_place() -> None:
    layer = BatchNorm2d(2)
    mean, var = layer.running_mean, layer.running_var
    layer.forward(distinct((4, 2, 3, 3), dtype=np.float32))
    assert layer.running_mean is mean and layer.running_var is var
    assert not np.all(mean == 0)


ANY_CONV: Any = Conv2d  # wrong argument types on purpose, unchecked by mypy


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: Conv2d(0, 2, 3), "in_channels must be a positive integer, got 0"),
        (lambda: ANY_CONV(1, 2.0, 3), "out_channels must be an integer, got float 2.0"),
        (lambda: Conv2d(1, 2, 0), "kernel_size must be positive .*got 0"),
        (lambda: ANY_CONV(1, 2, (3, 3, 3)), "kernel_size must be an int or a pair"),
        (lambda: Conv2d(1, 2, 3, stride=(1, 0)), "stride must be positive .*got \\(1, 0\\)"),
        (lambda: Conv2d(1, 2, 3, padding=-1), "padding must be >= 0 .*got -1"),
        (lambda: ANY_CONV(1, 2, 3, bias="yes"), "bias must be True or False"),
        (lambda: Conv2d(1, 2, 3, dtype=np.int32), "dtype"),
        (lambda: Conv2d(1, 2, 3, init="xavier"), "init"),
        (lambda: ANY_CONV(1, 2, 3, rng=3), "rng"),
        (lambda: Conv2d.param_shapes({"in_channels": 1, "out_channels": 2}), "kernel_size"),
        (lambda: Conv2d.param_shapes({"in_channels": 1, "out_channels": 2, "kernel_size": -3}),
         "kernel_size must be positive"),
        (lambda: MaxPool2d(0), "kernel_size must be positive"),
        (lambda: AvgPool2d(2, stride=(2, 0)), "stride must be positive"),
        (lambda: MaxPool2d.param_shapes({"kernel_size": 2, "padding": 1}), "padding"),
        (lambda: BatchNorm2d(0), "num_features must be a positive integer, got 0"),
        (lambda: BatchNorm1d(3, eps=0), "eps must be positive"),
        (lambda: BatchNorm1d(3, momentum=1.5), "momentum must be in"),
        (lambda: BatchNorm2d.param_shapes({"num_features": -1}), "num_features"),
        (lambda: LayerNorm(()), "normalized_shape"),
        (lambda: LayerNorm((3, 0)), "normalized_shape must be a positive integer, got 0"),
        (lambda: Flatten.param_shapes({"start_dim": 2}), "Flatten takes no arguments"),
    ],
)  # fmt: skip
def test_bad_arguments_are_named(factory: Callable[[], object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        factory()


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (Conv2d(3, 2, 3), (2, 8, 8), "Conv2d expects a per-sample shape .3, H, W., got .2, 8"),
        (Conv2d(3, 2, 3), (3, 8), "Conv2d expects a per-sample shape"),
        (Conv2d(1, 2, 5, padding=1), (1, 2, 9), "5x5 kernel is larger than its padded input 4x11"),
        (MaxPool2d(3), (2, 2, 5), "MaxPool2d's 3x3 window is larger than its input 2x5"),
        (AvgPool2d(2), (4, 4), "AvgPool2d expects a per-sample shape \\(C, H, W\\)"),
        (BatchNorm2d(3), (2, 4, 4), "BatchNorm2d expects a per-sample shape .C, H, W. with C=3"),
        (BatchNorm1d(3), (3, 4, 4), "BatchNorm1d expects"),
        (LayerNorm((3, 4)), (3, 5), "LayerNorm expects a per-sample shape ending with \\(3, 4\\)"),
        (Flatten(), (), "Flatten expects a per-sample shape with at least 1 dim"),
    ],
)  # fmt: skip
def test_wrong_shapes_are_named(layer: Any, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        layer.output_shape(shape)
    with pytest.raises(ValueError, match=type(layer).__name__):
        layer.forward(np.zeros((2, *shape), dtype=np.float32))


# --- optimiser trajectories ------------------------------------------------------------------

STEPS = 25


def bn_net(rng: np.random.Generator) -> list[Any]:
    return [
        Conv2d(2, 3, 3, padding=1, bias=False, rng=rng, dtype=F64), BatchNorm2d(3, dtype=F64),
        bp.ReLU(), MaxPool2d(2), Conv2d(3, 4, (2, 3), stride=(1, 2), padding=(0, 1), rng=rng,
        dtype=F64), bp.ReLU(), Flatten(), BatchNorm1d(24, dtype=F64), bp.Linear(24, 5, rng=rng,
        dtype=F64),
    ]  # fmt: skip


def ln_net(rng: np.random.Generator) -> list[Any]:
    return [
        Conv2d(2, 4, (3, 2), stride=(1, 2), rng=rng, dtype=F64), bp.Tanh(), AvgPool2d(2, 1),
        LayerNorm((4, 5, 3), dtype=F64), Conv2d(4, 3, 2, padding=1, rng=rng, dtype=F64),
        MaxPool2d(3, 2), Flatten(), bp.Linear(6, 5, rng=rng, dtype=F64),
    ]  # fmt: skip


OPTIMIZERS = {
    "sgd-momentum": (lambda p: bp.SGD(p, lr=0.05, momentum=0.9),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "adam": (lambda p: bp.Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
}  # fmt: skip


@pytest.mark.parametrize("net", [bn_net, ln_net], ids=["conv-bn", "conv-ln"])
@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_optimizer_trajectory_matches_torch(net: Callable[..., list[Any]], opt: str) -> None:
    from bareprop.check.twins import parameter_pairs, torch_twin

    layers = net(np.random.default_rng(15))
    twins = [torch_twin(layer, torch) for layer in layers]
    tmodel = torch.nn.Sequential(*twins)
    params = [p for layer in layers for p in layer.parameters()]
    make_ours, make_theirs = OPTIMIZERS[opt]
    ours, theirs = make_ours(params), make_theirs(tmodel.parameters())
    loss, tloss = bp.SoftmaxCrossEntropy(), torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(16)
    data, labels = rng.standard_normal((32, 2, 8, 8)), rng.integers(0, 5, 32)
    start = [p.data.copy() for p in params]
    for step in range(STEPS):
        idx = rng.choice(32, 8, replace=False)  # a new batch each step
        out = data[idx]
        for layer in layers:
            out = layer.forward(out)
        loss.forward(out, labels[idx])
        dy = loss.backward()
        for layer in reversed(layers):
            dy = layer.backward(dy)
        ours.step()
        theirs.zero_grad()
        tloss(tmodel(torch.from_numpy(data[idx])), torch.from_numpy(labels[idx])).backward()
        theirs.step()
        for layer, twin in zip(layers, twins, strict=True):
            for name, p, t in parameter_pairs(layer, twin, "data"):
                np.testing.assert_allclose(p, t, **TRAJECTORY, err_msg=f"step {step + 1}: {name}")
            for b, t in zip(getattr(layer, "buffers", list)(), twin.buffers(), strict=False):
                np.testing.assert_allclose(b, t.numpy(), **TRAJECTORY, err_msg=f"step {step + 1}")
    moved = max(np.abs(p.data - s).max() for p, s in zip(params, start, strict=True))
    assert moved > 1e-2  # the trajectory went somewhere
    out, tout = data, tmodel.eval()(torch.from_numpy(data))
    for layer in layers:
        out = layer.eval().forward(out)
    close(out, tout)
