"""Early stopping in fit, in bareprop train, in the report and through --resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import bareprop as bp
from bareprop.cli import main
from bareprop.data import write_idx
from bareprop.train.early_stopping import EarlyStopping
from tests.conftest import make_idx_dataset


def _noisy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels that are mostly noise: a big network overfits, so the validation loss turns up."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 10)).astype(np.float32)
    y = ((x[:, 0] + 2.0 * rng.standard_normal(n)) > 0).astype(np.int64)
    return x, y


def test_fit_stops_when_the_validation_loss_stops_improving_and_keeps_the_best_weights() -> None:
    x, y = _noisy(200, 0)
    xv, yv = _noisy(200, 1)
    model = bp.build_mlp(10, [128, 128], 2, rng=np.random.default_rng(0))
    stopper = EarlyStopping(patience=3)
    history = bp.fit(model, x, y, loss=bp.SoftmaxCrossEntropy(), epochs=200, batch_size=20,
                     optimizer=bp.Adam(model.parameters(), lr=3e-3), validation_data=(xv, yv),
                     rng=np.random.default_rng(0), verbose=0, early_stopping=stopper)  # fmt: skip
    val = history["val_loss"]
    assert stopper.stopped_epoch is not None and len(val) == stopper.stopped_epoch + 1 < 200
    best = int(np.argmin(val))
    assert stopper.best_epoch == best and len(val) - 1 - best == 3  # three epochs without
    kept = bp.evaluate(model, xv, yv, loss=bp.SoftmaxCrossEntropy())["loss"]
    assert kept == pytest.approx(val[best], rel=1e-6)  # the model has the best epoch's weights


def test_early_stopping_needs_validation_data_and_sane_arguments() -> None:
    x, y = _noisy(20, 0)
    model = bp.build_mlp(10, [4], 2)
    with pytest.raises(ValueError, match="needs validation_data"):
        bp.fit(model, x, y, loss=bp.SoftmaxCrossEntropy(), optimizer=bp.SGD(model.parameters(),
               lr=0.1), verbose=0, early_stopping=EarlyStopping(2))  # fmt: skip
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(0)
    with pytest.raises(ValueError, match="min_delta"):
        EarlyStopping(2, min_delta=-1)


def test_train_early_stopping_is_recorded_in_config_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = make_idx_dataset(tmp_path / "data")
    rng = np.random.default_rng(99)  # labels that no pixel predicts: memorised, not learnt
    write_idx(data / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 300).astype(np.uint8))
    out = tmp_path / "run"
    args = ["train", "--data-dir", str(data), "--out", str(out), "--hidden", "256", "256",
            "--epochs", "60", "--batch-size", "16", "--lr", "0.01", "--lr-schedule", "constant",
            "--val-fraction", "0.3", "--early-stopping", "2"]  # fmt: skip
    assert main(args) == 0
    said = capsys.readouterr().out
    recorded = json.loads((out / "config.json").read_text())["early_stopping"]
    epochs = len((out / "metrics.csv").read_text().splitlines()) - 1
    assert recorded["stopped_epoch"] == epochs < 60
    assert recorded["weights_from_epoch"] == recorded["best_epoch"] == epochs - 2
    assert f"stopped after epoch {epochs}" in said
    assert f"stopped after epoch {epochs}" in (out / "report.html").read_text()


def test_early_stopping_needs_a_validation_split(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--data-dir", str(tiny_data), "--out", str(tmp_path / "r"),
                 "--val-fraction", "0", "--early-stopping", "2"])  # fmt: skip
    assert code == 2 and "needs val_fraction > 0" in capsys.readouterr().err
