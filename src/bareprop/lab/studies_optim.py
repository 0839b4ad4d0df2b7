"""``optimizer-study`` and ``regularization-study`` (DLFS chapter 6): how fast each optimiser
trains the same network, and how weight decay and dropout close the gap between training and
test accuracy on a tiny training set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bareprop.lab.study_common import Setting, Study, accuracy, table_md, train_steps
from bareprop.nn.losses import SoftmaxCrossEntropy
from bareprop.nn.models import build_mlp
from bareprop.optim import SGD, Adam, AdamW, Optimizer, RMSprop

OPTIMIZERS: dict[str, Callable[[Any, float], Optimizer]] = {
    "SGD": lambda p, lr: SGD(p, lr=lr),
    "momentum": lambda p, lr: SGD(p, lr=lr, momentum=0.9),
    "Nesterov": lambda p, lr: SGD(p, lr=lr, momentum=0.9, nesterov=True),
    "RMSprop": lambda p, lr: RMSprop(p, lr=lr),
    "Adam": lambda p, lr: Adam(p, lr=lr),
    "AdamW": lambda p, lr: AdamW(p, lr=lr, weight_decay=1e-2),
}
LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
TARGET = 0.97
OPT_HIDDEN = [100] * 4


def tune_lr(setting: Setting, name: str, lrs: list[float], n_tune: int) -> tuple[float, dict]:
    """The learning rate of ``lrs`` with the best validation accuracy after one epoch on the
    first ``n_tune * 4 // 5`` training images; validation: the next ``n_tune // 5`` (never the
    test set). Returns the rate and ``{lr: accuracy}``."""
    x_all, y_all = setting.data.scaled()[0][:n_tune], setting.data.y_train[:n_tune]
    n_fit = n_tune - n_tune // 5
    x_train, y_train, x_val, y_val = x_all[:n_fit], y_all[:n_fit], x_all[n_fit:], y_all[n_fit:]
    scores = {}
    for lr in lrs:
        rng = np.random.default_rng(setting.seed)
        model = build_mlp(784, OPT_HIDDEN, 10, activation="relu", init="he_normal", rng=rng)
        with np.errstate(over="ignore", invalid="ignore"):  # a rate too high may diverge
            train_steps(
                model,
                SoftmaxCrossEntropy(),
                OPTIMIZERS[name](model.parameters(), lr),
                x_train,
                y_train,
                epochs=1,
                batch_size=128,
                rng=rng,
            )
            scores[lr] = accuracy(model, x_val, y_val)
    best = max(lrs, key=lambda lr: (scores[lr], -lr))  # a tie goes to the smaller rate
    return best, scores


def optimizer_study(setting: Setting) -> Study:
    """784-100x4-10 ReLU (He normal), batches of 128, each optimiser at its tuned rate; the
    loss of every step and the test accuracy every ``every`` steps, with training seconds."""
    from bareprop.lab import studies_plots as plots

    quick = setting.quick
    lrs, epochs, every = ([1e-3, 1e-2, 1e-1], 1, 5) if quick else (LRS, 10, 50)
    n_tune = min(10000, len(setting.data.x_train))
    x_train, x_test = setting.data.scaled()
    rows, histories = [], {}
    for name in OPTIMIZERS:
        lr, scores = tune_lr(setting, name, lrs, n_tune)
        rng = np.random.default_rng(setting.seed)
        model = build_mlp(784, OPT_HIDDEN, 10, activation="relu", init="he_normal", rng=rng)
        points: list[tuple[int, float, float]] = []

        def on_eval(step: int, seconds: float, m: Any = model, p: list = points) -> None:
            p.append((step, seconds, accuracy(m, x_test, setting.data.y_test)))

        history: dict[str, Any] = train_steps(
            model,
            SoftmaxCrossEntropy(),
            OPTIMIZERS[name](model.parameters(), lr),
            x_train,
            setting.data.y_train,
            epochs=epochs,
            batch_size=128,
            rng=rng,
            every=every,
            on_eval=on_eval,
        )
        history["evals"] = points
        history["tuning"] = {str(k): v for k, v in scores.items()}
        histories[name] = history
        reached = [s for _, s, a in points if a >= TARGET]
        rows.append(
            {
                "config": name,
                "lr": lr,
                "tuning_val_accuracy": scores[lr],
                "rates_within_2_points": sum(v >= scores[lr] - 0.02 for v in scores.values()),
                "test_accuracy": accuracy(model, x_test, setting.data.y_test),
                "seconds_to_97": reached[0] if reached else None,
                "seconds_total": float(sum(history["seconds"])),
            }
        )
    figures = plots.optimizer_figure(histories, setting.out) if setting.plots else {}
    return Study(
        "Study: optimisers on MNIST",
        rows,
        histories,
        figures,
        _optimizer_text(rows, lrs, n_tune, epochs, every),
    )


def _optimizer_text(
    rows: list[dict], lrs: list[float], n_tune: int, epochs: int, every: int
) -> str:
    fastest = min(
        (r for r in rows if r["seconds_to_97"] is not None),
        key=lambda r: r["seconds_to_97"],
        default=None,
    )
    sgd = next(r for r in rows if r["config"] == "SGD")
    lead = (
        f"{fastest['config']} reaches {100 * TARGET:.0f}% test accuracy first, after "
        f"{fastest['seconds_to_97']:.1f} s of training; plain SGD "
        + (
            f"after {sgd['seconds_to_97']:.1f} s."
            if sgd["seconds_to_97"] is not None
            else f"never does in {epochs} epoch(s) ({100 * sgd['test_accuracy']:.1f}% at the end)."
        )
        if fastest is not None
        else f"No optimiser reaches {100 * TARGET:.0f}% in this run."
    )
    return f"""## How the learning rates were tuned

