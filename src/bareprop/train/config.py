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


@dataclass
class TrainConfig:
    """A training run on an MNIST-like data set. Defaults are ``bareprop train``'s recipe."""

    hidden: list[int] = field(default_factory=lambda: [512, 256])
    activation: str = "relu"
    loss: str = "cross-entropy"
    reduction: str = "mean"
    init: str = "he_uniform"
    init_std: float = 0.01
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    dropout: float = 0.0
    lr_schedule: str = "cosine"
    batch_size: int = 128
    epochs: int = 5
    val_fraction: float = 0.1
    seed: int = 0
    dtype: str = "float32"
    data_dir: str | None = None

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` naming the first option whose value makes no sense."""
        choices: dict[str, Iterable[str]] = {
            "activation": ACTIVATIONS,
            "loss": LOSSES,
            "reduction": REDUCTIONS,
            "init": INITIALIZERS,
            "optimizer": OPTIMIZERS,
            "lr_schedule": SCHEDULES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}"
                )
        if not isinstance(self.hidden, list) or not self.hidden:
            raise ValueError(f"hidden must list at least one layer size, got {self.hidden!r}")
        for size in self.hidden:
            check_positive(size, "hidden layer size", integer=True)
        check_positive(self.lr, "lr")
        check_positive(self.init_std, "init_std")
        check_positive(self.batch_size, "batch_size", integer=True)
        check_positive(self.epochs, "epochs", integer=True)
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
