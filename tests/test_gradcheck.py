"""bareprop.check.gradcheck: it passes on correct gradients and, above all, fails on wrong ones."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import bareprop as bp
from bareprop.check import gradcheck as gc
from bareprop.nn.losses import softmax

RNG_SEED = 7


def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def away_from_zero(shape: tuple[int, ...]) -> np.ndarray:
    """Inputs at least 0.1 from 0, so no ReLU probe straddles its kink."""
    x = rng().standard_normal(shape)
    return np.where(np.abs(x) < 0.1, 0.5, x)


# --- known derivatives ----------------------------------------------------------------------


def test_numerical_gradient_of_known_functions() -> None:
    x = np.array([0.3, -1.2, 2.0])
    g = gc.numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-8)
    g = gc.numerical_gradient(lambda: float(np.sum(np.sin(x))), x)
    np.testing.assert_allclose(g, np.cos(x), rtol=1e-8)


def test_check_function_passes_on_a_correct_derivative() -> None:
    a = np.array([[0.5, -1.0], [2.0, 0.25]])
    report = gc.check_function(lambda: float(np.sum(np.exp(a))), {"a": a}, {"a": np.exp(a)})
    assert report.passed
    assert report["a"].max_abs < 1e-8
    assert report["a"].checked == 4


def test_check_function_fails_on_a_wrong_derivative() -> None:
    a = np.array([0.5, -1.0, 2.0])
    # d/da sin(a) is cos(a); -cos(a), 1.01 * cos(a) and sin(a) are all wrong.
    for wrong in (-np.cos(a), 1.01 * np.cos(a), np.sin(a)):
        report = gc.check_function(lambda: float(np.sum(np.sin(a))), {"a": a}, {"a": wrong})
        assert not report.passed
        assert report.failures == ["a"]


def test_tolerances_are_torch_defaults_and_decide() -> None:
    assert (gc.EPS, gc.ATOL, gc.RTOL) == (1e-6, 1e-5, 1e-3)
    a = np.array([10.0])
    f = lambda: float(a[0] ** 2)  # noqa: E731
    # off by 0.5% of 20: fails rtol=1e-3, passes rtol=1e-2
    assert not gc.check_function(f, {"a": a}, {"a": np.array([20.1])}).passed
    assert gc.check_function(f, {"a": a}, {"a": np.array([20.1])}, rtol=1e-2).passed


def test_check_function_rejects_float32() -> None:
    a = np.zeros(3, dtype=np.float32)
    with pytest.raises(TypeError, match="float64"):
        gc.check_function(lambda: 0.0, {"a": a}, {"a": a})


# --- every layer, every loss -----------------------------------------------------------------

LAYERS: dict[str, Callable[[], bp.Layer]] = {
    "linear": lambda: bp.Linear(5, 4, rng=rng(), dtype=np.float64),
    "linear-float32": lambda: bp.Linear(5, 4, rng=rng()),
    "relu": bp.ReLU,
    "leaky_relu": lambda: bp.LeakyReLU(0.1),
    "sigmoid": bp.Sigmoid,
    "tanh": bp.Tanh,
    "dropout-train": lambda: bp.Dropout(0.4, rng=rng()),
    "dropout-eval": lambda: bp.Dropout(0.4, rng=rng()).eval(),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_passes(name: str) -> None:
    layer = LAYERS[name]()
    report = gc.check_layer(layer, away_from_zero((6, 5)), rng=rng())
    assert report.passed, report.summary()
    assert report.checks[0].name == "input"
    assert len(report.checks) == 1 + len(layer.parameters())


def test_dropout_mask_is_frozen_and_really_drops() -> None:
    layer = bp.Dropout(0.5, rng=rng())
    x = away_from_zero((8, 6))
    report = gc.check_layer(layer, x, rng=rng())
    assert report.passed
    ana = report["input"].analytic
    assert np.any(ana == 0) and np.any(ana != 0)  # a real mask was applied, the same each time


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss_cls", [bp.SoftmaxCrossEntropy, bp.MSELoss])
def test_every_loss_and_reduction_passes(loss_cls: type[bp.Loss], reduction: str) -> None:
    r = rng()
    pred = r.standard_normal((6, 4)) * 3
    labels = r.integers(0, 4, 6)
    report = gc.check_loss(loss_cls(reduction), pred, labels, rng=r)
    assert report.passed, report.summary()
    if loss_cls is bp.MSELoss:
        report = gc.check_loss(loss_cls(reduction), pred, r.standard_normal((6, 4)), rng=r)
        assert report.passed, report.summary()


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("loss", ["cross-entropy", "mse"])
def test_whole_models_pass(activation: str, loss: str) -> None:
    r = rng()
    model = bp.build_mlp(
        6, [5, 4], 3, activation=activation, dropout=0.2, rng=r,
        output_activation="sigmoid" if loss == "mse" else None,
    )  # fmt: skip
    loss_fn = bp.SoftmaxCrossEntropy() if loss == "cross-entropy" else bp.MSELoss("sum")
    report = gc.check_model(model, loss_fn, r.standard_normal((7, 6)), r.integers(0, 3, 7), rng=r)
    assert report.passed, report.summary()
    assert report.failures == []
    assert [c.name for c in report.checks] == [
        "input", "layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias",
        "layers.6.weight", "layers.6.bias",
    ]  # fmt: skip


def test_checks_a_copy_and_leaves_the_model_alone() -> None:
    model = bp.build_mlp(4, [3], 2, rng=rng())  # float32
    before = [p.data.copy() for p in model.parameters()]
    report = gc.check_model(model, bp.SoftmaxCrossEntropy(), away_from_zero((3, 4)), [0, 1, 1])
    assert report.passed
    for p, old in zip(model.parameters(), before, strict=True):
        assert p.data.dtype == np.float32
        np.testing.assert_array_equal(p.data, old)


def test_max_entries_samples_a_subset() -> None:
    layer = bp.Linear(30, 20, rng=rng(), dtype=np.float64)
    report = gc.check_layer(layer, away_from_zero((4, 30)), max_entries=10)
    assert [c.checked for c in report.checks] == [10, 10, 10]
    assert report["weight"].shape == (30, 20)


# --- deliberately wrong backward passes: the checker must fail -------------------------------


class LinearNoBiasGrad(bp.Linear):
    def backward(self, dy: np.ndarray) -> np.ndarray:
        dx = super().backward(dy)
        self.bias.grad[...] = dy[0]  # bug: one row instead of the sum over the batch
        return dx


class LinearWrongTranspose(bp.Linear):
    def backward(self, dy: np.ndarray) -> np.ndarray:
        dx = super().backward(dy)
        self.weight.grad[...] = dy.T @ self._x  # bug: (out, in), the transpose (a square W fits)
        return dx


class LinearWrongInputGrad(bp.Linear):
    def backward(self, dy: np.ndarray) -> np.ndarray:
        super().backward(dy)
        return dy @ np.abs(self.weight.data).T  # bug: drops the signs of W


class SigmoidWrongDerivative(bp.Sigmoid):
    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * self._y  # bug: forgot the (1 - y)


class TanhNoDerivative(bp.Tanh):
    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy  # bug: forgot the derivative


class CrossEntropyForgotMean(bp.SoftmaxCrossEntropy):
    def backward(self) -> np.ndarray:
        return super().backward() * len(self._labels)  # bug: forward means, backward sums


@pytest.mark.parametrize(
    ("layer", "bad"),
    [
        (LinearNoBiasGrad(5, 4, rng=rng(), dtype=np.float64), "bias"),
        (LinearWrongTranspose(5, 5, rng=rng(), dtype=np.float64), "weight"),
        (LinearWrongInputGrad(5, 4, rng=rng(), dtype=np.float64), "input"),
        (SigmoidWrongDerivative(), "input"),
        (TanhNoDerivative(), "input"),
    ],
    ids=["bias-grad", "weight-transpose", "input-grad", "sigmoid", "tanh"],
)
def test_fails_on_a_wrong_layer_backward(layer: bp.Layer, bad: str) -> None:
    report = gc.check_layer(layer, away_from_zero((6, 5)), rng=rng())
    assert not report.passed
    assert report.failures == [bad]
    assert report[bad].max_abs > 1e-3


def test_fails_on_a_wrong_layer_inside_a_model() -> None:
    r = rng()
    model = bp.build_mlp(6, [5], 3, activation="sigmoid", rng=r, dtype=np.float64)
    model.layers[1] = SigmoidWrongDerivative()
    report = gc.check_model(
        model, bp.SoftmaxCrossEntropy(), r.standard_normal((4, 6)), [0, 1, 2, 0]
    )
    # Everything upstream of the broken sigmoid is wrong; the last Linear is still right.
    assert report.failures == ["input", "layers.0.weight", "layers.0.bias"]


def test_fails_on_a_wrong_loss_backward() -> None:
    r = rng()
    report = gc.check_loss(CrossEntropyForgotMean(), r.standard_normal((5, 3)), [0, 1, 2, 1, 0])
    assert not report.passed


def test_random_upstream_catches_what_a_plain_sum_hides() -> None:
    """Softmax rows sum to 1: with upstream ones every gradient is 0 and any backward passes."""

    class Softmax(bp.Layer):
        def forward(self, x: np.ndarray) -> np.ndarray:
            self._p = softmax(x)
            return self._p

        def backward(self, dy: np.ndarray) -> np.ndarray:
            return dy * self._p  # bug: only the diagonal of the Jacobian

    x = away_from_zero((3, 4))
    ones = gc.check_layer(Softmax(), x, upstream=np.ones((3, 4)))
    assert not ones.passed  # dy * p is not 0, the true gradient is
    random = gc.check_layer(Softmax(), x, rng=rng())
    assert not random.passed


def test_warns_at_a_relu_kink() -> None:
    x = np.array([[0.0, 1.0, -1.0], [2.0, 1e-7, -0.5]])
    with pytest.warns(gc.KinkWarning, match="kink"):
        report = gc.check_layer(bp.ReLU(), x, rng=rng())
    assert report["input"].kinks == 2
    with pytest.warns(gc.KinkWarning):
        gc.check_layer(bp.LeakyReLU(0.2), x, rng=rng())


def test_no_kink_warning_on_smooth_layers() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = gc.check_layer(bp.Tanh(), np.array([[0.0, 1e-7, -2.0]]), rng=rng())
    assert report.passed and report["input"].kinks == 0


def test_named_parameters_and_as_float64() -> None:
    model = bp.build_mlp(3, [2], 2, rng=rng())
    names = [n for n, _ in gc.named_parameters(model)]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    copy = gc.as_float64(model)
    assert all(p.data.dtype == np.float64 for p in copy.parameters())
    assert all(p.data.dtype == np.float32 for p in model.parameters())


def test_checks_the_input_gradient_even_after_fit_skipped_it() -> None:
    """fit's plan skips the first layer's unread dx; the layers themselves never do."""
    model = bp.build_mlp(4, [3], 2, rng=rng(), dtype=np.float64)
    x = away_from_zero((3, 4))
    opt = bp.SGD(model.parameters(), lr=0.1)
    bp.fit(model, x, [0, 1, 1], loss=bp.SoftmaxCrossEntropy(), optimizer=opt, verbose=0)
    report = gc.check_model(model, bp.SoftmaxCrossEntropy(), x, [0, 1, 1])
    assert report.passed and report["input"].max_abs < 1e-8


def test_readme_gradcheck_example_runs() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Proving the maths", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's 'Proving the maths' has no Python example"
    exec(compile(match.group(1), "README.md", "exec"), {})
