"""One training run from a :class:`TrainConfig`: data, model, fit, test, files.

Used by ``bareprop train`` and by everything that reruns training (experiments,
comparisons, replays). The pieces are separate functions so each can be reused alone.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.data.augment import shift_images
from bareprop.data.mnist import PIXEL_SCALE, load_mnist, preprocess, shaped_for
from bareprop.files.model_file import save
from bareprop.nn.layer import Layer
from bareprop.nn.losses import Loss
from bareprop.nn.sequential import Sequential
from bareprop.optim import Optimizer
from bareprop.train.build import build
from bareprop.train.checkpoint import FILENAME as CHECKPOINT
from bareprop.train.checkpoint import Checkpoint, restore, save_checkpoint
from bareprop.train.config import TrainConfig
from bareprop.train.early_stopping import EarlyStopping
from bareprop.train.fit import TrainingDiverged, evaluate, fit, predict
from bareprop.train.manifest import data_sha256
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

    def for_model(self, model: Layer) -> Data:
        """The same data shaped as ``model`` takes it: flat pixels for a model with a fixed
        feature count (an MLP), ``(N, 1, rows, cols)`` images otherwise (a conv net)."""
        arrays = (self.x_train, self.x_val, self.x_test)
        x_train, x_val, x_test = (shaped_for(model, a, self.image_shape) for a in arrays)
        return dataclasses.replace(self, x_train=x_train, x_val=x_val, x_test=x_test)


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
    early_stopping: dict[str, Any] | None = None  # where it stopped, which epoch's weights


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
    early_stopping: EarlyStopping | None = None,
) -> dict[str, list[float]]:
    """:func:`~bareprop.train.fit.fit` on ``data`` as ``config`` says: its epochs, batch size and
    schedule, validation on the held-out split (if any), shuffling from ``rngs["shuffle"]``,
    ``--augment``'s shifts (drawn from the seed and the step, so a resumed run draws the same).

    The one place a run trains: ``bareprop train``, the experiment grids and the benchmarks.
    """
    validation = (data.x_val, data.y_val) if len(data.x_val) else None
    return fit(
        model, data.x_train, data.y_train, loss=loss, optimizer=optimizer,
        epochs=config.epochs, batch_size=config.batch_size, validation_data=validation,
        rng=rngs["shuffle"], verbose=verbose, lr_schedule=config.lr_schedule,
        callbacks=callbacks, state=state, augment=augmenter(config),
        early_stopping=early_stopping,
    )  # fmt: skip


def augmenter(config: TrainConfig) -> Callable[[np.ndarray, int], np.ndarray] | None:
    """``--augment N``: each batch's images shifted by up to N pixels, from a generator seeded
    by the run's seed and the step (None without augmentation)."""
    if not config.augment:
        return None

    def shift(batch: np.ndarray, step: int) -> np.ndarray:
        rng = np.random.default_rng([config.seed, step])
        return shift_images(batch, config.augment, rng)

    return shift


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
    model, loss, optimizer = build(config, data.x_train.shape[1:], data.n_classes, rngs)
    data = data.for_model(model)
    state = FitState()
    stopper = EarlyStopping(config.early_stopping) if config.early_stopping else None
    if resume is not None:
        state = restore(resume, model=model, optimizer=optimizer, rngs=rngs,
                        early_stopping=stopper)  # fmt: skip
    parts = {"model": model, "optimizer": optimizer, "rngs": rngs, "state": state,
             "early_stopping": stopper}  # fmt: skip
    callbacks = [] if run_dir is None else [_Checkpointer(run_dir / CHECKPOINT, config, **parts)]
    try:
        history = fit_config(
            config, data, model, loss, optimizer, rngs,
            verbose=verbose, callbacks=callbacks, state=state, early_stopping=stopper,
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
        early_stopping=None if stopper is None else stopper.summary(),
    )  # fmt: skip
