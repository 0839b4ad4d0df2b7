"""``init-study`` and ``bn-study``: how the initial weight scale shapes what flows through a
deep network, and how batch norm takes that dependence away (DLFS chapter 6)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.lab.study_common import Setting, Study, accuracy, table_md, train_steps
from bareprop.nn import ACTIVATIONS, BatchNorm1d, Layer, Linear, ReLU
from bareprop.nn.init import get_initializer
from bareprop.nn.losses import SoftmaxCrossEntropy
from bareprop.nn.models import build_mlp
from bareprop.nn.sequential import Sequential
from bareprop.optim import SGD

ACTS = ("sigmoid", "tanh", "relu")
INITS: dict[str, Any] = {
    "std 0.01": get_initializer("normal", std=0.01),
    "Xavier": "glorot_normal",  # std sqrt(2 / (fan_in + fan_out))
    "He": "he_normal",  # std sqrt(2 / fan_in)
}
RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 1.0)}  # DLFS's ranges
BINS = 30
HIDDEN = [100] * 5


def hidden_activations(model: Sequential, x: np.ndarray) -> list[np.ndarray]:
    """The output of every activation layer, in eval mode: ``(N, units)`` per hidden layer."""
    kinds = tuple(ACTIVATIONS.values())
    outs, h = [], x
    model.eval()
    for layer in model.flat():
        h = layer.forward(h)
        if isinstance(layer, kinds):
            outs.append(h)
    model.train()
    return outs


def histograms(acts: list[np.ndarray], activation: str) -> list[list[float]]:
    """Per layer, the share of values in each of :data:`BINS` bins over the activation's range
    (values outside it, a ReLU's above 1, are counted in the edge bins)."""
    low, high = RANGES[activation]
    return [
        (np.histogram(np.clip(a, low, high), BINS, (low, high))[0] / a.size).tolist() for a in acts
    ]


def _init_run(setting: Setting, act: str, init_name: str, epochs: int, probe: np.ndarray) -> Any:
    x_train, x_test = setting.data.scaled()
    rng = np.random.default_rng(setting.seed)
    model = build_mlp(784, HIDDEN, 10, activation=act, init=INITS[init_name], rng=rng)
    before = hidden_activations(model, probe)
    after: list[np.ndarray] = []

    def on_epoch(epoch: int) -> None:
        if epoch == 1:
            after.extend(hidden_activations(model, probe))

    history = train_steps(
        model,
        SoftmaxCrossEntropy(),
        SGD(model.parameters(), lr=0.01),
        x_train,
        setting.data.y_train,
        epochs=epochs,
        batch_size=128,
        rng=rng,
        on_epoch=on_epoch,
    )
    history["hist_init"] = histograms(before, act)  # type: ignore[assignment]
    history["hist_epoch1"] = histograms(after, act)  # type: ignore[assignment]
    row = {
        "config": f"{act} / {init_name}",
        "activation": act,
        "init": init_name,
        "layer1_std_init": float(before[0].std()),
        "layer5_std_init": float(before[-1].std()),
        "layer5_std_epoch1": float(after[-1].std()),
        "final_loss": float(np.mean(history["step_loss"][-50:])),
        "test_accuracy": accuracy(model, x_test, setting.data.y_test),
        "seconds_total": float(sum(history["seconds"])),
    }
    return row, history


def init_study(setting: Setting) -> Study:
    """A 784-100x5-10 network under sigmoid, tanh and ReLU with std 0.01, Xavier and He
    normal initialisation: per-layer activation histograms at init and after one epoch, then
    the training loss of every step (SGD lr 0.01, batches of 128)."""
    from bareprop.lab import studies_plots as plots

    epochs = 1 if setting.quick else 5
    x_probe = setting.data.scaled()[0][: 200 if setting.quick else 1000]
    rows, histories = [], {}
    for act in ACTS:
        for init_name in INITS:
            row, history = _init_run(setting, act, init_name, epochs, x_probe)
            rows.append(row)
            histories[row["config"]] = history
    figures = {}
    if setting.plots:
        figures = plots.init_figures(rows, histories, RANGES, setting.out)
    return Study(
        "Study: weight initialisation and activations",
        rows,
        histories,
        figures,
        _init_text(rows, epochs, len(x_probe)),
    )


def _init_text(rows: list[dict[str, Any]], epochs: int, n_probe: int) -> str:
    by = {(r["activation"], r["init"]): r for r in rows}
    std5 = {k: r["layer5_std_init"] for k, r in by.items()}
    acc = {k: 100 * r["test_accuracy"] for k, r in by.items()}
    columns = [
        "config",
        "layer1_std_init",
        "layer5_std_init",
        "layer5_std_epoch1",
        "final_loss",
        "test_accuracy",
    ]
    return f"""## What the figures show

**Activation histograms** (`activations_init.png`, `activations_epoch1.png`): one row per
pairing of activation and initialisation, one column per hidden layer of 784-100-100-100-100-100-10,
the share of the {n_probe} training images' activations in each bin. With std 0.01 the signal
shrinks layer after layer: under tanh the 5th layer's activations have std
{std5[("tanh", "std 0.01")]:.2g} and under ReLU {std5[("relu", "std 0.01")]:.2g}, where Xavier
gives {std5[("tanh", "Xavier")]:.2g} (tanh) and He {std5[("relu", "He")]:.2g} (ReLU); under
sigmoid std 0.01 piles every unit at 0.5 (std {std5[("sigmoid", "std 0.01")]:.2g}): all units
say the same thing. Xavier keeps tanh's and sigmoid's spread through the depth; He keeps
ReLU's, where Xavier lets it fade (5th layer std {std5[("relu", "Xavier")]:.2g}).

**Training curves** (`init_curves.png`): the loss of every step (averaged over 20 steps), SGD
lr 0.01, {epochs} epoch(s). Test accuracy at the end: ReLU {acc[("relu", "std 0.01")]:.1f}% with
std 0.01, {acc[("relu", "Xavier")]:.1f}% with Xavier, {acc[("relu", "He")]:.1f}% with He; tanh
{acc[("tanh", "std 0.01")]:.1f}% / {acc[("tanh", "Xavier")]:.1f}% / {acc[("tanh", "He")]:.1f}%;
sigmoid {acc[("sigmoid", "std 0.01")]:.1f}% / {acc[("sigmoid", "Xavier")]:.1f}% /
{acc[("sigmoid", "He")]:.1f}%.{_sigmoid_note(acc, epochs)}

**What to take from it.** Backprop multiplies by the weights on the way back as the forward
pass does on the way in: activations that shrink to nothing mean gradients that shrink to
nothing, and a deep network with std-0.01 weights does not learn (its loss stays at ln 10 =
2.30). Scale the initial weights to the layer's fan-in: Xavier (variance 1/n) for
sigmoid and tanh, He (2/n, since ReLU zeroes half its inputs) for ReLU.

{table_md(rows, columns)}
"""


def _sigmoid_note(acc: dict[tuple[str, str], float], epochs: int) -> str:
    if max(v for (act, _), v in acc.items() if act == "sigmoid") >= 20:
        return ""
    return (
        f" Under sigmoid none of the three learns within {epochs} epoch(s) at this rate: "
        "sigmoid's slope is at most 1/4, so every layer shrinks the gradient at least fourfold "
        "on its way back, whatever the initialisation; tanh and ReLU pass it on with slope up "
        "to 1."
    )


def bn_model(scale: float, batch_norm: bool, rng: np.random.Generator) -> Sequential:
    """784-100x5-10 ReLU with weights of std ``scale``; ``BatchNorm1d`` after each hidden
    Linear when ``batch_norm``."""
    init = get_initializer("normal", std=scale)
    layers: list[Layer] = []
    for fan_in in [784, *HIDDEN[:-1]]:
        layers.append(Linear(fan_in, 100, init=init, rng=rng))
        layers += [BatchNorm1d(100), ReLU()] if batch_norm else [ReLU()]
    layers.append(Linear(100, 10, init=init, rng=rng))
    return Sequential(layers)


def bn_study(setting: Setting) -> Study:
    """Training accuracy per epoch with and without batch norm, for initial weight stds from
    1 to 1e-4 (DLFS: 1000 training images, SGD lr 0.01, batches of 100, 20 epochs)."""
    from bareprop.lab import studies_plots as plots

    scales = [1.0, 0.01] if setting.quick else [float(s) for s in np.logspace(0, -4, 9)]
    n, epochs = (200, 2) if setting.quick else (1000, 20)
    x_train, x_test = setting.data.scaled()
    x, y = x_train[:n], setting.data.y_train[:n]
    rows, histories = [], {}
    for scale in scales:
        for batch_norm in (False, True):
            rng = np.random.default_rng(setting.seed)
            model = bn_model(scale, batch_norm, rng)
            train_acc: list[float] = []

            def on_epoch(_: int, m: Sequential = model, acc: list[float] = train_acc) -> None:
                acc.append(accuracy(m, x, y))

            # std-1 weights without batch norm overflow (DLFS's figure shows that too)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                history = train_steps(
                    model,
                    SoftmaxCrossEntropy(),
                    SGD(model.parameters(), lr=0.01),
                    x,
                    y,
                    epochs=epochs,
                    batch_size=100,
                    rng=rng,
                    on_epoch=on_epoch,
                )
                test_accuracy = accuracy(model, x_test, setting.data.y_test)
            history["train_accuracy"] = train_acc
            config = f"std {scale:.2g}, {'batch norm' if batch_norm else 'plain'}"
            histories[config] = history
            rows.append(
                {
                    "config": config,
                    "weight_std": scale,
                    "batch_norm": batch_norm,
                    "train_accuracy": train_acc[-1],
                    "test_accuracy": test_accuracy,
                }
            )
    figures = plots.bn_figure(rows, histories, setting.out) if setting.plots else {}
    return Study(
        "Study: batch normalisation across initial weight scales",
        rows,
        histories,
        figures,
        _bn_text(rows, n, epochs),
    )


