"""What :class:`~bareprop.sklearn.BarepropClassifier` builds from its parameters.

The parameter checks (run by ``fit``, never by ``__init__``, as scikit-learn requires), the
model by architecture name, the loss, the optimiser and the learning-rate schedule. Only
bareprop's public API is used here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

import bareprop as bp

OPTIMIZERS: dict[str, type[bp.Optimizer]] = {
    "sgd": bp.SGD,
    "adam": bp.Adam,
    "adamw": bp.AdamW,
    "rmsprop": bp.RMSprop,
}
LOSSES: dict[str, type[bp.Loss]] = {"cross-entropy": bp.SoftmaxCrossEntropy, "mse": bp.MSELoss}
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
SCHEDULES = ("constant", "linear", "cosine")

# A builder: (estimator, n_features, n_classes, rngs) -> Sequential whose output has one column
# per class. The hook for other models: register a conv net here under "conv" (it would read
# e.g. an ``image_shape`` parameter), or pass any such callable as ``architecture``.
Builder = Callable[[Any, int, int, dict[str, np.random.Generator]], bp.Sequential]


def build_mlp(
    est: Any, n_features: int, n_classes: int, rngs: dict[str, np.random.Generator]
) -> bp.Sequential:
    """``n_features -> hidden... -> n_classes``; a Sigmoid output for the ``mse`` loss."""
    return bp.build_mlp(
        n_features, hidden_sizes(est.hidden), n_classes,
        activation=est.activation, init=est.init, dropout=est.dropout,
        output_activation="sigmoid" if est.loss == "mse" else None,
        rng=rngs["init"], dropout_rng=rngs["dropout"], dtype=est.dtype,
    )  # fmt: skip


ARCHITECTURES: dict[str, Builder] = {"mlp": build_mlp}


def hidden_sizes(hidden: Any) -> list[int]:
    """``hidden`` as a list of layer sizes: an int is one layer, ``()`` none (a linear model)."""
    sizes = [hidden] if isinstance(hidden, Integral) else hidden
    if not isinstance(sizes, Sequence | np.ndarray) or isinstance(sizes, str):
        raise ValueError(f"hidden must be an int or a sequence of ints, got {hidden!r}")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, Integral) or size <= 0:
            raise ValueError(f"hidden must hold positive integers, got {hidden!r}")
    return [int(size) for size in sizes]


def _check_choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _check_number(name: str, value: Any, low: float, high: float, *, integer: bool = False) -> None:
    """``value`` in ``[low, high]``, an int if ``integer``; bools are refused."""
    kind = Integral if integer else Real
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= float(value) <= high:
        what = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {what} in [{low}, {high}], got {value!r}")


def check_params(est: Any) -> None:
    """Raise ``ValueError`` naming the first parameter of ``est`` whose value cannot be used."""
    hidden_sizes(est.hidden)
    _check_choice("activation", est.activation, ACTIVATIONS)
    _check_choice("loss", est.loss, tuple(LOSSES))
    _check_choice("optimizer", est.optimizer, tuple(OPTIMIZERS))
    _check_choice("lr_schedule", est.lr_schedule, SCHEDULES)
    if not (isinstance(est.init, str) or callable(est.init)):
        raise ValueError(f"init must be an initialiser name or a callable, got {est.init!r}")
    if isinstance(est.init, str):
        bp.get_initializer(est.init)  # names the known ones if unknown
    if not (callable(est.architecture) or est.architecture in ARCHITECTURES):
        raise ValueError(
            f"architecture must be one of {', '.join(ARCHITECTURES)} or a callable, "
            f"got {est.architecture!r}"
        )
    inf = float("inf")
    _check_number("lr", est.lr, 0.0, inf)
    if est.lr <= 0 or not np.isfinite(est.lr):
        raise ValueError(f"lr must be a positive number, got {est.lr!r}")
    _check_number("momentum", est.momentum, 0.0, 1.0)
    _check_number("weight_decay", est.weight_decay, 0.0, inf)
    _check_number("dropout", est.dropout, 0.0, 0.999)
    _check_number("batch_size", est.batch_size, 1, inf, integer=True)
    _check_number("max_iter", est.max_iter, 1, inf, integer=True)
    _check_number("n_iter_no_change", est.n_iter_no_change, 1, inf, integer=True)
    _check_number("tol", est.tol, 0.0, inf)
    _check_number("validation_fraction", est.validation_fraction, 0.0, 0.999)
    if est.early_stopping and est.validation_fraction <= 0:
        raise ValueError("early_stopping needs validation_fraction > 0, got 0")
    if est.nesterov and (est.optimizer != "sgd" or est.momentum == 0):
        raise ValueError("nesterov=True needs optimizer='sgd' and momentum > 0")
    if est.momentum and est.optimizer not in ("sgd", "rmsprop"):
        raise ValueError(f"momentum applies to sgd and rmsprop, not optimizer={est.optimizer!r}")
    if est.dtype not in ("float32", "float64", np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {est.dtype!r}")


def build_model(
    est: Any, n_features: int, n_classes: int, rngs: dict[str, np.random.Generator]
) -> bp.Sequential:
    """The network the estimator's ``architecture`` names, with fresh weights."""
    builder = est.architecture if callable(est.architecture) else ARCHITECTURES[est.architecture]
    model = builder(est, n_features, n_classes, rngs)
    if not isinstance(model, bp.Sequential):
        raise TypeError(f"architecture must build a bareprop Sequential, got {type(model)}")
    return model


def build_optimizer(est: Any, model: bp.Sequential) -> bp.Optimizer:
    """The optimiser ``est.optimizer`` names, over ``model.parameters()``."""
    kwargs: dict[str, Any] = {"lr": est.lr, "weight_decay": est.weight_decay}
    if est.optimizer == "sgd":
        kwargs.update(momentum=est.momentum, nesterov=est.nesterov)
    elif est.optimizer == "rmsprop":
        kwargs.update(momentum=est.momentum)
    return OPTIMIZERS[est.optimizer](model.parameters(), **kwargs)


def planned_schedule(name: str, total_steps: int) -> Callable[[int, int], float]:
    """A schedule over ``total_steps`` planned steps, whatever total one ``fit`` call sees.

    The estimator calls :func:`bareprop.fit` one epoch at a time, so the total steps of each
    call are not the run's: this fixes the run's total (``max_iter`` epochs). Past it (more
    ``partial_fit`` calls) the factor stays at its last value.
    """
    if name == "constant":
        return lambda step, _total: 1.0
    schedule = getattr(bp.schedules, name)
    floor = 1.0 / max(total_steps, 1)  # linear and cosine reach 0 at the end: keep lr > 0
    return lambda step, _total: max(schedule(min(step, total_steps), total_steps), floor)


def seeded_rngs(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for init, shuffling, dropout and the validation split."""
    names = ("init", "shuffle", "dropout", "split")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}
