"""The experiment presets: the five notebooks (faithful and sound); best-mlp is in best_mlp.py.

A preset is a list of :class:`Job`: a configuration name, the options that describe it (for
``results.csv``) and a function ``(seed, on_epoch) -> Trained``. The notebook jobs follow the
table :data:`~bareprop.lab.notebook_specs.NOTEBOOKS` and the trainers of
:mod:`bareprop.lab.notebooks`;
each notebook network is also trained with today's sound recipe (:func:`train_sound`), so a
reader sees what the quirks cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from bareprop.lab import notebooks as nb
from bareprop.lab.notebook_specs import NOTEBOOKS, NotebookSpec
from bareprop.lab.trained import FitHook, Recorder
from bareprop.nn.losses import SoftmaxCrossEntropy
from bareprop.nn.models import build_mlp
from bareprop.optim import Adam
from bareprop.train.fit import fit

Runner = Callable[[int, nb.EpochHook], nb.Trained]


@dataclass
class Job:
    """One configuration of an experiment, run once per seed."""

    config: str
    options: dict[str, Any]
    run: Runner
    reported: float | None = None  # the figure a notebook reported, a fraction
    reported_text: str = ""
    notes: dict[str, str] = field(default_factory=dict)


# The sound recipe trains the small networks of notebooks 000-003 for the notebook's epochs,
# and 004's large ones for at most 5: Adam with a cosine decay needs no more for them.
SMALL_NETWORKS = ("nb000", "nb001", "nb002", "nb003")
SOUND_EPOCHS = 5
SOUND = dict(
    optimizer="adam",
    lr=1e-3,
    lr_schedule="cosine",
    batch_size=128,
    loss="cross-entropy",
    reduction="mean",
    init="he_uniform (relu) / glorot_uniform",
)


def train_sound(
    data: nb.Images,
    rng: np.random.Generator,
    *,
    hidden: list[int],
    activation: str,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 128,
    on_epoch: nb.EpochHook = None,
) -> nb.Trained:
    """Today's recipe for a network: pixels in [0, 1], logits + softmax CE (mean), He/Glorot
    uniform init, zero biases, shuffled batches of 128, Adam with a cosine-decayed lr."""
    x_train, x_test = data.scaled()
    init = "he_uniform" if activation in ("relu", "leaky_relu") else "glorot_uniform"
    model = build_mlp(784, hidden, 10, activation=activation, init=init, rng=rng)
    rec = Recorder(model, x_test, data.y_test, on_epoch)
    history = fit(
        model,
        x_train,
        data.y_train,
        loss=SoftmaxCrossEntropy(),
        optimizer=Adam(model.parameters(), lr=lr),
        epochs=epochs,
        batch_size=batch_size,
        rng=rng,
        verbose=0,
        lr_schedule="cosine",
        callbacks=[FitHook(rec)],
    )
    rec.history["seconds"] = history["seconds"]  # fit's own timing excludes the test evaluation
    return rec.done()


def scaled_epochs(epochs: int, scale: float) -> int:
    return max(1, round(epochs * scale))


def notebook_jobs(
    data_fn: Callable[[], nb.Images], *, epochs_scale: float = 1.0, sound: bool = True
) -> list[Job]:
    """The notebooks preset: each notebook faithfully, then (if ``sound``) with today's recipe."""
    jobs = [_faithful_job(spec, data_fn, epochs_scale) for spec in NOTEBOOKS]
    if sound:
        jobs += [_sound_job(spec, data_fn, epochs_scale) for spec in NOTEBOOKS]
    return jobs


def _faithful_job(spec: NotebookSpec, data_fn: Callable[[], nb.Images], scale: float) -> Job:
    options = {**spec.options, "epochs": scaled_epochs(spec.epochs, scale)}
    if spec.name == "nb003":
        options = {**spec.options, "iterations": max(1, round(10000 * scale))}
    return Job(
        spec.name,
        options,
        partial(_run_faithful, spec, data_fn, scale),
        spec.reported,
        spec.reported_text,
        {
            "title": spec.title,
            "why": spec.why,
            **({"always": "1"} if spec.name == "nb003" else {}),
        },
    )


def _sound_job(spec: NotebookSpec, data_fn: Callable[[], nb.Images], scale: float) -> Job:
    sound_epochs = spec.epochs if spec.name in SMALL_NETWORKS else min(spec.epochs, SOUND_EPOCHS)
    epochs = scaled_epochs(sound_epochs, scale)
    options = {
        "hidden": spec.hidden,
        "activation": spec.activation,
        **SOUND,
        "epochs": epochs,
    }
    run = partial(_run_sound, spec, data_fn, epochs)
    return Job(
        f"{spec.name}-sound",
        options,
        run,
        notes={"title": f"{spec.name} network, sound recipe"},
    )


def _run_faithful(
    spec: NotebookSpec,
    data_fn: Callable[[], nb.Images],
    scale: float,
    seed: int,
    on_epoch: nb.EpochHook,
) -> nb.Trained:
    rng, data = np.random.default_rng(seed), data_fn()
    if spec.name == "nb003":
        iterations = max(1, round(10000 * scale))
        return nb.train_nb003(data, rng, iterations=iterations, on_epoch=on_epoch)
    epochs = scaled_epochs(spec.epochs, scale)
    if spec.name.startswith("nb004"):
        o = spec.options
        return nb.train_nb004(
            data,
            rng,
            hidden=o["hidden"],
            batch_size=o["batch_size"],
            lr=o["lr"],
            init=o["init"],
            activation=o["activation"],
            optimizer=o["optimizer"],
            epochs=epochs,
            on_epoch=on_epoch,
        )
    trainer = {"nb000": nb.train_nb000, "nb001": nb.train_nb001, "nb002": nb.train_nb002}[spec.name]
    return trainer(data, rng, epochs=epochs, on_epoch=on_epoch)


def _run_sound(
    spec: NotebookSpec,
    data_fn: Callable[[], nb.Images],
    epochs: int,
    seed: int,
    on_epoch: nb.EpochHook,
) -> nb.Trained:
    hidden = [16] if spec.name == "nb000" else spec.hidden  # nb000's 17th unit was the bias trick
    return train_sound(
        data_fn(),
        np.random.default_rng(seed),
        hidden=hidden,
        activation=spec.activation,
        epochs=epochs,
        on_epoch=on_epoch,
    )
