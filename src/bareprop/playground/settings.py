"""What the playground's controls set, checked as the page sends it.

Values arrive from a web page, as numbers or as the text of an input; :func:`apply_changes`
turns them into a checked :class:`Settings` or raises ``ValueError`` naming the control and
the value received, which the page shows as it is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bareprop.data.toy import TOY_SETS
from bareprop.nn import ACTIVATIONS
from bareprop.nn.init import INITIALIZERS
from bareprop.optim import OPTIMIZERS
from bareprop.validation import check_positive, check_range

DATASETS = [*TOY_SETS, "mnist"]
LIVE = frozenset({"lr", "batch_size", "weight_decay"})  # applied to the running training
MAX_LAYERS, MAX_WIDTH, MAX_BATCH, MAX_LR = 6, 1024, 4096, 10.0
CHOICES = {
    "dataset": DATASETS,
    "activation": list(ACTIVATIONS),
    "init": [name for name in INITIALIZERS if name != "normal"],  # normal needs its own std
    "optimizer": list(OPTIMIZERS),
}


@dataclass
class Settings:
    """Every control of the page. Changing one outside :data:`LIVE` rebuilds the network."""

    dataset: str = "spiral"
    noise: float = 0.05  # 2-D sets: std of the noise on each coordinate
    samples: int = 400  # 2-D sets: train and test together
    test_fraction: float = 0.3
    hidden: list[int] = field(default_factory=lambda: [16, 16])
    activation: str = "relu"
    init: str = "he_uniform"
    optimizer: str = "adam"
    lr: float = 0.01
    batch_size: int = 16
    weight_decay: float = 0.0
    dropout: float = 0.0
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# What a switch between the 2-D sets and MNIST brings along, unless the same change sets it.
PRESETS: dict[str, dict[str, Any]] = {
    "2d": {"hidden": [16, 16], "lr": 0.01, "batch_size": 16, "activation": "relu",
           "init": "he_uniform"},
    "mnist": {"hidden": [64], "lr": 0.002, "batch_size": 64, "activation": "relu",
              "init": "he_uniform"},
}  # fmt: skip


def family(dataset: str) -> str:
    return "mnist" if dataset == "mnist" else "2d"


def _number(value: Any, name: str, *, integer: bool = False) -> float | int:
    """A JSON number or the text of an input, as an int or a float; else a ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if integer and text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        return int(value)
    return float(value)


def _hidden(value: Any) -> list[int]:
    """``"16 8"``, ``"16,8"`` or ``[16, 8]`` -> ``[16, 8]``."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list) or not value:
        raise ValueError(
            "hidden layers: list at least one layer width (e.g. 16 16), got an empty list"
        )
    if len(value) > MAX_LAYERS:
        raise ValueError(f"hidden layers: at most {MAX_LAYERS} layers, got {len(value)}")
    sizes = [_number(v, "hidden layer width", integer=True) for v in value]
    for size in sizes:
        if not 1 <= size <= MAX_WIDTH:
            raise ValueError(f"hidden layer width must be in [1, {MAX_WIDTH}], got {size}")
    return [int(s) for s in sizes]


def _check(s: Settings) -> None:
    """Raise ``ValueError`` naming the first control whose value is out of range."""
    for name, allowed in CHOICES.items():
        if getattr(s, name) not in allowed:
            raise ValueError(
                f"{name} must be one of {', '.join(allowed)}; got {getattr(s, name)!r}"
            )
    check_positive(s.lr, "lr")
    if s.lr > MAX_LR:
        raise ValueError(f"lr must be at most {MAX_LR:g}, got {s.lr!r}")
    check_positive(s.batch_size, "batch_size", integer=True)
    if s.batch_size > MAX_BATCH:
        raise ValueError(f"batch_size must be at most {MAX_BATCH}, got {s.batch_size}")
    check_range(s.weight_decay, "weight_decay", 0.0, 1.0, high_open=False)
    check_range(s.dropout, "dropout", 0.0, 0.95, high_open=False)
    check_range(s.noise, "noise", 0.0, 1.0, high_open=False)
    check_range(s.test_fraction, "test_fraction", 0.1, 0.9, high_open=False)
    if not 20 <= s.samples <= 5000:
        raise ValueError(f"samples must be in [20, 5000], got {s.samples}")
    if not 0 <= s.seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {s.seed}")


def apply_changes(current: Settings, changes: Any) -> tuple[Settings, bool]:
    """``current`` with ``changes`` (a dict from the page) applied and checked.

    Returns:
        ``(settings, rebuild)``: the new settings, and whether the network must be rebuilt
        (a change outside :data:`LIVE`).

    Raises:
        ValueError: an unknown control or a value out of range, naming it; ``current`` is kept.
    """
    if not isinstance(changes, dict):
        raise ValueError(f"settings must be a JSON object, got {type(changes).__name__}")
    known = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = sorted(set(changes) - set(known))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}")
    new = current.to_dict()
    dataset = changes.get("dataset", current.dataset)
    if dataset in DATASETS and family(dataset) != family(current.dataset):
        new.update(PRESETS[family(dataset)])
    for name, value in changes.items():
        if name == "hidden":
            new[name] = _hidden(value)
        elif known[name].type in ("int", "float"):
            new[name] = _number(value, name, integer=known[name].type == "int")
        else:
            new[name] = value
    settings = Settings(**new)
    _check(settings)
    rebuild = any(
        getattr(settings, name) != getattr(current, name) for name in known if name not in LIVE
    )
    return settings, rebuild
