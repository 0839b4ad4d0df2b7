"""PyTorch is the oracle: the same weights give the same outputs, losses, gradients and steps.

Tolerances: float64 ``rtol=1e-9, atol=1e-12`` (only rounding differs: summation order in a
matmul); float32 ``rtol=1e-5, atol=1e-6`` for values of order 1. Optimiser trajectories:
25 steps with real backward passes, float64 weights within ``rtol=1e-8, atol=1e-12`` of
torch.optim's after every step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bareprop as bp

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.torch

TOL = {np.float64: {"rtol": 1e-9, "atol": 1e-12}, np.float32: {"rtol": 1e-5, "atol": 1e-6}}
DTYPES = [np.float64, np.float32]
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def close(ours: Any, theirs: Any, dtype: type) -> None:
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    np.testing.assert_allclose(ours, theirs, **TOL[dtype])


def tensor(a: np.ndarray, grad: bool = False) -> Any:
    return torch.tensor(a, requires_grad=grad)


# --- layers ----------------------------------------------------------------------------------

ACTIVATIONS: dict[str, tuple[Callable[[], bp.Layer], Callable[[], Any]]] = {
    "relu": (bp.ReLU, nn.ReLU),
    "leaky_relu": (lambda: bp.LeakyReLU(0.01), lambda: nn.LeakyReLU(0.01)),
    "leaky_relu_0.2": (lambda: bp.LeakyReLU(0.2), lambda: nn.LeakyReLU(0.2)),
    "sigmoid": (bp.Sigmoid, nn.Sigmoid),
    "tanh": (bp.Tanh, nn.Tanh),
}


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear(dtype: type) -> None:
    rng = np.random.default_rng(0)
    ours = bp.Linear(7, 5, rng=rng, dtype=dtype)
    ours.bias.data[...] = rng.standard_normal(5)  # a non-zero bias, so it is really compared
    theirs = nn.Linear(7, 5, dtype=TORCH_DTYPE[dtype])
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data.T.copy()))  # torch: (out, in)
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    x = rng.standard_normal((6, 7)).astype(dtype)
    dy = rng.standard_normal((6, 5)).astype(dtype)
    xt = tensor(x, grad=True)
    yt = theirs(xt)
    yt.backward(tensor(dy))
    close(ours.forward(x), yt, dtype)
    close(ours.backward(dy), xt.grad, dtype)
    close(ours.weight.grad, theirs.weight.grad.T, dtype)
    close(ours.bias.grad, theirs.bias.grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation(name: str, dtype: type) -> None:
    rng = np.random.default_rng(1)
    ours, theirs = (make() for make in ACTIVATIONS[name])
    x = (rng.standard_normal((5, 6)) * 4).astype(dtype)
    x[0, :3] = [0.0, 40.0, -40.0]  # the kink, and saturation
    dy = rng.standard_normal((5, 6)).astype(dtype)
    xt = tensor(x, grad=True)
    yt = theirs(xt)
    yt.backward(tensor(dy))
    close(ours.forward(x), yt, dtype)
    close(ours.backward(dy), xt.grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_same_rule_as_torch(dtype: type) -> None:
    """Masks are random in each framework; the rule (keep, scale by 1/(1-p)) is the same."""
    p = 0.3
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((200, 50)) + 3).astype(dtype)  # no zeros, so a 0 means dropped
    dy = rng.standard_normal((200, 50)).astype(dtype)
    ours = bp.Dropout(p, rng=rng)
    y = ours.forward(x)
    dx = ours.backward(dy)
    xt = tensor(x, grad=True)
    yt = nn.Dropout(p)(xt)
    yt.backward(tensor(dy))
    for out, grad in ((y, dx), (yt.detach().numpy(), xt.grad.numpy())):
        kept = out != 0
        assert 0.65 < kept.mean() < 0.75  # about 1 - p
        close(out[kept], x[kept] / (1 - p), dtype)
        close(grad, dy * kept / dtype(1 - p), dtype)
    ours.eval()
    theirs = nn.Dropout(p).eval()
    close(ours.forward(x), theirs(tensor(x)), dtype)
    close(ours.backward(dy), dy, dtype)


# --- losses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_softmax_cross_entropy(reduction: str, dtype: type) -> None:
    rng = np.random.default_rng(3)
    z = (rng.standard_normal((8, 10)) * 5).astype(dtype)
    z[0] += 500  # large logits: stable in both
    y = rng.integers(0, 10, 8)
    ours = bp.SoftmaxCrossEntropy(reduction)
    zt = tensor(z, grad=True)
    lt = nn.CrossEntropyLoss(reduction=reduction)(zt, torch.from_numpy(y))
    lt.backward()
    close(ours.forward(z, y), lt, dtype)
    close(ours.backward(), zt.grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("target_kind", ["labels", "dense"])
def test_mse(reduction: str, dtype: type, target_kind: str) -> None:
    rng = np.random.default_rng(4)
    pred = rng.random((8, 10)).astype(dtype)
    labels = rng.integers(0, 10, 8)
    dense = np.eye(10, dtype=dtype)[labels] if target_kind == "labels" else rng.random((8, 10))
    target = labels if target_kind == "labels" else dense.astype(dtype)
    ours = bp.MSELoss(reduction)
    pt = tensor(pred, grad=True)
    lt = nn.MSELoss(reduction=reduction)(pt, tensor(dense.astype(dtype)))
    lt.backward()
    close(ours.forward(pred, target), lt, dtype)
    close(ours.backward(), pt.grad, dtype)


# --- whole models ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss_name", ["cross-entropy", "mse"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_model_forward_loss_and_every_gradient(
    activation: str, loss_name: str, dtype: type
) -> None:
    from bareprop.check.torch_side import to_torch, torch_loss

    rng = np.random.default_rng(5)
    model = bp.build_mlp(
        12, [9, 7], 4, activation=activation, rng=rng, dtype=dtype,
        output_activation="sigmoid" if loss_name == "mse" else None,
    )  # fmt: skip
    for p in model.parameters():
        p.data[...] += rng.standard_normal(p.shape).astype(dtype) * 0.1
    loss = bp.SoftmaxCrossEntropy() if loss_name == "cross-entropy" else bp.MSELoss("sum")
    tmodel = to_torch(model)
    x = rng.standard_normal((10, 12)).astype(dtype)
    y = rng.integers(0, 4, 10)
    out = model.forward(x)
    value = loss.forward(out, y)
    dx = model.backward(loss.backward())
    xt = tensor(x, grad=True)
    outt = tmodel(xt)
    lt = torch_loss(loss)(outt, torch.from_numpy(y))
    lt.backward()
    close(out, outt, dtype)
    close(value, lt, dtype)
    close(dx, xt.grad, dtype)
    theirs = list(tmodel.parameters())
    assert len(theirs) == len(model.parameters()) == 6
    for p, t in zip(model.parameters(), theirs, strict=True):
        close(p.grad, t.grad.T if p.data.ndim == 2 else t.grad, dtype)


# --- optimiser trajectories ------------------------------------------------------------------

OPTIMIZERS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "sgd": (lambda p: bp.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd-momentum": (
        lambda p: bp.SGD(p, lr=0.05, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
    "sgd-nesterov": (
        lambda p: bp.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    ),
    "sgd-weight-decay": (
        lambda p: bp.SGD(p, lr=0.05, momentum=0.5, weight_decay=0.1),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, weight_decay=0.1),
    ),
    "adam": (lambda p: bp.Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    "adam-options": (
        lambda p: bp.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    "adamw": (lambda p: bp.AdamW(p, lr=0.01), lambda p: torch.optim.AdamW(p, lr=0.01)),
    "adamw-decay": (
        lambda p: bp.AdamW(p, lr=0.01, weight_decay=0.5),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.5),
    ),
    "rmsprop": (lambda p: bp.RMSprop(p, lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    "rmsprop-momentum": (
        lambda p: bp.RMSprop(p, lr=0.005, alpha=0.9, momentum=0.9),
        lambda p: torch.optim.RMSprop(p, lr=0.005, alpha=0.9, momentum=0.9),
    ),
    "rmsprop-weight-decay": (
        lambda p: bp.RMSprop(p, lr=0.01, eps=1e-6, weight_decay=0.1),
        lambda p: torch.optim.RMSprop(p, lr=0.01, eps=1e-6, weight_decay=0.1),
    ),
}

STEPS = 25


def _twin_models(seed: int) -> tuple[bp.Sequential, Any]:
    from bareprop.check.torch_side import to_torch

    model = bp.build_mlp(6, [8, 5], 3, activation="tanh", rng=np.random.default_rng(seed),
                         dtype=np.float64)  # fmt: skip
    return model, to_torch(model)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_trajectory_matches_torch(name: str) -> None:
    make_ours, make_theirs = OPTIMIZERS[name]
    model, tmodel = _twin_models(6)
    ours, theirs = make_ours(model.parameters()), make_theirs(tmodel.parameters())
    loss, tloss = bp.SoftmaxCrossEntropy(), nn.CrossEntropyLoss()
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
    start = [p.data.copy() for p in model.parameters()]
    for step in range(STEPS):
        idx = rng.choice(40, 16, replace=False)  # a new batch each step
        loss.forward(model.forward(x[idx]), y[idx])
        model.backward(loss.backward())
        ours.step()
        theirs.zero_grad()
        tloss(tmodel(torch.from_numpy(x[idx])), torch.from_numpy(y[idx])).backward()
        theirs.step()
        for p, t in zip(model.parameters(), tmodel.parameters(), strict=True):
            t = t.detach().numpy()
            np.testing.assert_allclose(
                p.data, t.T if t.ndim == 2 else t, rtol=1e-8, atol=1e-12,
                err_msg=f"{name}: step {step + 1}",
            )  # fmt: skip
    moved = max(np.abs(p.data - s).max() for p, s in zip(model.parameters(), start, strict=True))
    assert moved > 1e-2  # the trajectory went somewhere


def test_changing_lr_between_steps_matches_torch() -> None:
    """A schedule sets ``optimizer.lr``; torch's equivalent is ``param_group['lr']``."""
    model, tmodel = _twin_models(8)
    ours, theirs = (
        bp.Adam(model.parameters(), lr=0.02),
        torch.optim.Adam(tmodel.parameters(), lr=0.02),
    )
    loss, tloss = bp.SoftmaxCrossEntropy("sum"), nn.CrossEntropyLoss(reduction="sum")
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((16, 6)), rng.integers(0, 3, 16)
    for step in range(STEPS):
        lr = 0.02 * bp.schedules.cosine(step, STEPS)
        ours.lr = lr
        for group in theirs.param_groups:
            group["lr"] = lr
        loss.forward(model.forward(x), y)
        model.backward(loss.backward())
        ours.step()
        theirs.zero_grad()
        tloss(tmodel(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        theirs.step()
    for p, t in zip(model.parameters(), tmodel.parameters(), strict=True):
        t = t.detach().numpy()
        np.testing.assert_allclose(p.data, t.T if t.ndim == 2 else t, rtol=1e-8, atol=1e-12)


# --- whole training runs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "dtype"),
    [
        ({"optimizer": "adam", "lr_schedule": "cosine"}, "float64"),
        ({"optimizer": "sgd", "momentum": 0.9, "nesterov": True, "dropout": 0.2,
          "activation": "tanh", "lr": 0.05, "lr_schedule": "linear"}, "float64"),
        ({"optimizer": "rmsprop", "loss": "mse", "reduction": "sum", "lr": 1e-3,
          "activation": "sigmoid", "weight_decay": 1e-4}, "float64"),
        ({"optimizer": "adamw", "weight_decay": 0.05, "activation": "leaky_relu"}, "float32"),
    ],
    ids=["adam-cosine", "sgd-nesterov-dropout", "rmsprop-mse-sum", "adamw-float32"],
)  # fmt: skip
def test_training_runs_match_torch(tiny_data: Path, options: dict[str, Any], dtype: str) -> None:
    from bareprop.check.compare import compare_training
    from bareprop.train.config import TrainConfig
    from bareprop.train.run import load_data, seeded_rngs

    config = TrainConfig(hidden=[16, 8], epochs=3, batch_size=32, dtype=dtype,
                         data_dir=str(tiny_data), **options).validate()  # fmt: skip
    data = load_data(config, seeded_rngs(config.seed)["split"])
    result = compare_training(config, data, threads=1)
    tol = {"rtol": 1e-9, "atol": 1e-12} if dtype == "float64" else {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(result.bareprop["loss"], result.torch["loss"], **tol)
    assert result.bareprop["test_accuracy"] == result.torch["test_accuracy"]
    assert result.divergence < (1e-10 if dtype == "float64" else 1e-4)
    assert len(result.bareprop["loss"]) == 3
