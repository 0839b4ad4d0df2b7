"""CS231n's sanity checks before training, on the network a :class:`TrainConfig` describes.

Four checks, each a :class:`Check` with the measured figure, a verdict and what it means:

* **initial loss**: at initialisation the loss should be that of a network that knows nothing,
  ``ln(C)`` for softmax cross-entropy over ``C`` classes (all logits equal);
* **overfit a tiny set**: with regularisation off, the network reaches 100% training accuracy
  on a few images within a bounded number of epochs;
* **gradient check**: CS231n's relative error ``|a - n| / max(|a| + |n|, 1e-8)`` between the
  analytic gradient ``a`` and central differences ``n``, in float64, read against its bands
  (below 1e-7 good, up to 1e-4 acceptable where the function has kinks, above 1e-2 wrong);
* **weight decay raises the loss**: the same tiny-set training with weight decay on ends with a
  higher training loss (the penalty pulls the weights away from the best fit), so the
  optimiser really applies it.

The networks are built by :func:`bareprop.train.run.build`, so they are the ones
``bareprop train`` would train with the same options. NumPy only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bareprop.check.relative_error import ACCEPTABLE, GOOD, WRONG, band, relative_errors
from bareprop.check.tiny_training import predict_raw, train_tiny
from bareprop.data.mnist import shaped_for
from bareprop.nn import Sigmoid
from bareprop.nn.losses import Loss, SoftmaxCrossEntropy
from bareprop.nn.sequential import Sequential
from bareprop.optim import Optimizer
from bareprop.train.config import TrainConfig
from bareprop.train.run import build, seeded_rngs

INITIAL_LOSS_TOLERANCE = 0.2  # |loss / expected - 1| that still passes
DEFAULT_WEIGHT_DECAY = 0.1  # used by the weight-decay check when the config has none

Tamper = Callable[[Sequential], object]  # plants a bug in a freshly built model (self-tests)


@dataclass
class Check:
    """One sanity check: its name, the measured figure, whether it passed, and why it matters."""

    name: str
    measured: str
    passed: bool
    verdict: str
    meaning: str


def _build(
    config: TrainConfig, image_shape: tuple[int, ...], n_classes: int, tamper: Tamper | None
) -> tuple[Sequential, Loss, Optimizer]:
    model, loss, optimizer = build(
        config, (math.prod(image_shape),), n_classes, seeded_rngs(config.seed)
    )
    if tamper is not None:
        tamper(model)
    return model, loss, optimizer


def initial_loss(model: Sequential, loss: Loss, x: np.ndarray, y: np.ndarray, init: str) -> Check:
    """The loss at initialisation against that of outputs that say nothing.

    Softmax cross-entropy of equal logits is ``ln(C)`` per sample; for a sigmoid output with
    squared error, outputs of 0.5. A loss far above it means large initial logits: the softmax
    starts confident, and wrong on most samples.
    """
    out = predict_raw(model, x)
    measured = float(loss.forward(out, y))
    blank = np.full_like(out, 0.5 if isinstance(model.layers[-1], Sigmoid) else 0.0)
    expected = float(loss.forward(blank, y))
    c = out.shape[1]
    what = f"ln({c})" if isinstance(loss, SoftmaxCrossEntropy) else "outputs of 0.5"
    judged = isinstance(loss, SoftmaxCrossEntropy)
    passed = abs(measured / expected - 1) <= INITIAL_LOSS_TOLERANCE or not judged
    spread = float(np.std(out))
    meaning = f"{init}: outputs of std {spread:.2g} over {len(x)} images; " + (
        "a near-uniform softmax, a network that knows nothing yet, as it should be."
        if passed
        else "large initial logits, a confident and wrong start the first steps spend undoing "
        "(or a wrong loss or labels); start with smaller weights."
    )
    return Check(
        "initial loss",
        f"{measured:.4g} (expected {what} = {expected:.4g})",
        passed,
        ("pass" if passed else f"FAIL: off by more than {INITIAL_LOSS_TOLERANCE:.0%}")
        if judged
        else "info: judged for softmax cross-entropy only",
        meaning,
    )


def overfit(
    config: TrainConfig,
    x: np.ndarray,
    y: np.ndarray,
    image_shape: tuple[int, ...],
    n_classes: int,
    max_epochs: int,
    tamper: Tamper | None = None,
) -> tuple[Check, int]:
    """Regularisation off (no weight decay, no dropout): 100% training accuracy on ``x``
    within ``max_epochs``? Returns the check and the epochs it ran."""
    plain = dataclasses.replace(config, weight_decay=0.0, dropout=0.0)
    model, loss, optimizer = _build(plain, image_shape, n_classes, tamper)
    xs = shaped_for(model, x, image_shape)
    epochs, accuracy, last = train_tiny(
        model,
        loss,
        optimizer,
        xs,
        y,
        epochs=max_epochs,
        batch_size=min(config.batch_size, len(x)),
        seed=config.seed,
    )
    passed = accuracy == 1.0
    measured = f"{accuracy:.0%} train accuracy after {epochs} epochs (loss {last:.3g})"
    meaning = (
        f"regularisation off, {config.optimizer} lr {config.lr:g}; a network that cannot "
        f"memorise {len(x)} images has a bug or a learning rate far off."
    )
    verdict = "pass" if passed else f"FAIL: not 100% within {max_epochs} epochs"
    return Check(f"overfit {len(x)} images", measured, passed, verdict, meaning), epochs


def weight_decay_raises_loss(
    config: TrainConfig,
    x: np.ndarray,
    y: np.ndarray,
    image_shape: tuple[int, ...],
    n_classes: int,
    epochs: int,
    tamper: Tamper | None = None,
) -> Check:
    """The tiny-set training of :func:`overfit` for ``epochs``, without and with weight decay,
    from the same weights: the training loss must end higher with it."""
    decay = config.weight_decay or DEFAULT_WEIGHT_DECAY
    losses = []
    for wd in (0.0, decay):
        run = dataclasses.replace(config, weight_decay=wd, dropout=0.0)
        model, loss, optimizer = _build(run, image_shape, n_classes, tamper)
        xs = shaped_for(model, x, image_shape)
        losses.append(
            train_tiny(
                model,
                loss,
                optimizer,
                xs,
                y,
                epochs=epochs,
                batch_size=min(config.batch_size, len(x)),
                seed=config.seed,
                stop_at_100=False,
            )[2]
        )
    passed = losses[1] > losses[0]
    kind = "decoupled" if config.optimizer == "adamw" else "L2"
    return Check(
        "weight decay raises the loss",
        f"{losses[0]:.4g} without, {losses[1]:.4g} with weight decay {decay:g}",
        passed,
        "pass" if passed else "FAIL: the loss did not go up",
        f"training loss after {epochs} epochs, same images, same start; decay ({kind}) pulls "
        "the weights from the best fit. No rise: the optimiser ignores it (or the initial "
        "weights are too large).",
    )


def gradient_check(
    model: Sequential, loss: Loss, x: np.ndarray, y: np.ndarray, *, probes: int, seed: int
) -> Check:
    """CS231n's relative error, worst over every array, read against its bands."""
    errors = relative_errors(model, loss, x, y, probes=probes, rng=np.random.default_rng(seed))
    name, (worst, _, _) = max(errors.items(), key=lambda kv: kv[1][0])
    used = sum(u for _, u, _ in errors.values())
    skipped = sum(k for _, _, k in errors.values())
    passed = worst <= ACCEPTABLE and used > 0
    bad = [n for n, (r, _, _) in errors.items() if r > ACCEPTABLE]
    verdict = "pass" if passed else f"FAIL: {band(worst)} in {', '.join(bad) or 'no entry'}"
    return Check(
        "gradient check",
        f"max rel. error {worst:.1e} ({band(worst)}), in {name}",
        passed,
        verdict,
        f"|a-n| / max(|a|+|n|, 1e-8), float64, {len(x)} images, {used} entries of "
        f"{len(errors)} arrays ({skipped} skipped: a kink, or below rounding); < 1e-7 good, "
        "<= 1e-4 ok with kinks (ReLU, max-pool), > 1e-2 wrong.",
    )


