"""Losses: values against direct formulas, gradients against central differences (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import bareprop as bp
from bareprop.check.gradcheck import numerical_gradient as numerical_grad

RTOL, ATOL = 1e-6, 1e-9


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_value_and_gradient(reduction: str) -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((5, 4)) * 3
    y = np.array([0, 3, 1, 1, 2])
    loss = bp.SoftmaxCrossEntropy(reduction=reduction)
    value = loss.forward(z, y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # the textbook formula, unstabilised
    per_sample = -np.log(p[np.arange(5), y])
    expected = per_sample.mean() if reduction == "mean" else per_sample.sum()
    assert value == pytest.approx(expected, rel=1e-12)
    grad = loss.backward()
    np.testing.assert_allclose(
        grad, numerical_grad(lambda: loss.forward(z, y), z), rtol=RTOL, atol=ATOL
    )


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    loss = bp.SoftmaxCrossEntropy()
    z = np.array([[1000.0, 0.0, -1000.0], [-1e6, 1e6, 0.0]])
    assert loss.forward(z, np.array([0, 1])) == pytest.approx(0.0, abs=1e-12)
    assert loss.forward(z, np.array([2, 0])) == pytest.approx((2000.0 + 2e6) / 2)
    assert np.isfinite(loss.backward()).all()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_value_and_gradient(reduction: str) -> None:
    rng = np.random.default_rng(1)
    pred = rng.standard_normal((4, 3))
    target = rng.standard_normal((4, 3))
    loss = bp.MSELoss(reduction=reduction)
    value = loss.forward(pred, target)
    sq = (pred - target) ** 2
    assert value == pytest.approx(sq.mean() if reduction == "mean" else sq.sum(), rel=1e-12)
    grad = loss.backward()
    np.testing.assert_allclose(
        grad, numerical_grad(lambda: loss.forward(pred, target), pred), rtol=RTOL, atol=ATOL
    )


def test_mse_accepts_integer_labels_as_one_hot() -> None:
    pred = np.array([[0.2, 0.7], [0.9, 0.1]])
    loss = bp.MSELoss()
    assert loss.forward(pred, np.array([1, 0])) == loss.forward(
        pred, np.array([[0.0, 1.0], [1.0, 0.0]])
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: bp.SoftmaxCrossEntropy().forward(np.zeros((2, 3)), np.array([0, 3])),
            "label 3 outside",
        ),
        (
            lambda: bp.SoftmaxCrossEntropy().forward(np.zeros((2, 3)), np.array([0, -1])),
            "label -1 outside",
        ),
        (
            lambda: bp.SoftmaxCrossEntropy().forward(np.zeros((2, 3)), np.array([0])),
            "1 labels but there are 2",
        ),
        (lambda: bp.SoftmaxCrossEntropy().forward(np.zeros((2, 3)), np.array([0.5, 1])), "integer"),
        (lambda: bp.SoftmaxCrossEntropy().forward(np.zeros(3), np.array([0])), "2-D"),
        (lambda: bp.MSELoss().forward(np.zeros((2, 3)), np.zeros((3, 2))), "does not match"),
        (lambda: bp.MSELoss(reduction="none"), "reduction"),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call()  # type: ignore[operator]
