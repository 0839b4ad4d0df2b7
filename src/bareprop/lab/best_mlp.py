"""``--preset best-mlp``: our best plain MLP recipe, with shifted-image augmentation.

ReLU layers with dropout, AdamW, one cosine decay of the learning rate over all epochs, and
every epoch a fresh random shift of each training image by up to ``max_shift`` pixels, drawn
from the seeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from bareprop.data.augment import shift_images
from bareprop.lab import notebooks as nb
from bareprop.lab.presets import Job, scaled_epochs
from bareprop.nn.losses import SoftmaxCrossEntropy
from bareprop.nn.models import build_mlp
from bareprop.optim import AdamW
from bareprop.optim.schedules import cosine
from bareprop.train.fit import fit

BEST_MLP: dict[str, Any] = dict(
    hidden=[800, 800],
    activation="relu",
    init="he_uniform",
    dropout=0.2,
    optimizer="adamw",
    lr=1e-3,
    weight_decay=1e-4,
    lr_schedule="cosine",
    batch_size=128,
    epochs=30,
    max_shift=2,
)


def train_best_mlp(
    data: nb.Images,
    rng: np.random.Generator,
    *,
    hidden: list[int],
    dropout: float,
    lr: float,
    weight_decay: float,
    batch_size: int,
    epochs: int,
    max_shift: int,
    on_epoch: nb.EpochHook = None,
    **_: Any,
) -> nb.Trained:
    """Our best plain MLP: ReLU, dropout, AdamW, one cosine decay over all epochs, and every
    epoch a fresh random shift of each training image by up to ``max_shift`` pixels."""
    x_train, x_test = data.scaled()
    model = build_mlp(
        784, hidden, 10, activation="relu", init="he_uniform", dropout=dropout, rng=rng
    )
    optimizer = AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    rec = nb.Recorder(model, x_test, data.y_test, on_epoch)
    steps = math.ceil(len(x_train) / batch_size)
    for epoch in range(epochs):
        shifted = shift_images(x_train, max_shift, rng) if max_shift else x_train

        def schedule(step: int, _total: int, offset: int = epoch * steps) -> float:
            return cosine(offset + step, epochs * steps)  # one decay across the separate fit calls

        history = fit(
            model,
            shifted,
            data.y_train,
            loss=SoftmaxCrossEntropy(),
            optimizer=optimizer,
            epochs=1,
            batch_size=batch_size,
            rng=rng,
            verbose=0,
            lr_schedule=schedule,
        )
        rec.end_epoch(history["loss"][0], train_accuracy=history["accuracy"][0])
    return rec.done()


def best_mlp_jobs(data_fn: Callable[[], nb.Images], *, epochs_scale: float = 1.0) -> list[Job]:
    options = {**BEST_MLP, "epochs": scaled_epochs(int(BEST_MLP["epochs"]), epochs_scale)}

    def run(seed: int, on_epoch: nb.EpochHook) -> nb.Trained:
        return train_best_mlp(data_fn(), np.random.default_rng(seed), on_epoch=on_epoch, **options)

    return [Job("best-mlp", options, run)]
