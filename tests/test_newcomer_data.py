"""A run reads the training images (five sixths of the data) once; commands that need one
half of the data read only that half."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bareprop.data.mnist
from bareprop.cli import main
from bareprop.data.mnist import load_mnist, load_split


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each IDX file is read."""
    counts: Counter[str] = Counter()
    read_idx = bareprop.data.mnist.read_idx

    def counting(path: Any) -> np.ndarray:
        counts[Path(path).name.split("-")[0] + "-" + Path(path).name.split("-")[1]] += 1
        return read_idx(path)

    monkeypatch.setattr(bareprop.data.mnist, "read_idx", counting)
    return counts


def test_load_split_is_one_half_of_load_mnist(tiny_data: Path) -> None:
    train, test = load_mnist(tiny_data)
    for split, expected in (("train", train), ("test", test)):
        images, labels = load_split(tiny_data, split)
        np.testing.assert_array_equal(images, expected[0])
        np.testing.assert_array_equal(labels, expected[1])
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_split(tiny_data, "validation")


def test_train_reads_the_training_set_once_and_evaluate_only_the_test_set(
    tiny_data: Path, tmp_path: Path, reads: Counter[str]
) -> None:
    out = tmp_path / "run"
    argv = ["train", "--data-dir", str(tiny_data), "--out", str(out), "--hidden", "8",
            "--epochs", "1", "--batch-size", "64", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    # the report's figures read the test set again (a sixth of the data), not the training set
    assert reads == {"train-images": 1, "train-labels": 1, "t10k-images": 2, "t10k-labels": 2}
    reads.clear()
    assert main(["evaluate", str(out / "model.npz"), "--data-dir", str(tiny_data)]) == 0
    assert reads == {"t10k-images": 1, "t10k-labels": 1}
