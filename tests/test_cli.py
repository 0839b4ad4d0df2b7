"""The CLI end to end on a small data set: train, evaluate, predict, and its errors."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

import bareprop as bp
import bareprop.train.fit
from bareprop.cli import main
from bareprop.data.mnist import load_mnist
from bareprop.train.config import TrainConfig
from bareprop.train.progress import EpochReporter
from bareprop.train.run import train_run

FAST = ["--hidden", "32", "--epochs", "3", "--batch-size", "32", "--lr", "0.005"]


def _train(tiny_data: Path, out: Path, *extra: str) -> int:
    return main(["train", "--data-dir", str(tiny_data), "--out", str(out), *FAST, *extra])


def test_train_writes_the_run(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _train(tiny_data, out) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("test accuracy: ") and lines[-1].endswith("%")
    assert float(lines[-1].split()[-1].rstrip("%")) > 80  # the bars make the classes easy
    assert sum(line.startswith("epoch ") for line in lines) == 3
    names = {p.name for p in out.iterdir()}
    assert {
        "model.npz",
        "config.json",
        "metrics.csv",
        "curves.png",
        "confusion_matrix.png",
    } <= names
    rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(rows[0])
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["hidden"] == [32] and config["config"]["seed"] == 0
    assert 0 <= config["test_accuracy"] <= 1
    model = bp.load(out / "model.npz")
    assert model.in_features == 784 and model.out_features == 10
    for png in ("curves.png", "confusion_matrix.png"):
        with Image.open(out / png) as img:
            assert img.size[0] > 300 and img.size[1] > 200


def test_same_seed_same_model(tiny_data: Path, tmp_path: Path) -> None:
    assert _train(tiny_data, tmp_path / "a", "--no-plots", "--quiet", "--dropout", "0.2") == 0
    assert _train(tiny_data, tmp_path / "b", "--no-plots", "--quiet", "--dropout", "0.2") == 0
    a, b = bp.load(tmp_path / "a" / "model.npz"), bp.load(tmp_path / "b" / "model.npz")
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)


def test_every_notebook_option_is_accepted(tiny_data: Path, tmp_path: Path) -> None:
    argv = [
        "--hidden",
        "12",
        "8",
        "--activation",
        "sigmoid",
        "--loss",
        "mse",
        "--reduction",
        "sum",
        "--init",
        "normal",
        "--init-std",
        "0.1",
        "--optimizer",
        "sgd",
        "--lr",
        "0.05",
        "--momentum",
        "0.5",
        "--nesterov",
        "--weight-decay",
        "1e-4",
        "--dropout",
        "0.1",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--val-fraction",
        "0.2",
        "--seed",
        "3",
        "--dtype",
        "float64",
        "--lr-schedule",
        "linear",
    ]
    out = tmp_path / "r"
    assert (
        main(
            [
                "train",
                "--data-dir",
                str(tiny_data),
                "--out",
                str(out),
                "--no-plots",
                "--quiet",
                *argv,
            ]
        )
        == 0
    )
    model = bp.load(out / "model.npz")
    assert model.dtype == np.float64 and isinstance(model.layers[-1], bp.Sigmoid)
    assert [layer.out_features for layer in model.linears] == [12, 8, 10]


def test_evaluate_and_predict(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _train(tiny_data, out, "--no-plots", "--quiet") == 0
    trained = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["evaluate", str(out / "model.npz"), "--data-dir", str(tiny_data)]) == 0
    text = capsys.readouterr().out
    assert text.strip().splitlines()[-1] == trained  # the same test set, the same accuracy
    assert "precision" in text and "recall" in text and "confusion matrix" in text

    _, (x_test, _y_test) = load_mnist(tiny_data)
    paths = []
    for i in range(3):  # dark digits on white, bigger than 28x28: predict must convert them
        img = Image.fromarray(255 - x_test[i]).resize((84, 84))
        paths.append(tmp_path / f"digit{i}.png")
        img.save(paths[-1])
    assert main(["predict", str(out / "model.npz"), *map(str, paths)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6 and lines[0].startswith(str(paths[0]))
    probs = [float(item.split(":")[1]) for item in lines[1].split()]
    assert len(probs) == 10 and sum(probs) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--lr", "-1"], "lr must be a finite positive number"),
        (["train", "--batch-size", "0"], "batch_size must be a positive integer"),
        (["train", "--dropout", "1"], "dropout must be in"),
        (["train", "--activation", "gelu"], "invalid choice: 'gelu'"),
        (["train", "--hidden"], "expected at least one argument"),
        (["train", "--epochs", "two"], "invalid int value: 'two'"),
        (["train", "--bogus"], "unrecognized arguments: --bogus"),
        (["train", "--data-dir", "/nonexistent"], "/nonexistent: no such data folder"),
        (["evaluate", "/nonexistent.npz"], "no such model file"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert "Traceback" not in err


def test_corrupt_model_and_image(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["evaluate", str(bad)]) == 2
    assert main(["predict", str(bad), "x.png"]) == 2
    out = tmp_path / "run"
    assert _train(tiny_data, out, "--no-plots", "--quiet") == 0
    (tmp_path / "notes.png").write_text("not an image")
    assert main(["predict", str(out / "model.npz"), str(tmp_path / "notes.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(
        re.match(r"bareprop (evaluate|predict): error: ", line) for line in err
    )


def test_out_dir_is_never_overwritten(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    assert _train(tiny_data, out) == 2
    assert "already holds files" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_bad_data_leaves_no_output(tiny_data: Path, tmp_path: Path) -> None:
    (tiny_data / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    out = tmp_path / "run"
    assert _train(tiny_data, out) == 2
    assert not out.exists()


def test_console_script_runs(tiny_data: Path, tmp_path: Path) -> None:
    """The installed entry point, in a real process: exit codes and the last line."""
    exe = Path(sys.executable).parent / "bareprop"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bareprop.cli"]
    ok = subprocess.run(
        [
            *cmd,
            "train",
            "--data-dir",
            str(tiny_data),
            "--out",
            str(tmp_path / "r"),
            *FAST,
            "--no-plots",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().splitlines()[-1].startswith("test accuracy: ")
    bad = subprocess.run([*cmd, "train", "--lr", "0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


@contextmanager
def _ctrl_c_pressed() -> Iterator[SimpleNamespace]:
    """Stands in for ``deferred_sigint`` once Ctrl-C was pressed: ``fit`` stops after a step."""
    yield SimpleNamespace(requested=True)


def _interrupt(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ``bareprop train`` with ``argv``, stopped after its first step (epoch 1, batch 1)."""
    with monkeypatch.context() as m:
        m.setattr(bareprop.train.fit, "deferred_sigint", _ctrl_c_pressed)
        assert main(["train", *argv]) == 130


