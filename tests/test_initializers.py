"""Initialisers: the distributions they promise, reproducibly."""

from __future__ import annotations

import numpy as np
import pytest

from bareprop.nn.init import INITIALIZERS, get_initializer

SHAPE = (400, 300)  # 120k draws: sample moments land within ~1% of the true ones


@pytest.mark.parametrize(
    ("name", "bound", "std"),
    [
        ("glorot_uniform", np.sqrt(6 / 700), np.sqrt(6 / 700) / np.sqrt(3)),
        ("he_uniform", np.sqrt(6 / 400), np.sqrt(6 / 400) / np.sqrt(3)),
        ("glorot_normal", None, np.sqrt(2 / 700)),
        ("he_normal", None, np.sqrt(2 / 400)),
        ("normal", None, 0.01),
    ],
)
def test_distribution(name: str, bound: float | None, std: float) -> None:
    w = get_initializer(name)(SHAPE, np.random.default_rng(0), np.float64)
    assert w.shape == SHAPE
    if bound is not None:
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(std, rel=0.02)
    assert abs(w.mean()) < 0.02 * std


def test_normal_takes_a_std_and_zeros_is_zero() -> None:
    w = get_initializer("normal", std=0.5)(SHAPE, np.random.default_rng(0), np.float32)
    assert w.dtype == np.float32 and w.std() == pytest.approx(0.5, rel=0.02)
    assert not get_initializer("zeros")((3, 2), np.random.default_rng(0)).any()


def test_same_generator_state_same_weights() -> None:
    for name, fn in INITIALIZERS.items():
        a = fn((5, 4), np.random.default_rng(3))
        b = fn((5, 4), np.random.default_rng(3))
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match="init must be one of .*got 'lecun'"):
        get_initializer("lecun")
