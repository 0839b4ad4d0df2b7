"""``--preset best-cnn``: our best CNN recipe, trained as ``bareprop train`` would train it.

The reference CNN with batch norm after each convolution and the hidden Linear
(``--model cnn-bn``), every batch's images shifted by up to 2 pixels (``--augment 2``), AdamW
with one cosine decay of the learning rate over 20 epochs, on all 60,000 training images.
"""

from __future__ import annotations

from dataclasses import replace

from bareprop.lab.grid import config_runner
from bareprop.lab.presets import Job, scaled_epochs
from bareprop.train.config import TrainConfig

BEST_CNN = TrainConfig(
    model="cnn-bn", optimizer="adamw", lr=3e-3, weight_decay=1e-4, lr_schedule="cosine",
    batch_size=128, epochs=20, augment=2, val_fraction=0.0,
)  # fmt: skip
TARGET = 0.995


def best_cnn_jobs(
    data_dir: str | None, limit: int | None = None, *, epochs_scale: float = 1.0
) -> list[Job]:
    """One job: :data:`BEST_CNN` (its epochs scaled), on ``data_dir``'s data."""
    config = replace(BEST_CNN, data_dir=data_dir,
                     epochs=scaled_epochs(BEST_CNN.epochs, epochs_scale))  # fmt: skip
    options = {k: v for k, v in config.to_dict().items() if k not in ("seed", "data_dir")}
    return [Job("best-cnn", options, config_runner(config, limit))]