For each optimiser, one epoch on the first {n_tune - n_tune // 5} training images at each rate
of {", ".join(f"{lr:g}" for lr in lrs)}, from the same initial weights; the rate with the best
accuracy on the next {n_tune // 5} training images (held out from that epoch; never the test
set) is the one used. Momentum 0.9 for momentum and Nesterov; AdamW decays weights by 1e-2.
*rates_within_2_points*: how many of the rates tried came within 2 points of the best
validation accuracy, a measure of how forgiving the optimiser is about its rate.

## What the figure shows

`optimizer_curves.png`: the training loss of every step (averaged over 20 steps) of
784-100-100-100-100-10 (ReLU, He normal init, batches of 128, {epochs} epoch(s) of all
training images), one curve per optimiser at its tuned rate; right, the test accuracy
measured every {every} steps against the seconds of training. {lead}

**What to take from it.** Plain SGD moves each weight by the same multiple of its gradient,
so it crawls along shallow directions; momentum accumulates a velocity along them, Nesterov
takes the gradient where that velocity is heading, and RMSprop, Adam and AdamW divide each
step by a running size of that weight's gradient, so every weight moves at a similar pace.
Tuned, each one's rate is a different number: compare optimisers only at their own tuned rates
(every rate's validation accuracy is under `tuning` in `histories.json`).

{
        table_md(
            rows,
            [
                "config",
                "lr",
                "tuning_val_accuracy",
                "rates_within_2_points",
                "test_accuracy",
                "seconds_to_97",
            ],
        )
    }

*seconds_to_97*: cumulative training seconds (excluding the test evaluations) at the first
evaluation with test accuracy of at least {100 * TARGET:.0f}%; "—": never reached.
"""


REGULARISERS: dict[str, dict[str, float]] = {
    "none": {},
    "weight decay 0.1": {"weight_decay": 0.1},
    "dropout 0.2": {"dropout": 0.2},
}


def regularization_study(setting: Setting) -> Study:
    """300 training images, 784-100x6-10 ReLU (He normal), SGD lr 0.01, batches of 100: no
    regularisation, weight decay 0.1 and dropout 0.2; train and test accuracy every epoch."""
    from bareprop.lab import studies_plots as plots

    n, epochs = (100, 5) if setting.quick else (300, 200)
    x_train, x_test = setting.data.scaled()
    x, y = x_train[:n], setting.data.y_train[:n]
    rows, histories = [], {}
    for name, options in REGULARISERS.items():
        rng = np.random.default_rng(setting.seed)
        model = build_mlp(
            784,
            [100] * 6,
            10,
            activation="relu",
            init="he_normal",
            dropout=options.get("dropout", 0.0),
            rng=rng,
        )
        optimizer = SGD(model.parameters(), lr=0.01, weight_decay=options.get("weight_decay", 0))
        train_acc: list[float] = []
        test_acc: list[float] = []

        def on_epoch(_: int, m: Any = model, tr: list = train_acc, te: list = test_acc) -> None:
            tr.append(accuracy(m, x, y))
            te.append(accuracy(m, x_test, setting.data.y_test))

        history: dict[str, Any] = train_steps(
            model,
            SoftmaxCrossEntropy(),
            optimizer,
            x,
            y,
            epochs=epochs,
            batch_size=100,
            rng=rng,
            on_epoch=on_epoch,
        )
        history.update(train_accuracy=train_acc, test_accuracy=test_acc)
        histories[name] = history
        rows.append(
            {
                "config": name,
                "train_accuracy": train_acc[-1],
                "test_accuracy": test_acc[-1],
                "gap": train_acc[-1] - test_acc[-1],
                "best_test_accuracy": max(test_acc),
            }
        )
    figures = plots.regularization_figure(histories, setting.out) if setting.plots else {}
    return Study(
        "Study: overfitting 300 images, weight decay and dropout",
        rows,
        histories,
        figures,
        _regularization_text(rows, n, epochs),
    )


def _test_note(none: dict, wd: dict, do: dict) -> str:
    worse = [r["config"] for r in (wd, do) if r["test_accuracy"] < none["test_accuracy"]]
    if not worse:
        return ""
    return (
        f" In this run {' and '.join(worse)} also ended with a lower test accuracy than no "
        "regularisation: at this learning rate and number of epochs they slow the learning as "
        "much as the memorising. A narrower gap is not by itself a better model; the strength "
        "(and the epochs) must be tuned on held-out data."
    )


def _regularization_text(rows: list[dict], n: int, epochs: int) -> str:
    by = {r["config"]: r for r in rows}
    none, wd, do = by["none"], by["weight decay 0.1"], by["dropout 0.2"]
    return f"""## What the figure shows

`regularization_curves.png`: one panel per setting, the accuracy on the {n} training images
(solid) and on the test images (dashed) after each of {epochs} epochs; 784-100x6-10 (ReLU, He
normal init), SGD lr 0.01, batches of 100. Without regularisation the network ends at
{100 * none["train_accuracy"]:.1f}% on its training images and {100 * none["test_accuracy"]:.1f}%
on the test images, a gap of {100 * none["gap"]:.1f} points; with weight decay 0.1 the gap is
{100 * wd["gap"]:.1f} points ({100 * wd["test_accuracy"]:.1f}% test), with dropout 0.2
{100 * do["gap"]:.1f} points ({100 * do["test_accuracy"]:.1f}% test).

**What to take from it.** A large network memorises a small training set: the training accuracy
climbs to 100% while the test accuracy stalls far below, and the gap is what overfitting looks
like. Weight decay (an L2 penalty, here added to every gradient as `0.1 * W`) keeps the weights
small and dropout (each hidden unit silenced with probability 0.2 at each step) keeps units from
relying on each other; both slow the memorising and narrow the gap. Neither adds information:
with 300 images the test accuracy stays far from what 60,000 give.{_test_note(none, wd, do)}

{table_md(rows, ["config", "train_accuracy", "test_accuracy", "gap", "best_test_accuracy"])}
"""