def run_sanity(
    config: TrainConfig,
    images: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    overfit_samples: int = 50,
    max_epochs: int = 200,
    probes: int = 20,
    grad_samples: int = 4,
    tamper: Tamper | None = None,
) -> list[Check]:
    """The four checks on training images ``(N, rows, cols)`` (uint8 or in [0, 1]).

    Args:
        config: the network and its training options.
        images, labels: training images and int labels; the first ``overfit_samples`` are the
            tiny set, the first 500 (at least) measure the initial loss, the first
            ``grad_samples`` feed the gradient check, plus uniform noise of 1e-3: it breaks
            MNIST's exact zeros, and so the ties of max-pooling over blank regions (kinks).
        n_classes: classes of the output.
        tamper: plants a bug in every model built (a self-test).
    """
    from bareprop.data.mnist import preprocess

    image_shape = tuple(images.shape[1:])
    n = max(500, overfit_samples)
    x = preprocess(images[:n], np.dtype(config.dtype))
    y = labels[:n].astype(np.int64)
    model, loss, _ = _build(config, image_shape, n_classes, tamper)
    checks = [initial_loss(model, loss, shaped_for(model, x, image_shape), y, config.init)]
    fit_check, epochs = overfit(
        config, x[:overfit_samples], y[:overfit_samples], image_shape, n_classes, max_epochs, tamper
    )
    checks.append(fit_check)
    noise = np.random.default_rng(config.seed).uniform(0, 1e-3, x[:grad_samples].shape)
    xg = shaped_for(model, x[:grad_samples] + noise, image_shape)
    checks.append(
        gradient_check(model, loss, xg, y[:grad_samples], probes=probes, seed=config.seed)
    )
    checks.append(
        weight_decay_raises_loss(
            config, x[:overfit_samples], y[:overfit_samples], image_shape, n_classes, epochs, tamper
        )
    )
    return checks


__all__ = [
    "ACCEPTABLE",
    "GOOD",
    "WRONG",
    "Check",
    "band",
    "gradient_check",
    "initial_loss",
    "overfit",
    "relative_errors",
    "run_sanity",
    "weight_decay_raises_loss",
]
