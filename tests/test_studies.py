"""The study presets: each quick mode runs and writes its files; the parts compute what they say."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bareprop import SGD, SoftmaxCrossEntropy, build_mlp
from bareprop.cli import main
from bareprop.lab import studies_init, studies_plots, study_common

FILES = {
    "init-study": ["activations_init.png", "activations_epoch1.png", "init_curves.png"],
    "optimizer-study": ["optimizer_curves.png"],
    "regularization-study": ["regularization_curves.png"],
    "bn-study": ["bn_curves.png"],
}
CONFIGS = {
    "init-study": 9,
    "optimizer-study": 6,
    "regularization-study": 3,
    "bn-study": 4,
}


@pytest.mark.parametrize("preset", list(FILES))
def test_quick_mode_writes_results_figures_and_report(
    preset: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / preset
    assert main(["experiment", "--preset", preset, "--quick", "--out", str(out)]) == 0
    assert f"wrote {out}/" in capsys.readouterr().out
    for name in ["results.csv", "results.md", "histories.json", "report.html", *FILES[preset]]:
        assert (out / name).stat().st_size > 0, name
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == CONFIGS[preset]
    assert all(0 <= float(r["test_accuracy"]) <= 1 for r in rows)
    markdown = (out / "results.md").read_text()
    assert "## What the figure" in markdown and "**What to take from it.**" in markdown
    assert f"`bareprop experiment --preset {preset} --quick`" in markdown
    assert "quick run" in markdown
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(FILES[preset])
    assert len(json.loads((out / "histories.json").read_text())) == CONFIGS[preset]


def test_study_refuses_options_it_does_not_take(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "experiment",
        "--preset",
        "bn-study",
        "--quick",
        "--jobs",
        "2",
        "--out",
        str(tmp_path / "x"),
    ]
    assert main(argv) == 2
    assert "takes no GRID.toml" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_train_steps_records_every_step_and_is_repeatable() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((50, 6)).astype(np.float32), rng.integers(0, 3, 50)

    def run() -> dict:
        r = np.random.default_rng(1)
        model = build_mlp(6, [5], 3, rng=r)
        return study_common.train_steps(
            model,
            SoftmaxCrossEntropy(),
            SGD(model.parameters(), lr=0.1),
            x,
            y,
            epochs=3,
            batch_size=16,
            rng=r,
        )

    a, b = run(), run()
    assert len(a["step_loss"]) == 3 * 4 and len(a["seconds"]) == 3
    assert a["step_loss"] == b["step_loss"]
    assert np.mean(a["step_loss"][-4:]) < np.mean(a["step_loss"][:4])


def test_histograms_are_shares_over_the_range() -> None:
    acts = [np.array([[-0.5, 0.0, 2.0, 0.25]]), np.zeros((3, 4))]
    hist = studies_init.histograms(acts, "relu")
    assert [sum(h) for h in hist] == pytest.approx([1.0, 1.0])
    assert hist[0][0] == pytest.approx(0.5)  # -0.5 clipped to 0, and the 0
    assert hist[0][-1] == pytest.approx(0.25)  # 2.0 clipped to the last bin
    assert hist[1][0] == pytest.approx(1.0)


def test_small_init_makes_deep_activations_vanish() -> None:
    """The init study's claim, measured: std 0.01 shrinks tanh's signal layer after layer."""
    x = np.random.default_rng(0).random((100, 784)).astype(np.float32)
    stds = {}
    for name in ("std 0.01", "Xavier"):
        model = build_mlp(
            784,
            [100] * 5,
            10,
            activation="tanh",
            init=studies_init.INITS[name],
            rng=np.random.default_rng(0),
        )
        stds[name] = [a.std() for a in studies_init.hidden_activations(model, x)]
    assert stds["std 0.01"][-1] < 1e-4 < 0.1 < stds["Xavier"][-1]
    assert all(a > b for a, b in zip(stds["std 0.01"], stds["std 0.01"][1:], strict=False))


def test_bn_model_has_batch_norm_after_each_hidden_linear() -> None:
    model = studies_init.bn_model(0.1, True, np.random.default_rng(0))
    names = [type(layer).__name__ for layer in model]
    assert names == ["Linear", "BatchNorm1d", "ReLU"] * 5 + ["Linear"]


def test_smooth_is_a_moving_average() -> None:
    np.testing.assert_allclose(studies_plots.smooth([1, 2, 3, 4], window=2), [1, 1.5, 2.5, 3.5])
