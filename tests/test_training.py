"""fit / evaluate / predict on small problems; reproducibility from one seed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import bareprop as bp


def _blobs(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clusters in 4-D: learnable to ~100% by a small MLP."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=float)
    return (centres[y] + 0.5 * rng.standard_normal((n, 4))).astype(np.float32), y


def _train(seed: int, **kwargs: object) -> tuple[bp.Sequential, dict[str, list[float]]]:
    x, y = _blobs()
    model = bp.build_mlp(4, [16], 3, dropout=0.1, rng=np.random.default_rng(seed))
    opt = bp.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = bp.fit(
        model,
        x,
        y,
        loss=bp.SoftmaxCrossEntropy(),
        optimizer=opt,
        epochs=5,
        batch_size=16,
        validation_data=_blobs(60, seed=1),
        rng=np.random.default_rng(seed),
        verbose=0,
        **kwargs,
    )
    return model, history


def test_loss_falls_and_accuracy_rises() -> None:
    _, history = _train(0)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert all(len(v) == 5 for v in history.values())
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_lr_schedule_is_applied_and_restored(schedule: str) -> None:
    x, y = _blobs(64)
    model = bp.build_mlp(4, [8], 3, rng=np.random.default_rng(0))
    opt = bp.SGD(model.parameters(), lr=0.2)
    seen: list[float] = []
    step = opt.step

    def spy() -> None:
        seen.append(opt.lr)
        step()

    opt.step = spy  # type: ignore[method-assign]
    bp.fit(
        model,
        x,
        y,
        loss=bp.SoftmaxCrossEntropy(),
        optimizer=opt,
        epochs=2,
        batch_size=16,
        verbose=0,
        rng=np.random.default_rng(0),
        lr_schedule=schedule,
    )
    assert len(seen) == 8 and seen[0] == pytest.approx(0.2)
    assert all(a > b for a, b in itertools.pairwise(seen))
    assert opt.lr == 0.2


def test_same_seed_identical_weights_and_metrics() -> None:
    (m1, h1), (m2, h2) = _train(3), _train(3)
    for a, b in zip(m1.parameters(), m2.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    assert h1["loss"] == h2["loss"] and h1["val_accuracy"] == h2["val_accuracy"]
    m3, _ = _train(4)
    assert not np.array_equal(m1.parameters()[0].data, m3.parameters()[0].data)


def test_evaluate_predict_and_probabilities() -> None:
    model, _ = _train(0)
    x, y = _blobs(100, seed=5)
    proba = bp.predict_proba(model, x)
    assert proba.shape == (100, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    classes = bp.predict(model, x)
    np.testing.assert_array_equal(classes, proba.argmax(axis=1))
    result = bp.evaluate(model, x, y, loss=bp.SoftmaxCrossEntropy())
    assert result["accuracy"] == pytest.approx(np.mean(classes == y))
    assert 0 < result["loss"] < 1


def test_predict_is_eval_mode_and_deterministic() -> None:
    model, _ = _train(0)
    x, _ = _blobs(50, seed=6)
    model.train()  # predict must switch dropout off, then restore the mode
    np.testing.assert_array_equal(bp.predict_proba(model, x), bp.predict_proba(model, x))
    assert model.training


def test_mse_training_with_sigmoid_outputs() -> None:
    x, y = _blobs()
    model = bp.build_mlp(
        4, [16], 3, activation="sigmoid", output_activation="sigmoid", rng=np.random.default_rng(0)
    )
    opt = bp.SGD(model.parameters(), lr=2.0)
    history = bp.fit(
        model,
        x,
        y,
        loss=bp.MSELoss(),
        optimizer=opt,
        epochs=10,
        batch_size=16,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    assert history["loss"][-1] < history["loss"][0]
    proba = bp.predict_proba(model, x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert bp.evaluate(model, x, y)["accuracy"] > 0.9


def test_float64_training() -> None:
    x, y = _blobs()
    model = bp.build_mlp(4, [8], 3, rng=np.random.default_rng(0), dtype=np.float64)
    bp.fit(
        model,
        x,
        y,
        loss=bp.SoftmaxCrossEntropy(),
        optimizer=bp.Adam(model.parameters(), lr=0.01),
        epochs=2,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    assert all(p.data.dtype == np.float64 for p in model.parameters())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"x": np.zeros((10, 5), np.float32)}, "x has 5 features but the model expects 4"),
        ({"x": np.full((10, 4), np.nan, np.float32)}, "NaN"),
        ({"y": np.full(10, 3)}, "label 3 outside the model's classes 0..2"),
        ({"y": np.zeros(9, int)}, "9 labels but there are 10 samples"),
        ({"lr_schedule": "step"}, "lr_schedule"),
    ],
)
def test_fit_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    model = bp.build_mlp(4, [8], 3, rng=np.random.default_rng(0))
    args: dict[str, object] = {"x": np.zeros((10, 4), np.float32), "y": np.zeros(10, int)}
    args.update(kwargs)
    x, y = args.pop("x"), args.pop("y")
    with pytest.raises(ValueError, match=message):
        bp.fit(
            model,
            x,
            y,
            loss=bp.SoftmaxCrossEntropy(),
            optimizer=bp.SGD(model.parameters(), lr=0.1),
            verbose=0,
            **args,
        )  # type: ignore[arg-type]


def test_divergence_is_reported() -> None:
    x, y = _blobs()
    model = bp.build_mlp(4, [16], 3, rng=np.random.default_rng(0))
    opt = bp.SGD(model.parameters(), lr=1e30)
    with pytest.raises(bp.TrainingDiverged, match="lower learning rate"), np.errstate(all="ignore"):
        bp.fit(
            model,
            x * 1e3,
            y,
            loss=bp.SoftmaxCrossEntropy(),
            optimizer=opt,
            epochs=3,
            verbose=0,
            rng=np.random.default_rng(0),
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"callbacks": "print"}, TypeError, "callbacks must be a list"),
        ({"callbacks": 3}, TypeError, "callbacks must be a list"),
        ({"state": {"epoch": 1}}, TypeError, "state must be a FitState"),
        ({"validation_data": (np.zeros((4, 4)),)}, ValueError, "validation_data must be a pair"),
        (
            {"validation_data": (np.zeros((4, 5)), np.zeros(4, int))},
            ValueError,
            "validation x has 5 features but the model expects 4",
        ),
        (
            {"validation_data": (np.zeros((4, 4)), np.full(4, 7))},
            ValueError,
            "validation y has label 7",
        ),
        ({"loss": "mse"}, TypeError, "loss must be a Loss instance"),
        ({"model": "mlp"}, TypeError, "model must be a Layer"),
    ],
)
def test_fit_checks_every_argument_before_the_first_step(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    model = bp.build_mlp(4, [8], 3, rng=np.random.default_rng(0))
    before = [p.data.copy() for p in model.parameters()]
    args: dict[str, object] = {
        "model": model,
        "loss": bp.SoftmaxCrossEntropy(),
        "optimizer": bp.SGD(model.parameters(), lr=0.1),
        **kwargs,
    }
    x, y = np.ones((10, 4), np.float32), np.zeros(10, int)
    with pytest.raises(error, match=message):
        bp.fit(args.pop("model"), x, y, verbose=0, **args)  # type: ignore[arg-type]
    for p, b in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, b)


class Flatten(bp.Layer):
    """A layer taking per-sample ``(2, 2)`` inputs: the input shape comes from the contract."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self._shape)

    def input_shape(self) -> tuple[int, ...]:
        return (2, 2)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (4,)


def test_fit_and_predict_take_the_input_shape_the_model_declares() -> None:
    x, y = _blobs(64)
    images = x.reshape(64, 2, 2)
    model = bp.Sequential([Flatten(), bp.Linear(4, 8, rng=np.random.default_rng(0)), bp.ReLU(),
                           bp.Linear(8, 3, rng=np.random.default_rng(1))])  # fmt: skip
    opt = bp.Adam(model.parameters(), lr=0.05)
    history = bp.fit(model, images, y, loss=bp.SoftmaxCrossEntropy(), optimizer=opt, epochs=3,
                     rng=np.random.default_rng(0), verbose=0)  # fmt: skip
    assert history["loss"][-1] < history["loss"][0]
    assert bp.predict(model, images).shape == (64,)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2, 2\), got \(64, 4\)"):
        bp.predict(model, x)