def _bn_text(rows: list[dict[str, Any]], n: int, epochs: int) -> str:
    plain = {r["weight_std"]: r["train_accuracy"] for r in rows if not r["batch_norm"]}
    bn = {r["weight_std"]: r["train_accuracy"] for r in rows if r["batch_norm"]}
    wins = sum(bn[s] > plain[s] for s in plain)
    worst_plain, worst_bn = min(plain.values()), min(bn.values())
    return f"""## What the figure shows

`bn_curves.png`: one panel per initial weight std, the training accuracy after each epoch on
{n} training images (784-100x5-10 ReLU, SGD lr 0.01, batches of 100, {epochs} epochs), with
`BatchNorm1d` after each hidden Linear (solid) and without (dashed). With batch norm the
accuracy ends higher at {wins} of {len(plain)} scales; its worst final accuracy over all
scales is {100 * worst_bn:.1f}%, without it {100 * worst_plain:.1f}%.

**What to take from it.** Without batch norm, training works only in a narrow band of weight
scales: too large and the signal explodes, too small and it vanishes and nothing learns.
Batch norm rescales each layer's pre-activations to mean 0 and variance 1 on every batch, so
the scale of the weights before it stops mattering for the forward pass, and the gradient
flowing back is rescaled the same way: training works from a far wider range of scales.

{table_md(rows, ["config", "train_accuracy", "test_accuracy"])}
"""
