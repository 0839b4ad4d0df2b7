"""The training doctor: divergence caught at the step it happens, per-layer statistics."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import bareprop as bp
from bareprop.cli import main
from bareprop.train.state import FitState


class Poison(bp.Layer):
    """Identity, except at training step ``at`` (1-based): a non-finite forward or backward."""

    def __init__(self, at: int, where: str, model_params: list[bp.Parameter]) -> None:
        self.at, self.where, self.params = at, where, model_params
        self.calls = 0
        self.weights_before: list[np.ndarray] = []

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                self.weights_before = [p.data.copy() for p in self.params]
        if self.calls == self.at and self.where == "forward":  # also when the doctor looks again
            x = x.copy()
            x[0, 0] = np.inf
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self.calls == self.at and self.where == "backward":
            dy = dy.copy()
            dy[0, 0] = np.nan
        return dy


def _poisoned(at: int, where: str) -> tuple[bp.Sequential, Poison]:
    rng = np.random.default_rng(0)
    first, last = bp.Linear(6, 8, rng=rng), bp.Linear(8, 3, rng=rng)
    poison = Poison(at, where, [*first.parameters(), *last.parameters()])
    return bp.Sequential([first, poison, bp.ReLU(), last]), poison


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, 6)).astype(np.float32), rng.integers(0, 3, n)


def _fit(model: bp.Sequential, **kwargs: object) -> dict[str, list[float]]:
    x, y = _data()
    defaults: dict[str, object] = {"loss": bp.SoftmaxCrossEntropy(), "epochs": 3, "batch_size": 16,
                                   "verbose": 0, "rng": np.random.default_rng(2)}  # fmt: skip
    defaults["optimizer"] = kwargs.pop("optimizer", bp.SGD(model.parameters(), lr=0.1))
    return bp.fit(model, x, y, **{**defaults, **kwargs})  # type: ignore[arg-type]


def test_non_finite_loss_is_caught_at_its_step_and_weights_go_back_to_epoch_start() -> None:
    model, _ = _poisoned(at=6, where="forward")  # 4 steps per epoch: epoch 2, step 6
    start_of_epoch_2: list[np.ndarray] = []

    class Snapshot:
        def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
            if epoch == 0:
                start_of_epoch_2.extend(p.data.copy() for p in model.parameters())

    with np.errstate(all="ignore"), pytest.raises(bp.TrainingDiverged) as caught:
        _fit(model, callbacks=[Snapshot()])
    message = str(caught.value)
    assert "at epoch 2, step 6" in message
    assert "the output of layers[1] Poison is not finite" in message
    assert "lower learning rate" in message
    for p, saved in zip(model.parameters(), start_of_epoch_2, strict=True):
        assert np.array_equal(p.data, saved)


def test_non_finite_gradient_is_caught_before_the_update() -> None:
    model, poison = _poisoned(at=3, where="backward")
    with pytest.raises(bp.TrainingDiverged) as caught:
        _fit(model)
    message = str(caught.value)
    # The NaN enters below the last Linear: layer 1's gradient is the first that is bad.
    assert "epoch 1, step 3" in message and "layer 1 (layers[0] Linear 6->8)" in message
    assert "lower learning rate" in message
    for p, before in zip(model.parameters(), poison.weights_before, strict=True):
        assert np.array_equal(p.data, before)  # the bad step was never applied


def test_a_learning_rate_far_too_high_stops_with_finite_weights() -> None:
    model = bp.build_mlp(6, [8], 3, rng=np.random.default_rng(0))
    initial = [p.data.copy() for p in model.parameters()]
    with np.errstate(all="ignore"), pytest.raises(bp.TrainingDiverged, match="step"):
        _fit(model, optimizer=bp.SGD(model.parameters(), lr=1e30), epochs=5)
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    assert all(np.array_equal(p.data, w) for p, w in zip(model.parameters(), initial, strict=True))


def test_per_layer_statistics_are_what_they_say() -> None:
    model = bp.build_mlp(6, [8, 4], 3, rng=np.random.default_rng(0))
    first = model.layers[0]
    assert isinstance(first, bp.Linear)
    first.bias.data[:2] = -1e3  # two of the 8 first-layer ReLUs can never fire: dead
    state = FitState()
    lr = 0.05
    _fit(model, optimizer=bp.SGD(model.parameters(), lr=lr), state=state, lr_schedule="constant")
    d = state.diagnostics
    assert set(d) >= {"layer1_grad_norm", "layer2_grad_norm", "layer3_grad_norm",
                      "layer1_update_ratio", "layer1_dead", "layer2_dead"}  # fmt: skip
    assert all(len(v) == 3 for v in d.values())  # one value per epoch
    assert d["layer1_dead"][-1] == pytest.approx(2 / 8)
    for k, linear in enumerate(model.linears, start=1):
        gw, gb = linear.weight.grad.astype(np.float64), linear.bias.grad.astype(np.float64)
        # The last step of the last epoch: its gradients are still there after training.
        assert d[f"layer{k}_grad_norm"][-1] == pytest.approx(
            np.sqrt((gw**2).sum() + (gb**2).sum()), rel=1e-5
        )
        before = linear.weight.data.astype(np.float64) + lr * gw  # SGD: W_after = W_before - lr g
        expected = np.linalg.norm(lr * gw) / np.linalg.norm(before)
        assert d[f"layer{k}_update_ratio"][-1] == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_saturated_units_are_counted(activation: str) -> None:
    model = bp.build_mlp(6, [8], 3, activation=activation, rng=np.random.default_rng(0))
    model.linears[0].weight.data *= 1e3  # pre-activations in the thousands: saturated
    state = FitState()
    _fit(model, state=state, epochs=1)
    assert state.diagnostics["layer1_saturated"][-1] > 0.9
    healthy = bp.build_mlp(6, [8], 3, activation=activation, rng=np.random.default_rng(0))
    state = FitState()
    _fit(healthy, state=state, epochs=1)
    assert state.diagnostics["layer1_saturated"][-1] < 0.1


def test_metrics_csv_records_the_layer_statistics(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--data-dir", str(tiny_data), "--out", str(out), "--hidden", "16", "8",
            "--epochs", "2", "--quiet", "--no-plots"]  # fmt: skip
    assert main(args) == 0
    rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
    assert len(rows) == 2
    for column in ("layer1_grad_norm", "layer3_update_ratio", "layer1_dead", "layer2_dead"):
        assert all(np.isfinite(float(row[column])) for row in rows), column


def test_cli_divergence_is_one_line_and_keeps_the_last_good_weights(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["train", "--data-dir", str(tiny_data), "--out", str(out), "--hidden", "16",
            "--optimizer", "sgd", "--lr", "1e30", "--quiet", "--no-plots"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "epoch 1, step" in err and "lower learning rate" in err
    kept = bp.load(out / "last_good_model.npz")
    assert all(np.isfinite(p.data).all() for p in kept.parameters())
    assert not (out / "model.npz").exists()
