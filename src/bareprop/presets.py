"""The experiment presets: the five notebooks (faithful and sound); best-mlp is in best_mlp.py.

A preset is a list of :class:`Job`: a configuration name, the options that describe it (for
``results.csv``) and a function ``(seed, on_epoch) -> Trained``. The notebook jobs follow
:mod:`bareprop.notebooks`; each notebook network is also trained with today's sound recipe
(:func:`train_sound`), so a reader sees what the quirks cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from bareprop import notebooks as nb
from bareprop.losses import SoftmaxCrossEntropy
from bareprop.model import build_mlp
from bareprop.optimizers import Adam
from bareprop.training import fit

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


@dataclass(frozen=True)
class NotebookSpec:
    name: str
    title: str
    reported: float | None
    reported_text: str
    hidden: list[int]
    activation: str
    epochs: int
    options: dict[str, Any]
    why: str


def _nb004(
    i: int,
    hidden: list[int],
    bs: int,
    lr: float,
    init: str,
    act: str,
    opt: str,
    epochs: int,
    reported: float,
    why: str,
) -> NotebookSpec:
    options = dict(
        hidden=hidden,
        batch_size=bs,
        lr=lr,
        init=init,
        activation=act,
        optimizer=opt,
        epochs=epochs,
        loss="cross-entropy",
        reduction="sum (70% of each batch)",
    )
    title = (
        f"004 exp {i}: {'-'.join(map(str, hidden))} {act} {init} {opt} lr {lr} bs {bs}, {epochs} ep"
    )
    return NotebookSpec(
        f"nb004-{i}", title, reported, f"{100 * reported:.2f}%", hidden, act, epochs, options, why
    )


_SUMMED = (
    "We run the notebook's code as printed: the per-sample gradients of the first 70% of each "
    "batch are summed (so a step is {k}x the stated lr per mean gradient), batches come in a "
    "fixed order, and tests check this update against a transcription of its per-sample loop. "
    "The notebook's figure is a single run from its own initial draw."
)
_ONE_EPOCH = (
    " Run as printed (15 epochs), the recipe keeps improving well past the reported figure, "
    "which is within a point of our accuracy after the first epoch (measured below): the printed "
    "output most likely comes from a one-epoch run (`experiment()` defaults to `epochs=1`)."
)

NOTEBOOKS: list[NotebookSpec] = [
    NotebookSpec(
        "nb000",
        "000: 784-16(+1)-10 sigmoid, bias column, 0.5*sum sq. error, lr 0.1 bs 16, 10 ep",
        0.9359,
        "93.59%",
        [17],
        "sigmoid",
        10,
        dict(
            hidden=[17],
            activation="sigmoid",
            loss="mse (0.5*sum)",
            reduction="sum",
            init="randn/sqrt(784); randn",
            optimizer="sgd",
            lr=0.1,
            batch_size=16,
            epochs=10,
        ),
        "The notebook's 93.59% is one run from an unseeded np.random. With its recipe the result "
        "depends "
        "on the draw of the std-1 output weights (which can saturate the output sigmoids); the "
        "seed "
        "spread above shows how much. Its own Keras twin reached 93.98%.",
    ),
    NotebookSpec(
        "nb001",
        "001: 784-10 sigmoid, quadratic cost, randn init, bias update averaged, lr 3.0 bs 16, 30 "
        "ep",
        0.5732,
        "57.32%",
        [],
        "sigmoid",
        30,
        dict(
            hidden=[],
            activation="sigmoid",
            loss="mse (0.5*sum)",
            reduction="sum (bias: mean)",
            init="randn",
            optimizer="sgd",
            lr=3.0,
            batch_size=16,
            epochs=30,
        ),
        "57% is not what a 784-10 model can do (see the sound row), and our faithful runs end "
        "higher. "
        "Std-1 weights on 784 inputs give pre-activations with a std near 9, so output sigmoids "
        "start "
        "saturated and the quadratic cost's gradient (a - y) * sigmoid'(z) vanishes for them; the "
        "bias "
        "update is averaged, so biases learn 16x slower and cannot pull a unit out. How many "
        "units stay "
        "stuck depends on the initial draw: the accuracy climbs in steps (the notebook's log "
        "jumps from "
        "51% to 57% at epoch 5) and plateaus. In 7 further seeds (10-16, same code) we measured "
        "67.1-91.8%, none as low as 57%: the notebook's single draw left more units stuck. The "
        "update "
        "rule itself is checked against a transcription of the notebook's code "
        "(tests/test_experiment.py).",
    ),
    NotebookSpec(
        "nb002",
        "002: 784-128-10 ReLU, softmax CE, raw 0..255 pixels, std=1/fan_in, deltas clipped, lr "
        "1e-5 bs 128, 3 ep",
        0.8575,
        "85.75%",
        [128],
        "relu",
        3,
        dict(
            hidden=[128],
            activation="relu",
            loss="cross-entropy",
            reduction="mean",
            init="normal(std=1/fan_in)",
            optimizer="sgd",
            lr=1e-5,
            batch_size=128,
            epochs=3,
        ),
        "Three epochs at lr 1e-5 on unscaled pixels with every delta clipped to +-1 are far from "
        "convergence, so the result depends strongly on the initial draw and the data order. The "
        "notebook's figure is also the mean of per-batch accuracies (the last test batch has 16 "
        "images) "
        "rather than the accuracy over the 10000 images.",
    ),
    NotebookSpec(
        "nb003",
        "003: TwoLayerNet 784-50-10 ReLU, 0.01*randn, batches of 100 with replacement, lr 0.1, "
        "10000 it",
        0.97,
        "none (10.3% at iteration 0; ~97% expected)",
        [50],
        "relu",
        17,
        dict(
            hidden=[50],
            activation="relu",
            loss="cross-entropy",
            reduction="mean",
            init="normal(std=0.01)",
            optimizer="sgd",
            lr=0.1,
            batch_size=100,
            epochs=17,
        ),
        "The notebook reports no final accuracy: `iter_per_epoch = max(train_size, batch_size, "
        "1)` is "
        "60000 (meant: train_size / batch_size), so it printed only at iteration 0 (10.4% train, "
        "10.3% "
        "test, the untrained net). We compare with the ~97% this recipe is known to end near.",
    ),
    _nb004(
        1, [500, 250, 100], 64, 0.01, "glorot", "sigmoid", "sgd", 15, 0.966, _SUMMED.format(k=45)
    ),
    _nb004(2, [500, 250, 100], 64, 0.01, "glorot", "relu", "sgd", 15, 0.9799, _SUMMED.format(k=45)),
    _nb004(
        3,
        [500, 250, 100],
        64,
        0.01,
        "glorot",
        "tanh",
        "sgd",
        15,
        0.9295,
        _SUMMED.format(k=45) + _ONE_EPOCH,
    ),
    _nb004(
        4,
        [500, 1000, 100],
        128,
        0.001,
        "he",
        "tanh",
        "sgd",
        15,
        0.9059,
        _SUMMED.format(k=90) + _ONE_EPOCH,
    ),
    _nb004(
        5,
        [500, 1000, 100],
        128,
        0.001,
        "he",
        "relu",
        "sgd",
        1,
        0.9128,
        _SUMMED.format(k=90) + " One epoch from a random draw of a network whose He init "
        "draws the biases from randn (std 1): the result depends on the draw, and the "
        "notebook's single run lies just above the range of our seeds.",
    ),
    _nb004(
        6,
        [500, 1000, 100],
        128,
        0.01,
        "glorot",
        "relu",
        "adam",
        15,
        0.8584,
        'Its "adam" is not Adam: one scalar second moment shared by all weights (beta2 = 0.5, '
        "no bias correction) divides every step by the norm of the recent summed gradients, a "
        "normalised gradient step; with it the network learns more slowly than with true Adam "
        "(the sound row)." + _ONE_EPOCH,
    ),
]

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
    rec = nb._Recorder(model, x_test, data.y_test, on_epoch)
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
        callbacks=[_FitHook(rec)],
    )
    rec.history["seconds"] = history["seconds"]  # fit's own timing excludes the test evaluation
    return rec.done()


class _FitHook:
    """Adapts fit's ``on_epoch_end(epoch, logs)`` to a :class:`notebooks._Recorder`."""

    def __init__(self, rec: nb._Recorder) -> None:
        self.rec = rec

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.rec.end_epoch(logs["loss"], train_accuracy=logs["accuracy"])


