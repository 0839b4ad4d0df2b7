"""Shared fixtures: floating-point errors raise, and a tiny IDX data set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bareprop.data import write_idx


@pytest.fixture(autouse=True)
def _fp_errors_raise() -> Iterator[None]:
    # Overflow, division by zero and invalid operations are bugs; underflow to 0 is normal
    # (exp of very negative numbers in softmax and sigmoid).
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        yield


def make_idx_dataset(folder: Path, n_train: int = 300, n_test: int = 100, seed: int = 0) -> Path:
    """Four gzipped IDX files of 28x28 images whose class is easy to learn from the pixels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):  # a bright bar whose row tells the class
            images[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return make_idx_dataset(tmp_path / "data")
