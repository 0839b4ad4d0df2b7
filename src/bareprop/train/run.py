"""One training run from a :class:`TrainConfig`: data, model, fit, test, files.

Used by ``bareprop train`` and by everything that reruns training (experiments,
comparisons, replays). The pieces are separate functions so each can be reused alone.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.data.mnist import PIXEL_SCALE, load_mnist, preprocess
from bareprop.files.model_file import atomic_write, save
from bareprop.nn.losses import LOSSES, Loss
from bareprop.nn.sequential import Sequential, build_mlp
from bareprop.optim import OPTIMIZERS, Optimizer
from bareprop.train.checkpoint import FILENAME as CHECKPOINT
from bareprop.train.checkpoint import Checkpoint, restore, save_checkpoint
from bareprop.train.config import TrainConfig
from bareprop.train.fit import TrainingDiverged, evaluate, fit, predict
from bareprop.train.manifest import FILENAME as MANIFEST
from bareprop.train.manifest import build_manifest, data_sha256
from bareprop.train.state import FitState, TrainingInterrupted


@dataclass
class Data:
    """Flattened, scaled splits: x float ``(N, features)``, y int64 ``(N,)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...]
    n_classes: int


@dataclass
class RunResult:
    config: TrainConfig
    model: Sequential
    history: dict[str, list[float]]
    test_accuracy: float
    test_loss: float
    confusion: np.ndarray
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)
    diagnostics: dict[str, list[float]] = field(default_factory=dict)  # per layer, per epoch


