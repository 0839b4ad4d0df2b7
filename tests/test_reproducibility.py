"""One seed, same machine: the same run bit for bit; the manifest and ``bareprop replay``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import bareprop as bp
from bareprop.cli import main
from bareprop.train.config import TrainConfig
from bareprop.train.manifest import FILENAME
from bareprop.train.run import load_data, seeded_rngs, train_run

REPRODUCIBLE = ("loss", "accuracy", "val_loss", "val_accuracy")


def _config(data: Path, **changes: object) -> TrainConfig:
    # Dropout, a validation split and shuffling: every use of randomness is exercised.
    base = {"hidden": [16, 8], "epochs": 2, "batch_size": 32, "dropout": 0.3,
            "val_fraction": 0.2, "data_dir": str(data)}  # fmt: skip
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


def _weights(model: bp.Sequential) -> list[bytes]:
    return [p.data.tobytes() for p in model.parameters()]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_same_run_bit_for_bit(tiny_data: Path, dtype: str) -> None:
    a = train_run(_config(tiny_data, dtype=dtype), verbose=0)
    b = train_run(_config(tiny_data, dtype=dtype), verbose=0)
    assert _weights(a.model) == _weights(b.model)
    for key in REPRODUCIBLE:
        assert a.history[key] == b.history[key]
    assert a.diagnostics == b.diagnostics
    assert (a.test_accuracy, a.test_loss) == (b.test_accuracy, b.test_loss)
    assert np.array_equal(a.confusion, b.confusion)


def test_another_seed_changes_init_split_shuffle_and_dropout(tiny_data: Path) -> None:
    a = train_run(_config(tiny_data, seed=1), verbose=0)
    b = train_run(_config(tiny_data, seed=2), verbose=0)
    assert _weights(a.model) != _weights(b.model)
    split_a = load_data(_config(tiny_data), seeded_rngs(1)["split"])
    split_b = load_data(_config(tiny_data), seeded_rngs(2)["split"])
    split_a2 = load_data(_config(tiny_data), seeded_rngs(1)["split"])
    assert np.array_equal(split_a.y_val, split_a2.y_val) and np.array_equal(
        split_a.x_val, split_a2.x_val
    )
    assert not np.array_equal(split_a.x_val, split_b.x_val)
    streams = seeded_rngs(7)
    draws = {name: rng.integers(0, 2**62) for name, rng in streams.items()}
    assert len(set(draws.values())) == len(draws)  # independent streams, not one shared


def test_the_global_numpy_random_state_is_never_used(tiny_data: Path) -> None:
    # The legacy global functions are used on purpose: to show bareprop never touches them.
    np.random.seed(123)  # noqa: NPY002
    before = np.random.get_state()  # noqa: NPY002
    first = train_run(_config(tiny_data), verbose=0)
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]
    np.random.seed(456)  # noqa: NPY002
    second = train_run(_config(tiny_data), verbose=0)
    assert _weights(first.model) == _weights(second.model)


def _train(data: Path, out: Path) -> None:
    assert main(["train", "--data-dir", str(data), "--out", str(out), "--hidden", "16",
                 "--epochs", "2", "--dropout", "0.2", "--quiet", "--no-plots"]) == 0  # fmt: skip


def test_the_manifest_records_what_a_rerun_needs(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    _train(tiny_data, out)
    manifest = json.loads((out / FILENAME).read_text())
    assert manifest["config"] == json.loads((out / "config.json").read_text())["config"]
    assert manifest["seed"] == 0
    versions = manifest["versions"]
    assert versions["bareprop"] == bp.__version__ and versions["numpy"] == np.__version__
    assert "blas" in versions and versions["python"]
    for name, digest in manifest["data_sha256"].items():
        assert hashlib.sha256((tiny_data / name).read_bytes()).hexdigest() == digest
    assert len(manifest["data_sha256"]) == 4
    model = bp.load(out / "model.npz")
    from bareprop.files.model_file import weights_sha256

    results = manifest["results"]
    assert results["weights_sha256"] == weights_sha256([p.data for p in model.parameters()])
    assert len(results["history"]["loss"]) == 2
    assert (
        results["test"]["accuracy"]
        == json.loads((out / "config.json").read_text())["test_accuracy"]
    )


def test_replay_reports_identical(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    _train(tiny_data, out)
    capsys.readouterr()
    assert main(["replay", str(out), "--quiet"]) == 0
    assert "IDENTICAL" in capsys.readouterr().out


def test_replay_reports_a_difference(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    _train(tiny_data, out)
    manifest = json.loads((out / FILENAME).read_text())
    manifest["results"]["history"]["loss"][1] += 1e-12  # a recorded figure that was not reached
    manifest["results"]["weights_sha256"] = "0" * 64
    (out / FILENAME).write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["replay", str(out), "--quiet"]) == 1
    report = capsys.readouterr().out
    assert "DIFFERENT: 2" in report and "weights differ" in report and "loss per epoch" in report


def test_replay_refuses_changed_data(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    _train(tiny_data, out)
    labels = tiny_data / "t10k-labels-idx1-ubyte.gz"
    from bareprop.data import read_idx, write_idx

    y = read_idx(labels)
    write_idx(labels, (y + 1) % 10)
    assert main(["replay", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "t10k-labels-idx1-ubyte.gz" in err and "SHA-256" in err
    assert main(["replay", str(tmp_path / "nothing")]) == 2
    assert "no manifest" in capsys.readouterr().err


def test_no_module_calls_the_global_random_functions() -> None:
    """Every draw goes through a Generator passed in: no ``np.random.rand``, ``seed``, ..."""
    import re

    allowed = {"default_rng", "Generator", "SeedSequence", "PCG64", "BitGenerator"}
    src = Path(bp.__file__).parent
    offenders = [
        f"{path.relative_to(src)}: np.random.{name}"
        for path in src.rglob("*.py")
        for line in path.read_text("utf-8").splitlines()
        for name in re.findall(r"\bnp\.random\.(\w+)", line.split("#")[0])  # code, not comments
        if name not in allowed
    ]
    assert offenders == []
