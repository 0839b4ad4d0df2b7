"""Interruption and resume, with real processes.

A training process is killed with SIGKILL in the middle of an epoch, then continued with
``bareprop train --resume``; another is stopped with Ctrl-C (SIGINT). Both must end with
weights bit-identical to a run that was never interrupted, and the same per-epoch metrics.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bareprop as bp
from bareprop.cli import main
from bareprop.train.checkpoint import FILENAME, load_checkpoint, restore, save_checkpoint
from bareprop.train.config import TrainConfig
from bareprop.train.run import train_run
from bareprop.train.state import FitState
from tests.conftest import make_idx_dataset

EPOCHS = 4
# Small enough to be quick, enough steps (~950 per epoch) that an epoch lasts a fraction of a
# second, so a signal sent as soon as the first checkpoint appears lands inside epoch 2.
OPTIONS = ["--hidden", "64", "--epochs", str(EPOCHS), "--batch-size", "4", "--dropout", "0.2",
           "--val-fraction", "0.05", "--optimizer", "adam", "--lr-schedule", "cosine",
           "--no-plots"]  # fmt: skip


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "bareprop.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_idx_dataset(tmp_path_factory.mktemp("resume") / "data", n_train=4000, n_test=100)


@pytest.fixture(scope="module")
def reference(data: Path) -> Path:
    """The same run, never interrupted."""
    out = data.parent / "reference"
    done = subprocess.run(
        _cmd("train", "--data-dir", str(data), "--out", str(out), *OPTIONS, "--quiet"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def _start_and_signal(
    data: Path, out: Path, sig: signal.Signals
) -> subprocess.CompletedProcess[str]:
    """Start a training process, send ``sig`` as soon as its first checkpoint exists."""
    proc = subprocess.Popen(
        _cmd("train", "--data-dir", str(data), "--out", str(out), *OPTIONS),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (out / FILENAME).exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint after 60 s"
        time.sleep(0.002)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _resume(out: Path) -> None:
    done = subprocess.run(_cmd("train", "--resume", str(out), "--quiet", "--no-plots"),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("test accuracy: ")


def _assert_same_run(a: Path, b: Path) -> None:
    ma, mb = bp.load(a / "model.npz"), bp.load(b / "model.npz")
    for pa, pb in zip(ma.parameters(), mb.parameters(), strict=True):
        assert pa.data.tobytes() == pb.data.tobytes()  # bit for bit
    rows_a = list(csv.DictReader((a / "metrics.csv").read_text().splitlines()))
    rows_b = list(csv.DictReader((b / "metrics.csv").read_text().splitlines()))
    assert len(rows_a) == len(rows_b) == EPOCHS
    for ra, rb in zip(rows_a, rows_b, strict=True):
        ra.pop("seconds"), rb.pop("seconds")  # wall time is the one thing that may differ
        assert ra == rb


def test_sigkill_mid_epoch_then_resume_is_bit_identical(data: Path, reference: Path) -> None:
    out = data.parent / "killed"
    killed = _start_and_signal(data, out, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert not (out / "model.npz").exists()
    state = load_checkpoint(out / FILENAME).fit
    # Epoch k's line is printed before its checkpoint is written, epoch k+1's at its end: the
    # kill landed after the checkpoint of epoch k and inside epoch k+1 (k = 1 unless the
    # machine is very busy).
    assert 1 <= state.epoch < EPOCHS and state.batch == 0
    assert f"epoch {state.epoch}/" in killed.stdout
    assert f"epoch {state.epoch + 1}/" not in killed.stdout
    assert not list(out.glob(".*.tmp")), "a temporary file was left behind"
    _resume(out)
    _assert_same_run(reference, out)
    assert not (out / FILENAME).exists()  # a finished run keeps model.npz, not the checkpoint


def test_sigint_finishes_the_step_checkpoints_and_resumes_bit_identical(
    data: Path, reference: Path
) -> None:
    out = data.parent / "interrupted"
    stopped = _start_and_signal(data, out, signal.SIGINT)
    assert stopped.returncode == 130, stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert f"resume with: bareprop train --resume {out}" in stopped.stderr
    state = load_checkpoint(out / FILENAME).fit
    assert 1 <= state.epoch < EPOCHS and state.batch > 0  # mid-epoch, after a whole step
    assert state.step == state.epoch * 950 + state.batch  # 3800 samples / batch 4 per epoch
    assert not (out / "model.npz").exists()
    _resume(out)
    _assert_same_run(reference, out)


def test_resume_refuses_conflicting_options(
    data: Path, reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--resume", str(reference)]) == 2  # finished: nothing to resume
    assert "already finished" in capsys.readouterr().err
    out = tmp_path / "run"  # a run folder with a checkpoint but no model yet
    config = TrainConfig(hidden=[8], epochs=1, data_dir=str(data))
    train_run(config, verbose=0, run_dir=out)
    assert (out / FILENAME).exists() and not (out / "model.npz").exists()
    assert main(["train", "--resume", str(out), "--lr", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lr 0.5 conflicts" in err and "lr=0.002" in err
    assert main(["train", "--resume", str(out), "--out", str(tmp_path / "other")]) == 2
    assert "conflicts with --resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "absent")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    own_data = tmp_path / "data"
    shutil.copytree(data, own_data)
    changed = tmp_path / "changed"
    train_run(TrainConfig(hidden=[8], epochs=1, data_dir=str(own_data)), verbose=0, run_dir=changed)
    labels = own_data / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:-1] + b"\x07"))
    assert main(["train", "--resume", str(changed)]) == 2
    assert "not those the run started with" in capsys.readouterr().err
    assert main(["train", "--resume", str(out), "--lr", "0.002", "--quiet", "--no-plots"]) == 0


def test_a_failed_write_leaves_the_previous_checkpoint_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = bp.build_mlp(5, [4], 3, rng=np.random.default_rng(0))
    optimizer = bp.Adam(model.parameters())
    rngs = {"shuffle": np.random.default_rng(1)}
    path = tmp_path / FILENAME
    save_checkpoint(path, model=model, optimizer=optimizer, rngs=rngs, state=FitState(epoch=1))
    before = path.read_bytes()

    def dies_halfway(file: object, **arrays: object) -> None:
        file.write(b"PK\x03\x04 half an archive")  # type: ignore[attr-defined]
        raise KeyboardInterrupt  # the process is stopped in the middle of writing

    monkeypatch.setattr(np, "savez", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model=model, optimizer=optimizer, rngs=rngs, state=FitState(epoch=2))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [FILENAME]  # no temporary file left
    assert load_checkpoint(path).fit.epoch == 1


def test_tampered_or_truncated_checkpoint_is_refused(tmp_path: Path) -> None:
    from bareprop.train.checkpoint import CheckpointError

    model = bp.build_mlp(5, [4], 3, rng=np.random.default_rng(0))
    path = tmp_path / FILENAME
    save_checkpoint(path, model=model, optimizer=bp.SGD(model.parameters(), lr=0.1, momentum=0.9),
                    rngs={"a": np.random.default_rng(0)}, state=FitState())  # fmt: skip
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.npz"):
        load_checkpoint(tmp_path / "cut.npz")
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["param_0"] = arrays["param_0"] * 2
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(tmp_path / "tampered.npz")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "bareprop-model"}, "not a bareprop checkpoint"),
        ({"version": 2}, "checkpoint version 2, this bareprop reads 1"),
        ({"version": None}, "checkpoint version None, this bareprop reads 1"),
        ({"sha256": "0" * 64}, "the arrays do not match their SHA-256: it was altered"),
    ],
)
def test_a_checkpoint_of_another_format_version_or_digest_is_refused(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    from bareprop.train.checkpoint import CheckpointError

    model = bp.build_mlp(5, [4], 3, rng=np.random.default_rng(0))
    path = tmp_path / FILENAME
    save_checkpoint(path, model=model, optimizer=bp.SGD(model.parameters(), lr=0.1),
                    rngs={"a": np.random.default_rng(0)}, state=FitState())  # fmt: skip
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = {**json.loads(arrays["meta"].tobytes()), **change}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(bad)
    assert str(caught.value) == f"{bad}: {message}"


class _CtrlC(bp.Layer):
    """Identity that sends this process a SIGINT (what Ctrl-C does) in training call ``at``."""

    def __init__(self, at: int) -> None:
        self.at, self.calls = at, 0

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                os.kill(os.getpid(), signal.SIGINT)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy


def _run(at: int, state: FitState | None = None, path: Path | None = None) -> tuple[Any, ...]:
    """A small fit with dropout and Adam; checkpoint to ``path`` if it is interrupted."""
    rngs = {name: np.random.default_rng(i) for i, name in enumerate(("init", "shuffle", "drop"))}
    model = bp.Sequential(
        [
            bp.Linear(6, 16, rng=rngs["init"]),
            _CtrlC(at),
            bp.ReLU(),
            bp.Dropout(0.3, rng=rngs["drop"]),
            bp.Linear(16, 3, rng=rngs["init"]),
        ]
    )
    optimizer = bp.Adam(model.parameters(), lr=0.01)
    if path is not None and state is not None:
        state = restore(load_checkpoint(path), model=model, optimizer=optimizer, rngs=rngs)
    data = np.random.default_rng(9)
    x, y = data.standard_normal((64, 6)), data.integers(0, 3, 64)
    state = state if state is not None else FitState()
    try:
        bp.fit(
            model,
            x,
            y,
            loss=bp.SoftmaxCrossEntropy(),
            optimizer=optimizer,
            epochs=4,
            batch_size=16,
            rng=rngs["shuffle"],
            verbose=0,
            lr_schedule="cosine",
            state=state,
        )
    except bp.TrainingInterrupted as e:
        assert path is not None
        save_checkpoint(path, model=model, optimizer=optimizer, rngs=rngs, state=e.state)
        return (None, e.state)
    return ([p.data.tobytes() for p in model.parameters()], state)


@pytest.mark.parametrize(("at", "where"), [(7, (1, 3)), (8, (2, 0)), (1, (0, 1))])
def test_fit_interrupted_in_process_resumes_bit_identical(
    tmp_path: Path, at: int, where: tuple[int, int]
) -> None:
    """Ctrl-C at training call ``at`` (4 batches per epoch): stop after that step, resume."""
    reference, ref_state = _run(at=0)
    path = tmp_path / FILENAME
    _, stopped = _run(at=at, path=path)
    assert (stopped.epoch, stopped.batch) == where  # the step that was running was finished
    weights, state = _run(at=0, state=FitState(), path=path)
    assert weights == reference
    assert state.history["loss"] == ref_state.history["loss"]
    assert state.diagnostics == ref_state.diagnostics
