"""``bareprop predict``: no confident guess on an image with no digit; every file reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bareprop.cli import main
from bareprop.data.mnist import load_mnist
from bareprop.show.images import NoDigitError, load_digit, no_digit_reason


@pytest.fixture
def model(tiny_data: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    argv = ["train", "--data-dir", str(tiny_data), "--out", str(out), "--hidden", "16",
            "--epochs", "2", "--batch-size", "32", "--no-plots", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    return out / "model.npz"


def _digit(tmp_path: Path, name: str = "digit.png") -> Path:
    _, (x_test, _) = load_mnist()
    path = tmp_path / name
    Image.fromarray(255 - x_test[0]).resize((84, 84)).save(path)  # a 7, dark on white
    return path


def _blanks(folder: Path) -> list[Path]:
    folder.mkdir()
    speck = np.full((200, 200), 255, np.uint8)
    speck[100, 100] = 0
    images = {
        "white.png": Image.new("L", (64, 64), 255),
        "black.png": Image.new("L", (64, 64), 0),
        "grey.jpg": Image.new("RGB", (64, 64), (120, 120, 120)),
        "transparent.png": Image.new("RGBA", (64, 64), (0, 0, 0, 0)),
        "tiny.png": Image.new("L", (1, 1), 0),
        "speck.png": Image.fromarray(speck),
    }
    for name, image in images.items():
        image.save(folder / name)
    return [folder / name for name in images]


def test_an_image_without_a_digit_gets_no_guess(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blanks = _blanks(tmp_path / "blank")
    assert main(["predict", str(model), *map(str, blanks)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no guess printed for any of them
    errors = captured.err.strip().splitlines()
    assert len(errors) == len(blanks)
    for path, line in zip(blanks, errors, strict=True):
        assert line.startswith(f"bareprop predict: error: {path}: no digit found: "), line
    assert "blank" in errors[0] and "too small" in errors[4] and "ink" in errors[5]


def test_every_file_is_reported_and_a_failure_sets_the_exit_status(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _digit(tmp_path)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    blank = _blanks(tmp_path / "blank")[0]
    argv = ["predict", str(model), str(bad), str(good), str(tmp_path / "missing.png"), str(blank)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    out = captured.out.strip().splitlines()
    assert len(out) == 2 and out[0].startswith(f"{good}: ")  # the good one, after a bad one
    err = captured.err.strip().splitlines()
    assert [line.split(": ")[1] for line in err] == ["error"] * 3
    assert [line.split(": ")[2] for line in err] == [str(bad), str(tmp_path / "missing.png"),
                                                     str(blank)]  # fmt: skip
    assert main(["predict", str(model), str(good)]) == 0  # all classified: exit 0


def test_every_mnist_test_digit_passes_the_no_digit_rule() -> None:
    _, (x_test, _) = load_mnist()
    rejected = [i for i, image in enumerate(x_test) if no_digit_reason(image.astype(float))]
    assert rejected == []


def test_a_digit_on_a_transparent_canvas_reads_as_on_white(tmp_path: Path) -> None:
    opaque = _digit(tmp_path)
    ink = 255 - np.asarray(Image.open(opaque).convert("L"))
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = ink  # black paint, its opacity the ink
    Image.fromarray(rgba, "RGBA").save(tmp_path / "transparent.png")
    on_canvas, on_white = (
        load_digit(p).astype(int) for p in (tmp_path / "transparent.png", opaque)
    )
    np.testing.assert_allclose(on_canvas, on_white, atol=1)  # rounding of the compositing
    with pytest.raises(NoDigitError, match="no digit found"):
        load_digit(_blanks(tmp_path / "blank")[3])
