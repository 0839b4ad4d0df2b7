"""Layers: the shared contract, and float64 central-difference checks of every gradient."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import bareprop as bp
from bareprop.check.gradcheck import numerical_gradient as numerical_grad

RTOL, ATOL = (
    1e-6,
    1e-8,
)  # central differences with eps=1e-6 in float64 are this good on smooth functions


def _dropout() -> bp.Layer:
    return bp.Dropout(0.3, rng=np.random.default_rng(1))


LAYER_FACTORIES: dict[str, Callable[[], bp.Layer]] = {
    "linear": lambda: bp.Linear(5, 4, rng=np.random.default_rng(0), dtype=np.float64),
    "relu": bp.ReLU,
    "leaky_relu": lambda: bp.LeakyReLU(0.1),
    "sigmoid": bp.Sigmoid,
    "tanh": bp.Tanh,
    "dropout": _dropout,
    "sequential": lambda: bp.Sequential(
        [
            bp.Linear(5, 6, rng=np.random.default_rng(0), dtype=np.float64),
            bp.Tanh(),
            bp.Linear(6, 4, rng=np.random.default_rng(1), dtype=np.float64),
        ]
    ),
}


def _input(layer: bp.Layer, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((3, 5))
    # Keep inputs away from ReLU's kink at 0, where the derivative is undefined.
    return np.where(np.abs(x) < 0.05, 0.5, x)


def _check_gradients(layer: bp.Layer, x: np.ndarray, rng: np.random.Generator) -> None:
    """d(sum(forward(x) * g))/d(everything) by backprop vs by central differences."""
    noise = getattr(layer, "rng", None)  # Dropout: every probe replays the same mask
    state = noise.bit_generator.state if noise is not None else None

    def forward() -> np.ndarray:
        if noise is not None:
            noise.bit_generator.state = state
        return layer.forward(x)

    y = forward()
    g = rng.standard_normal(y.shape)  # a random upstream gradient: no degenerate loss hides a bug
    dx = layer.backward(g)
    analytic = [p.grad.copy() for p in layer.parameters()]

    def f() -> float:
        return float(np.sum(forward() * g))

    np.testing.assert_allclose(dx, numerical_grad(f, x), rtol=RTOL, atol=ATOL)
    for p, grad in zip(layer.parameters(), analytic, strict=True):
        np.testing.assert_allclose(grad, numerical_grad(f, p.data), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", LAYER_FACTORIES)
def test_gradients_match_central_differences(name: str) -> None:
    rng = np.random.default_rng(42)
    layer = LAYER_FACTORIES[name]()
    _check_gradients(layer, _input(layer, rng), rng)


@pytest.mark.parametrize("name", LAYER_FACTORIES)
def test_layer_contract(name: str) -> None:
    """forward/backward shapes and dtypes, backward overwrites grads, train/eval return self."""
    layer = LAYER_FACTORIES[name]()
    x = np.random.default_rng(0).standard_normal((3, 5))
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == x.dtype
    first = [p.grad.copy() for p in layer.parameters()]
    layer.forward(x)
    layer.backward(np.ones_like(y))  # a second backward sets, it does not accumulate
    for p, g in zip(layer.parameters(), first, strict=True):
        np.testing.assert_array_equal(p.grad, g)
        assert p.grad.shape == p.data.shape and p.grad.dtype == p.data.dtype
    assert layer.eval() is layer and layer.training is False
    assert layer.train() is layer and layer.training is True


def test_linear_shapes_and_formula() -> None:
    layer = bp.Linear(3, 2, rng=np.random.default_rng(0))
    assert layer.weight.data.shape == (3, 2) and layer.bias.data.shape == (2,)
    assert layer.weight.data.dtype == np.float32
    layer.bias.data[:] = [1.0, -1.0]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(layer.forward(x), x @ layer.weight.data + layer.bias.data)
    assert layer.parameters() == [layer.weight, layer.bias]


def test_float32_layers_stay_float32() -> None:
    model = bp.build_mlp(4, [3], 2, activation="sigmoid", dropout=0.2, rng=np.random.default_rng(0))
    x = np.ones((2, 4), dtype=np.float32)
    y = model.forward(x)
    assert y.dtype == np.float32 and model.backward(np.ones_like(y)).dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_sigmoid_is_stable_for_extreme_inputs() -> None:
    y = bp.Sigmoid().forward(np.array([[-1000.0, 0.0, 1000.0]]))
    np.testing.assert_array_equal(y, [[0.0, 0.5, 1.0]])


def test_dropout_is_inverted_and_identity_in_eval() -> None:
    layer = bp.Dropout(0.25, rng=np.random.default_rng(0))
    x = np.ones((2000, 50))
    y = layer.forward(x)
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.01  # 100k Bernoulli draws: std of the mean is 0.0014
    layer.eval()
    assert layer.forward(x) is x


def test_sequential_parameters_in_layer_order() -> None:
    a, b = bp.Linear(4, 3), bp.Linear(3, 2)
    model = bp.Sequential([a, bp.ReLU(), b])
    assert model.parameters() == [a.weight, a.bias, b.weight, b.bias]


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: bp.Linear(0, 3), "in_features"),
        (lambda: bp.Linear(3, 2, dtype=np.int32), "dtype"),
        (lambda: bp.Linear(3, 2, init="xavier"), "init"),
        (lambda: bp.Dropout(1.0), "p must be in"),
        (lambda: bp.Dropout(-0.1), "p must be in"),
        (lambda: bp.Sequential([bp.ReLU(), "relu"]), "layers\\[1\\]"),
        (lambda: bp.build_mlp(4, [0], 2), "hidden\\[0\\]"),
        (lambda: bp.build_mlp(4, [3], 2, activation="gelu"), "activation"),
    ],
)
def test_bad_arguments_are_named(factory: Callable[[], object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        factory()


def test_same_seed_same_weights() -> None:
    def weights(seed: int) -> list[np.ndarray]:
        model = bp.build_mlp(784, [32, 16], 10, dropout=0.1, rng=np.random.default_rng(seed))
        return [p.data for p in model.parameters()]

    for a, b in zip(weights(7), weights(7), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(weights(7)[0], weights(8)[0])


def test_dropout_rng_draws_the_masks_and_leaves_the_weights_alone() -> None:
    masks = np.random.default_rng(5)
    a = bp.build_mlp(6, [4], 2, dropout=0.5, rng=np.random.default_rng(1), dropout_rng=masks)
    b = bp.build_mlp(6, [4], 2, dropout=0.5, rng=np.random.default_rng(1))
    assert a[2].rng is masks  # type: ignore[attr-defined]
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    with pytest.raises(TypeError, match="dropout_rng must be a numpy.random.Generator"):
        bp.build_mlp(6, [4], 2, dropout=0.5, dropout_rng=5)  # type: ignore[arg-type]