def test_resume_from_another_folder_with_a_relative_data_dir(
    tiny_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    _interrupt(["--data-dir", "data", "--out", "run", *FAST, "--no-plots"], monkeypatch)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["train", "--resume", "../run", "--data-dir", "../other", "--quiet"]) == 2
    assert "--data-dir ../other conflicts" in capsys.readouterr().err
    assert main(["train", "--resume", "../run", "--data-dir", "../data", "--quiet"]) == 0
    assert json.loads(Path("../run/config.json").read_text())["config"]["data_dir"] == str(
        tiny_data.resolve()
    )
    monkeypatch.chdir(tmp_path)  # a run recorded before data_dir was made absolute
    train_run(TrainConfig(hidden=[8], epochs=1, data_dir="data"), verbose=0, run_dir=Path("old"))
    assert main(["train", "--resume", "old", "--quiet", "--no-plots"]) == 0


def test_resumed_progress_bar_starts_at_the_batches_already_done(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """270 training samples, batch 32: 9 steps per epoch; the run stopped after the first."""
    out = tmp_path / "run"
    _interrupt(["--data-dir", str(tiny_data), "--out", str(out), *FAST, "--no-plots"], monkeypatch)
    terminal = io.StringIO()

    def reporter(verbose: int, epochs: int, steps: int) -> EpochReporter:
        console = Console(file=terminal, force_terminal=True, width=100, highlight=False)
        return EpochReporter(epochs, steps, console=console)

    monkeypatch.setattr(bareprop.train.fit, "_reporter", reporter)
    assert main(["train", "--resume", str(out), "--no-plots"]) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.getvalue())
    first_shown: dict[str, str] = {}  # the bar is drawn as soon as an epoch starts
    for epoch, done in re.findall(r"epoch (\d)/3 \D*?(\d+)/9", text):
        first_shown.setdefault(epoch, done)
    assert first_shown == {"1": "1", "2": "0", "3": "0"}
    assert [line.split("  ")[0] for line in text.splitlines() if "loss" in line] == [
        "epoch 1/3",
        "epoch 2/3",
        "epoch 3/3",
    ]
