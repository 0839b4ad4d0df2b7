"""``bareprop compare``: timed after a warm-up that changes nothing, with progress shown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from bareprop.check.compare import compare_training
from bareprop.cli import main
from bareprop.train.config import TrainConfig
from bareprop.train.run import load_data, seeded_rngs


def test_the_warm_up_changes_no_result_and_progress_is_reported(tiny_data: Path) -> None:
    config = TrainConfig(hidden=[16], epochs=2, batch_size=32, dtype="float64",
                         dropout=0.1, data_dir=str(tiny_data)).validate()  # fmt: skip
    data = load_data(config, seeded_rngs(config.seed)["split"])
    stages: list[str] = []
    warm = compare_training(config, data, threads=1, warmup_steps=3, progress=stages.append)
    cold = compare_training(config, data, threads=1, warmup_steps=0)
    for side in ("bareprop", "torch"):
        for key in ("loss", "test_accuracy"):
            assert getattr(warm, side)[key] == getattr(cold, side)[key], (side, key)
    assert warm.divergence == cold.divergence and warm.mean_divergence == cold.mean_divergence
    assert set(warm.warmup) == {"bareprop", "torch"} and cold.warmup == {}
    assert all(seconds > 0 for seconds in warm.warmup.values())
    assert stages[0].startswith("warming up, 3 batches")
    assert stages[1:] == ["epoch 1/2: bareprop", "epoch 1/2: PyTorch",
                          "epoch 2/2: bareprop", "epoch 2/2: PyTorch"]  # fmt: skip


def test_compare_says_what_its_seconds_include(
    tiny_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["compare", "--hidden", "8", "--epochs", "1", "--batch-size", "64",
            "--data-dir", str(tiny_data), "--threads", "1"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "untimed warm-up of 20 batches in each framework" in out
    assert "--epochs 3 or more gives a steadier ratio" in out
    ratio = float(out.split("speed ratio (torch / bareprop): ")[1].split()[0])
    assert np.isfinite(ratio) and ratio > 0
