"""Every figure is a real PNG of a sensible size; the selections behind them are right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image

from bareprop.show import plots


def png(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 5  # something is drawn, not a blank canvas
    return image.size


@pytest.fixture
def digits() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((30, 784)).astype(np.float32), rng.integers(0, 10, 30)


def test_curves_single_and_overlaid(tmp_path: Path) -> None:
    history = {
        "loss": [1.0, 0.5, 0.3],
        "accuracy": [0.7, 0.8, 0.9],
        "val_loss": [0.9, 0.6, 0.5],
        "val_accuracy": [0.7, 0.85, 0.88],
        "test_accuracy": [0.69, 0.84, 0.87],
    }
    plots.save_curves(history, tmp_path / "c.png")
    assert png(tmp_path / "c.png")[0] > 600
    runs = [
        ("a", history),
        ("a", history),
        ("b", {"loss": [2.0, 1.0], "test_accuracy": [0.5, 0.6]}),
    ]
    plots.save_curves_overlay(runs, tmp_path / "o.png")
    png(tmp_path / "o.png")


def test_image_figures(tmp_path: Path, digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    plots.save_samples(x, y, tmp_path / "s.png")
    probs = np.random.default_rng(1).dirichlet(np.ones(10), size=30)
    plots.save_misclassified(x, y, probs, tmp_path / "m.png")
    plots.save_first_layer(np.random.default_rng(2).standard_normal((784, 12)), tmp_path / "w.png")
    for name in ("s", "m", "w"):
        width, height = png(tmp_path / f"{name}.png")
        assert width > 300 and height > 100


def test_confusion_and_per_class(tmp_path: Path) -> None:
    confusion = np.diag(np.arange(10, 20)) + 1
    plots.save_confusion(confusion, tmp_path / "cm.png")
    plots.save_per_class(confusion, tmp_path / "pc.png")
    png(tmp_path / "cm.png")
    png(tmp_path / "pc.png")


def test_accuracy_by_config(tmp_path: Path) -> None:
    plots.save_accuracy_by_config(
        ["a", "b", "c"],
        [0.9, 0.95, 0.5],
        [0.01, 0.0, 0.2],
        tmp_path / "a.png",
        reported=[0.93, None, 0.57],
    )
    png(tmp_path / "a.png")


def test_most_confident_errors_order() -> None:
    probs = np.array(
        [
            [0.9, 0.1],  # correct (label 0)
            [0.6, 0.4],  # wrong, confidence 0.6
            [0.05, 0.95],  # wrong, confidence 0.95
            [0.2, 0.8],  # correct (label 1)
            [0.3, 0.7],  # wrong, confidence 0.7
        ]
    )
    labels = np.array([0, 1, 0, 1, 0])
    assert plots.most_confident_errors(probs, labels, 10).tolist() == [2, 4, 1]
    assert plots.most_confident_errors(probs, labels, 2).tolist() == [2, 4]


def test_first_layer_needs_square_images(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a square image"):
        plots.save_first_layer(np.zeros((10, 3)), tmp_path / "w.png")
    assert not (tmp_path / "w.png").exists()
