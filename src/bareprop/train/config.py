"""``TrainConfig``: every option of a training run, as one plain, JSON-friendly dataclass.

The CLI builds its ``train`` options from these fields; experiments sweep them; a run
writes its config to ``config.json`` and ``TrainConfig.from_dict`` reads it back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bareprop.nn import ACTIVATIONS
from bareprop.nn.init import INITIALIZERS
from bareprop.nn.losses import LOSSES, REDUCTIONS
from bareprop.optim import OPTIMIZERS
from bareprop.optim.schedules import SCHEDULES
from bareprop.validation import check_dtype, check_positive, check_range

MODELS = ("mlp", "cnn", "cnn-bn")


def option(default: Any, help: str, choices: Iterable[str] | None = None) -> Any:
    """A :class:`TrainConfig` field: its default, its help text and, if any, its choices.

    ``bareprop train`` makes one command-line option of each field from these.
    """
    metadata = {"help": help, "choices": list(choices) if choices is not None else None}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """A training run on an MNIST-like data set. Defaults are ``bareprop train``'s recipe."""

    model: str = option(
        "mlp",
        "mlp: the MLP of --hidden; cnn: the reference CNN; cnn-bn: it with batch norm",
        MODELS,
    )
    model_file: str | None = option(
        None, "a TOML file listing the layers of any Sequential (overrides --model)"
    )
    hidden: list[int] = option([512, 256], "hidden layer sizes of the MLP")
    activation: str = option("relu", "the MLP's activation", ACTIVATIONS)
    loss: str = option(
        "cross-entropy", "cross-entropy: softmax on logits; mse: sigmoid outputs vs one-hot", LOSSES
    )
    reduction: str = option("mean", "average or sum the loss over the batch", REDUCTIONS)
    init: str = option("he_uniform", "weight initialiser", INITIALIZERS)
    init_std: float = option(0.01, "std of --init normal")
    optimizer: str = option("adam", "the optimiser, as torch.optim's", OPTIMIZERS)
    lr: float = option(2e-3, "learning rate")
    momentum: float = option(0.0, "sgd / rmsprop momentum")
    nesterov: bool = option(False, "Nesterov momentum (sgd)")
    weight_decay: float = option(0.0, "L2 penalty (decoupled for adamw)")
    dropout: float = option(0.0, "dropout after each hidden layer of the MLP")
    lr_schedule: str = option(
        "cosine", "learning-rate decay to 0 over the run, per step", SCHEDULES
    )
    batch_size: int = option(128, "samples per step")
    epochs: int = option(5, "passes over the training set")
    augment: int = option(0, "shift each training image by up to N pixels, anew every epoch")
    early_stopping: int = option(
        0, "stop when the validation loss has not improved for N epochs; keep the best (0: off)"
    )
    val_fraction: float = option(0.1, "share of the training set held out for validation")
    seed: int = option(0, "drives init, shuffling, dropout, augmentation and the split")
    dtype: str = option("float32", "float32 or float64", ("float32", "float64"))
    data_dir: str | None = option(
        None, "folder with the four IDX files (default: $BAREPROP_DATA, else the bundled MNIST)"
    )

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` naming the first option whose value makes no sense."""
        for f in dataclasses.fields(self):
            allowed = f.metadata["choices"]
            if allowed is not None and getattr(self, f.name) not in allowed:
                raise ValueError(
                    f"{f.name} must be one of {', '.join(allowed)}; got {getattr(self, f.name)!r}"
                )
        if not isinstance(self.hidden, list) or not self.hidden:
            raise ValueError(f"hidden must list at least one layer size, got {self.hidden!r}")
        for size in self.hidden:
            check_positive(size, "hidden layer size", integer=True)
        check_positive(self.lr, "lr")
        check_positive(self.init_std, "init_std")
        check_positive(self.batch_size, "batch_size", integer=True)
        check_positive(self.epochs, "epochs", integer=True)
        for name in ("augment", "early_stopping"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        if self.early_stopping and not self.val_fraction:
            raise ValueError(
                "early_stopping watches the validation loss: it needs val_fraction > 0"
            )
        check_range(self.momentum, "momentum", 0.0, 1.0)
        check_range(self.weight_decay, "weight_decay", 0.0, float("inf"))
        check_range(self.dropout, "dropout", 0.0, 1.0)
        check_range(self.val_fraction, "val_fraction", 0.0, 1.0)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        if self.momentum and self.optimizer not in ("sgd", "rmsprop"):
            raise ValueError(f"momentum applies to sgd and rmsprop, not {self.optimizer}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        check_dtype(self.dtype)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict; unknown keys are an error naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**data).validate()
