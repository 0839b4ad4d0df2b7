"""The toy 2-D sets: shapes, balance, seeding, noise, argument checks; a net learns one."""

from __future__ import annotations

import numpy as np
import pytest

import bareprop as bp
from bareprop import datasets

GENERATORS = ["spiral", "moons", "circles", "xor", "blobs"]


@pytest.mark.parametrize("name", GENERATORS)
def test_shapes_dtypes_balance_and_range(name: str) -> None:
    x, y = getattr(datasets, name)(301, 0.05, np.random.default_rng(0))
    assert x.shape == (301, 2) and x.dtype == np.float64
    assert y.shape == (301,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1
    assert np.abs(x).max() < 1.5


@pytest.mark.parametrize("name", GENERATORS)
def test_one_seed_one_set_and_the_global_state_untouched(name: str) -> None:
    f = getattr(datasets, name)
    before = np.random.get_state()[1].copy()  # noqa: NPY002 - the global state is the point
    a = f(100, 0.1, np.random.default_rng(7))
    after = np.random.get_state()[1]  # noqa: NPY002
    np.testing.assert_array_equal(before, after)  # nothing drew from NumPy's global generator
    b = f(100, 0.1, np.random.default_rng(7))
    c = f(100, 0.1, np.random.default_rng(8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("name", GENERATORS)
def test_noise_moves_the_points(name: str) -> None:
    f = getattr(datasets, name)
    (clean, yc), (noisy, yn) = (
        f(200, 0.0, np.random.default_rng(1)),
        f(200, 0.3, np.random.default_rng(1)),
    )
    np.testing.assert_array_equal(np.bincount(yc), np.bincount(yn))
    assert np.std(noisy) > np.std(clean)


def test_xor_without_noise_is_its_rule_and_circles_are_separated_by_radius() -> None:
    x, y = datasets.xor(400, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int64))
    x, y = datasets.circles(400, 0.0, np.random.default_rng(0))
    r = np.hypot(x[:, 0], x[:, 1])
    assert r[y == 0].max() < 0.5 <= 0.7 <= r[y == 1].min()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "n must be a positive integer"),
        ({"n": 2.5}, "n must be a positive integer"),
        ({"noise": -0.1}, "noise must be in"),
        ({"noise": float("nan")}, "noise must be in"),
    ],
)
@pytest.mark.parametrize("name", GENERATORS)
def test_bad_arguments_name_themselves(name: str, kwargs: dict, match: str) -> None:
    args = {"n": 10, "noise": 0.1, "rng": np.random.default_rng(0)} | kwargs
    with pytest.raises(ValueError, match=match):
        getattr(datasets, name)(**args)


@pytest.mark.parametrize("name", GENERATORS)
def test_rng_must_be_a_generator(name: str) -> None:
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        getattr(datasets, name)(10, 0.1, np.random)


def test_blobs_centers() -> None:
    _, y = datasets.blobs(90, 0.0, np.random.default_rng(0), centers=5)
    assert set(y.tolist()) == set(range(5))
    with pytest.raises(ValueError, match="centers must be at least 2"):
        datasets.blobs(10, 0.0, np.random.default_rng(0), centers=1)


def test_a_small_mlp_learns_the_spiral() -> None:
    rng = np.random.default_rng(0)
    x, y = datasets.spiral(400, 0.02, rng)
    model = bp.build_mlp(2, [32, 32], 2, init="he_uniform", rng=rng)
    opt = bp.Adam(model.parameters(), lr=0.02)
    bp.fit(model, x, y, loss=bp.SoftmaxCrossEntropy(), optimizer=opt, epochs=150,
           batch_size=32, rng=rng, verbose=0, lr_schedule="constant")  # fmt: skip
    assert bp.evaluate(model, x, y)["accuracy"] > 0.95