def _scaled_epochs(epochs: int, scale: float) -> int:
    return max(1, round(epochs * scale))


def notebook_jobs(
    data_fn: Callable[[], nb.Images], *, epochs_scale: float = 1.0, sound: bool = True
) -> list[Job]:
    """The notebooks preset: each notebook faithfully, then (if ``sound``) with today's recipe."""
    jobs = []
    for spec in NOTEBOOKS:
        options = {**spec.options, "epochs": _scaled_epochs(spec.epochs, epochs_scale)}
        if spec.name == "nb003":
            options = {**spec.options, "iterations": max(1, round(10000 * epochs_scale))}
        jobs.append(
            Job(
                spec.name,
                options,
                partial(_run_faithful, spec, data_fn, epochs_scale),
                spec.reported,
                spec.reported_text,
                {
                    "title": spec.title,
                    "why": spec.why,
                    **({"always": "1"} if spec.name == "nb003" else {}),
                },
            )
        )
    if sound:
        for spec in NOTEBOOKS:
            sound_epochs = (
                spec.epochs if spec.name in SMALL_NETWORKS else min(spec.epochs, SOUND_EPOCHS)
            )
            epochs = _scaled_epochs(sound_epochs, epochs_scale)
            options = {
                "hidden": spec.hidden,
                "activation": spec.activation,
                **SOUND,
                "epochs": epochs,
            }
            run = partial(_run_sound, spec, data_fn, epochs)
            jobs.append(
                Job(
                    f"{spec.name}-sound",
                    options,
                    run,
                    notes={"title": f"{spec.name} network, sound recipe"},
                )
            )
    return jobs


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
    epochs = _scaled_epochs(spec.epochs, scale)
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