def seeded_rngs(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for each use of randomness, all from one seed."""
    names = ("split", "init", "shuffle", "dropout")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


def load_data(config: TrainConfig, rng: np.random.Generator) -> Data:
    """Load the data set, hold out ``val_fraction`` of the training set at random."""
    (xtr, ytr), (xte, yte) = load_mnist(config.data_dir)
    n_classes = int(max(ytr.max(initial=0), yte.max(initial=0))) + 1
    order = rng.permutation(len(xtr))
    n_val = round(config.val_fraction * len(xtr))
    val, train = order[:n_val], order[n_val:]
    dtype = np.dtype(config.dtype)
    y = ytr.astype(np.int64)
    return Data(  # split the uint8 images first: no float copy of the whole set (peak memory)
        preprocess(xtr[train], dtype), y[train], preprocess(xtr[val], dtype), y[val],
        preprocess(xte, dtype), yte.astype(np.int64),
        image_shape=tuple(xtr.shape[1:]), n_classes=n_classes,
    )  # fmt: skip


def build(
    config: TrainConfig, n_features: int, n_classes: int, rngs: dict[str, np.random.Generator]
) -> tuple[Sequential, Loss, Optimizer]:
    """The model, loss and optimiser a config describes."""
    from bareprop.nn.init import get_initializer

    init = (
        get_initializer("normal", std=config.init_std) if config.init == "normal" else config.init
    )
    model = build_mlp(
        n_features, config.hidden, n_classes,
        activation=config.activation, init=init, dropout=config.dropout,
        output_activation="sigmoid" if config.loss == "mse" else None,
        rng=rngs["init"], dropout_rng=rngs["dropout"], dtype=config.dtype,
    )  # fmt: skip
    loss = LOSSES[config.loss](reduction=config.reduction)
    kwargs: dict[str, Any] = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer == "sgd":
        kwargs.update(momentum=config.momentum, nesterov=config.nesterov)
    elif config.optimizer == "rmsprop":
        kwargs.update(momentum=config.momentum)
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), **kwargs)
    return model, loss, optimizer


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``m[i, j]`` = number of samples of class i predicted as j."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


class _Checkpointer:
    """Writes ``run_dir/checkpoint.npz`` at the end of every epoch (atomically)."""

    def __init__(self, path: Path, config: TrainConfig, **parts: Any) -> None:
        self.path, self.config, self.parts = path, config, parts
        # A resume must read the same data: kept to be checked then.
        self.extra = {"data_sha256": data_sha256(config.data_dir)}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.path, config=self.config.to_dict(), extra=self.extra, **self.parts)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.save()


def fit_config(
    config: TrainConfig,
    data: Data,
    model: Sequential,
    loss: Loss,
    optimizer: Optimizer,
    rngs: dict[str, np.random.Generator],
    *,
    verbose: int = 0,
    callbacks: Sequence[Any] = (),
    state: FitState | None = None,
) -> dict[str, list[float]]:
    """:func:`~bareprop.train.fit.fit` on ``data`` as ``config`` says: its epochs, batch size and
    schedule, validation on the held-out split (if any), shuffling from ``rngs["shuffle"]``.

    The one place a run trains: ``bareprop train``, the experiment grids and the benchmarks.
    """
    validation = (data.x_val, data.y_val) if len(data.x_val) else None
    return fit(
        model, data.x_train, data.y_train, loss=loss, optimizer=optimizer,
        epochs=config.epochs, batch_size=config.batch_size, validation_data=validation,
        rng=rngs["shuffle"], verbose=verbose, lr_schedule=config.lr_schedule,
        callbacks=callbacks, state=state,
    )  # fmt: skip


def train_run(
    config: TrainConfig,
    *,
    verbose: int = 1,
    data: Data | None = None,
    run_dir: Path | None = None,
    resume: Checkpoint | None = None,
) -> RunResult:
    """Train and test as ``config`` says.

    Args:
        config: the run.
        verbose: passed to :func:`~bareprop.train.fit.fit`.
        data: the data, if already loaded (else :func:`load_data`).
        run_dir: if given, a checkpoint is written there at the end of every epoch and on
            Ctrl-C (then :class:`TrainingInterrupted` is raised again); nothing else is written.
        resume: a checkpoint of this run to continue from, bit for bit.
    """
    config.validate()
    rngs = seeded_rngs(config.seed)
    data = data if data is not None else load_data(config, rngs["split"])
    started = time.perf_counter()
    model, loss, optimizer = build(config, data.x_train.shape[1], data.n_classes, rngs)
    state = FitState()
    if resume is not None:
        state = restore(resume, model=model, optimizer=optimizer, rngs=rngs)
    parts = {"model": model, "optimizer": optimizer, "rngs": rngs, "state": state}
    callbacks = [] if run_dir is None else [_Checkpointer(run_dir / CHECKPOINT, config, **parts)]
    try:
        history = fit_config(
            config, data, model, loss, optimizer, rngs,
            verbose=verbose, callbacks=callbacks, state=state,
        )  # fmt: skip
    except TrainingInterrupted:
        for callback in callbacks:
            callback.save()  # mid-epoch: the state says which batch comes next
        raise
    except TrainingDiverged as e:
        if run_dir is None:
            raise
        kept = run_dir / "last_good_model.npz"
        run_dir.mkdir(parents=True, exist_ok=True)
        save(model, kept, metadata={"train_config": config.to_dict()})
        raise TrainingDiverged(f"{e}. The last good weights are in {kept}") from None
    test = evaluate(model, data.x_test, data.y_test, loss=loss)
    confusion = confusion_matrix(data.y_test, predict(model, data.x_test), data.n_classes)
    model.metadata = {
        "preprocessing": {"pixel_scale": PIXEL_SCALE, "image_shape": list(data.image_shape)},
        "classes": [str(c) for c in range(data.n_classes)],
        "train_config": config.to_dict(),
    }
    return RunResult(
        config, model, history, test["accuracy"], test["loss"], confusion,
        seconds=time.perf_counter() - started, diagnostics=state.diagnostics,
    )  # fmt: skip


def metrics_csv(
    history: dict[str, list[float]], diagnostics: dict[str, list[float]] | None = None
) -> str:
    """The per-epoch history (then the per-layer diagnostics) as CSV text, one row per epoch."""
    history = {**history, **(diagnostics or {})}
    base = ["loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    keys = [k for k in [*base, *sorted(set(history) - set(base))] if history.get(k)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for i in range(len(history["loss"])):
        writer.writerow([i + 1, *(f"{history[k][i]:.6g}" for k in keys)])
    return out.getvalue()


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_run(result: RunResult, out_dir: Path, *, plots: bool = True) -> dict[str, Path]:
    """Write the model, config, metrics and (if ``plots``) PNG figures into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "model": out_dir / "model.npz",
        "config": out_dir / "config.json",
        "metrics": out_dir / "metrics.csv",
    }
    save(result.model, files["model"], metadata=result.model.metadata)
    summary = {
        "config": result.config.to_dict(),
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "seconds": result.seconds,
    }
    write_text(files["config"], json.dumps(summary, indent=2) + "\n")
    write_text(files["metrics"], metrics_csv(result.history, result.diagnostics))
    files["manifest"] = out_dir / MANIFEST
    write_text(files["manifest"], json.dumps(run_manifest(result), indent=2) + "\n")
    from bareprop.show import report  # self-contained report.html; no matplotlib unless plots

    if plots:
        from bareprop.show import plots as plotting  # matplotlib only when pictures are wanted

        files["curves"] = out_dir / "curves.png"
        files["confusion"] = out_dir / "confusion_matrix.png"
        plotting.save_curves(result.history, files["curves"])
        plotting.save_confusion(result.confusion, files["confusion"])
        files.update(report.run_figures(result, out_dir))  # digits, errors, weights, per class
    files["report"] = report.write_run_report(result, out_dir, files)
    result.files = files
    return files


def run_manifest(result: RunResult) -> dict[str, Any]:
    """The manifest of a finished run (see :mod:`bareprop.train.manifest`)."""
    from bareprop.files.model_file import weights_sha256

    return build_manifest(
        result.config.to_dict(),
        weights_sha256=weights_sha256([p.data for p in result.model.parameters()]),
        history=result.history,
        test={"accuracy": result.test_accuracy, "loss": result.test_loss},
    )


def default_out_dir(root: Path = Path("runs")) -> Path:
    """A new folder ``runs/YYYYmmdd-HHMMSS`` (with a suffix if taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = root / stamp
    n = 1
    while candidate.exists():
        n += 1
        candidate = root / f"{stamp}-{n}"
    return candidate
