"""The five source notebooks, re-implemented with their own semantics on bareprop's layers.

Each ``train_nbXXX`` follows what its notebook really computes (see
``shared/notebooks/NOTES.md``), quirks included, so that its test accuracy can be set beside
the figure the notebook reported. They share bareprop's :class:`Linear`, activations, losses
and :class:`SGD`; where a notebook's rule is not a standard one (a bias update averaged while
the weight update is summed, deltas clipped at every layer, a one-scalar "adam") the loop
says so in a comment. Randomness comes from the ``rng`` argument only.

Every trainer returns a :class:`Trained`: the model, a per-epoch history (``loss``,
``test_accuracy``, ``seconds`` of training, excluding the test evaluation) and the final test
accuracy. ``on_epoch(epoch, logs)`` is called after each epoch.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bareprop.initializers import get_initializer
from bareprop.layers import ACTIVATIONS, Layer, Linear, Parameter, ReLU, Sigmoid
from bareprop.losses import MSELoss, SoftmaxCrossEntropy
from bareprop.model import Sequential
from bareprop.optimizers import SGD, Optimizer
from bareprop.training import predict

EpochHook = Callable[[int, dict[str, float]], None] | None


@dataclass
class Images:
    """MNIST as the notebooks load it: flattened uint8 pixels ``(N, 784)`` and int labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @classmethod
    def load(cls, data_dir: str | None = None, limit: int | None = None) -> Images:
        """The bundled MNIST (or ``data_dir``); ``limit`` keeps the first N train/test images."""
        from bareprop.datasets import load_mnist

        (xtr, ytr), (xte, yte) = load_mnist(data_dir)
        n_tr = len(xtr) if limit is None else min(limit, len(xtr))
        n_te = len(xte) if limit is None else min(limit, len(xte))
        flat = [a.reshape(len(a), -1) for a in (xtr[:n_tr], xte[:n_te])]
        return cls(flat[0], ytr[:n_tr].astype(np.int64), flat[1], yte[:n_te].astype(np.int64))

    def scaled(self, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Train and test pixels divided by 255, as most notebooks do."""
        return (self.x_train / 255.0).astype(dtype), (self.x_test / 255.0).astype(dtype)


@dataclass
class Trained:
    model: Sequential
    history: dict[str, list[float]]
    test_accuracy: float
    transform: Callable[[np.ndarray], np.ndarray] = field(default=lambda x: x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Classes for inputs prepared as this notebook prepares them."""
        return predict(self.model, self.transform(x))


class _Recorder:
    """Per-epoch history: training loss, test accuracy, seconds spent training."""

    def __init__(
        self, model: Sequential, x_test: np.ndarray, y_test: np.ndarray, hook: EpochHook
    ) -> None:
        self.model, self.x_test, self.y_test, self.hook = model, x_test, y_test, hook
        self.history: dict[str, list[float]] = {"loss": [], "test_accuracy": [], "seconds": []}
        self._t0 = time.perf_counter()

    def test_accuracy(self) -> float:
        # predict runs in eval mode (dropout off) whatever mode training left the model in
        return float(np.mean(predict(self.model, self.x_test) == self.y_test))

    def end_epoch(self, loss: float, **extra: float) -> None:
        seconds = time.perf_counter() - self._t0
        logs = {"loss": loss, "test_accuracy": self.test_accuracy(), "seconds": seconds, **extra}
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        if self.hook is not None:
            self.hook(len(self.history["loss"]) - 1, logs)
        self._t0 = time.perf_counter()

    def done(self) -> Trained:
        return Trained(self.model, self.history, self.history["test_accuracy"][-1])


def _one_hot_mse_step(model: Sequential, loss: MSELoss, xb: np.ndarray, yb: np.ndarray) -> float:
    """Forward, squared-error loss summed over batch and outputs, backward; returns 0.5*sum."""
    value = loss.forward(model.forward(xb), yb)
    model.backward(loss.backward())
    return 0.5 * value


def train_nb000(
    data: Images,
    rng: np.random.Generator,
    *,
    epochs: int = 10,
    hidden: int = 16,
    lr: float = 0.1,
    batch_size: int = 16,
    on_epoch: EpochHook = None,
) -> Trained:
    """784-16-10 sigmoid net with the bias trick, squared error summed over the batch.

    A column of ones is appended to the input; the hidden weight matrix is ``(785, 17)``, so
    the hidden layer carries a 17th, trained unit and no layer has a separate bias. Init:
    ``randn(785, 17) / sqrt(784)`` and ``randn(17, 10)`` (std 1). Fixed batch order.
    """
    x_train, x_test = (np.c_[x, np.ones(len(x))] for x in data.scaled(np.float64))
    n_in = x_train.shape[1]
    model = Sequential(
        [
            Linear(
                n_in,
                hidden + 1,
                init=get_initializer("normal", std=1 / math.sqrt(n_in - 1)),
                rng=rng,
                dtype=np.float64,
            ),
            Sigmoid(),
            Linear(
                hidden + 1, 10, init=get_initializer("normal", std=1.0), rng=rng, dtype=np.float64
            ),
            Sigmoid(),
        ]
    )
    # The biases stay at zero and untrained: the ones column is the bias. MSELoss("sum") has
    # gradient 2 (p - t); the notebook's 0.5 * sum has (p - t), hence lr / 2.
    optimizer = SGD([lin.weight for lin in model.linears], lr=lr / 2)
    loss = MSELoss(reduction="sum")
    rec = _Recorder(model, x_test, data.y_test, on_epoch)
    for _ in range(epochs):
        total = 0.0
        for start in range(0, len(x_train), batch_size):  # no shuffling: the same order each epoch
            sl = slice(start, start + batch_size)
            total += _one_hot_mse_step(model, loss, x_train[sl], data.y_train[sl])
            optimizer.step()
        rec.end_epoch(total / len(x_train))
    result = rec.done()
    result.transform = lambda x: np.c_[x / 255.0, np.ones(len(x))]
    return result


def train_nb001(
    data: Images,
    rng: np.random.Generator,
    *,
    epochs: int = 30,
    lr: float = 3.0,
    batch_size: int = 16,
    on_epoch: EpochHook = None,
) -> Trained:
    """Nielsen-style 784-10 sigmoid net, quadratic cost, std-1 init of weights and biases.

    Weights move by ``lr / bs`` times the batch-summed gradient; biases by ``lr / bs`` times
    the batch-*averaged* gradient, so they learn ``bs`` times slower. The epoch order is the
    previous order shuffled by one fixed permutation (``shuffle(X, y, random_state=42)``
    applied to the already shuffled arrays), drawn here from ``rng``.
    """
    x_train, x_test = data.scaled(np.float64)
    model = Sequential(
        [
            Linear(784, 10, init=get_initializer("normal", std=1.0), rng=rng, dtype=np.float64),
            Sigmoid(),
        ]
    )
    lin = model.linears[0]
    lin.bias.data[...] = rng.standard_normal(lin.bias.shape)
    loss = MSELoss(reduction="sum")  # gradient 2 (a - y); the notebook's (a - y): factor 1/2 below
    w_opt = SGD([lin.weight], lr=lr / batch_size / 2)
    b_opt = SGD([lin.bias], lr=lr / batch_size / 2)
    permutation = rng.permutation(len(x_train))
    order = np.arange(len(x_train))
    rec = _Recorder(model, x_test, data.y_test, on_epoch)
    for _ in range(epochs):
        order = order[permutation]
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            total += _one_hot_mse_step(model, loss, x_train[idx], data.y_train[idx])
            w_opt.step()
            b_opt.lr = lr / batch_size / 2 / len(idx)  # np.average over the batch: the bias quirk
            b_opt.step()
        rec.end_epoch(total / len(x_train))
    result = rec.done()
    result.transform = lambda x: x / 255.0
    return result


def train_nb002(
    data: Images,
    rng: np.random.Generator,
    *,
    epochs: int = 3,
    hidden: int = 128,
    lr: float = 1e-5,
    batch_size: int = 128,
    on_epoch: EpochHook = None,
) -> Trained:
    """784-128-10 ReLU, softmax cross-entropy on raw 0..255 pixels, deltas clipped to [-1, 1].

    Init ``normal(0, 1/fan_in)`` (std, not variance), zero biases; gradients averaged over
    the batch; data reshuffled each epoch. The output layer is updated before the hidden delta
    is computed through its (new) weights, and the last partial batch of an epoch is skipped
    (``label2array`` raises on it and the notebook's ``except: continue`` drops it).
    """
    x_train, x_test = data.x_train.astype(np.float64), data.x_test.astype(np.float64)
    lin1 = Linear(
        784, hidden, init=get_initializer("normal", std=1 / 784), rng=rng, dtype=np.float64
    )
    lin2 = Linear(
        hidden, 10, init=get_initializer("normal", std=1 / hidden), rng=rng, dtype=np.float64
    )
    relu = ReLU()
    model = Sequential([lin1, relu, lin2])
    loss = SoftmaxCrossEntropy(reduction="sum")  # backward: softmax - onehot, per sample
    opt1, opt2 = (
        SGD(lin1.parameters(), lr=lr / batch_size),
        SGD(lin2.parameters(), lr=lr / batch_size),
    )
    rec = _Recorder(model, x_test, data.y_test, on_epoch)
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        total, seen = 0.0, 0
        for start in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[start : start + batch_size]
            total += loss.forward(model.forward(x_train[idx]), data.y_train[idx])
            seen += len(idx)
            delta2 = np.clip(loss.backward(), -1, 1)
            lin2.backward(delta2)
            opt2.step()
            delta1 = np.clip(relu.backward(delta2 @ lin2.weight.data.T), -1, 1)
            lin1.backward(delta1)
            opt1.step()
        rec.end_epoch(total / max(seen, 1))
    return rec.done()


def train_nb003(
    data: Images,
    rng: np.random.Generator,
    *,
    iterations: int = 10000,
    hidden: int = 50,
    lr: float = 0.1,
    batch_size: int = 100,
    on_epoch: EpochHook = None,
) -> Trained:
    """TwoLayerNet 784-50-10 ReLU, ``0.01 * randn`` init, batches drawn with replacement.

    Plain SGD on the mean gradient for ``iterations`` steps; an "epoch" is
    ``len(train) / batch_size`` iterations (the last one may be partial).
    """
    x_train, x_test = data.scaled(np.float32)
    init = get_initializer("normal", std=0.01)
    model = Sequential(
        [Linear(784, hidden, init=init, rng=rng), ReLU(), Linear(hidden, 10, init=init, rng=rng)]
    )
    loss = SoftmaxCrossEntropy()
    optimizer = SGD(model.parameters(), lr=lr)
    per_epoch = max(1, len(x_train) // batch_size)
    rec = _Recorder(model, x_test, data.y_test, on_epoch)
    total, steps = 0.0, 0
    for i in range(iterations):
        idx = rng.integers(0, len(x_train), batch_size)  # np.random.choice: with replacement
        total += loss.forward(model.forward(x_train[idx]), data.y_train[idx])
        model.backward(loss.backward())
        optimizer.step()
        steps += 1
        if (i + 1) % per_epoch == 0 or i + 1 == iterations:
            rec.end_epoch(total / steps)
            total, steps = 0.0, 0
    result = rec.done()
    result.transform = lambda x: (x / 255.0).astype(np.float32)
    return result


class ScalarMomentAdam(Optimizer):
    """Notebook 004's "adam": one scalar second moment shared by every weight matrix.

    ::

        v = beta2 * v + (1 - beta2) * sum over weight matrices of sum(g**2)   (biases left out)
        m_p = beta1 * m_p + (1 - beta1) * g_p                                 (per parameter)
        p = p - lr / sqrt(v + eps) * m_p                                      (no bias correction)
    """

    def __init__(
        self,
        params: list[Parameter],
        weights: list[Parameter],
        lr: float,
        beta1: float = 0.9,
        beta2: float = 0.5,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self._weight_ids = {id(w) for w in weights}
        self.v = 0.0
        self.m = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        squares = sum(
            float(np.sum(np.square(p.grad, dtype=np.float64)))
            for p in self.params
            if id(p) in self._weight_ids
        )
        self.v = self.beta2 * self.v + (1 - self.beta2) * squares
        scale = self.lr / math.sqrt(self.v + self.eps)
        for p, m in zip(self.params, self.m, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * p.grad
            p.data -= (scale * m).astype(p.data.dtype)
        self.steps += 1


def _nb004_model(
    hidden: list[int], activation: str, init: str, rng: np.random.Generator
) -> Sequential:
    """784-[hidden]-10 logits; "glorot": uniform weights and zero biases;
    "he": normal weights and randn biases."""
    sizes = [784, *hidden, 10]
    layers: list[Layer] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        if init == "glorot":
            lin = Linear(fan_in, fan_out, init="glorot_uniform", rng=rng)
        else:
            lin = Linear(
                fan_in, fan_out, init=get_initializer("normal", std=math.sqrt(2 / fan_in)), rng=rng
            )
            lin.bias.data[...] = rng.standard_normal(fan_out)  # torch.randn biases, std 1
        layers.append(lin)
        if i < len(hidden):
            layers.append(ACTIVATIONS[activation]())
    return Sequential(layers)


def train_nb004(
    data: Images,
    rng: np.random.Generator,
    *,
    hidden: list[int],
    batch_size: int,
    lr: float,
    init: str,
    activation: str,
    optimizer: str,
    epochs: int,
    on_epoch: EpochHook = None,
) -> Trained:
    """One experiment of notebook 004: per-batch 70/30 split, gradients summed, fixed order.

    Each batch (the DataLoader does not shuffle) is split: its first ``ceil(0.7 n)`` samples
    train, the rest only validate. The per-sample gradients of the training part are summed
    (``SoftmaxCrossEntropy("sum")``), then one step of plain SGD or of
    :class:`ScalarMomentAdam`. ``val_accuracy`` is over all the held-out parts of the epoch.
    """
    x_train, x_test = data.scaled(np.float32)
    model = _nb004_model(hidden, activation, init, rng)
    loss = SoftmaxCrossEntropy(reduction="sum")
    if optimizer == "sgd":
        opt: Optimizer = SGD(model.parameters(), lr=lr)
    else:
        opt = ScalarMomentAdam(model.parameters(), [lin.weight for lin in model.linears], lr=lr)
    starts = range(0, len(x_train), batch_size)
    cuts = [
        (
            s,
            s + math.ceil(0.7 * len(x_train[s : s + batch_size])),
            min(s + batch_size, len(x_train)),
        )
        for s in starts
    ]
    held_out = np.concatenate([np.arange(cut, end) for _, cut, end in cuts])
    rec = _Recorder(model, x_test, data.y_test, on_epoch)
    for _ in range(epochs):
        total, seen = 0.0, 0
        model.train()
        for start, cut, _end in cuts:
            total += loss.forward(model.forward(x_train[start:cut]), data.y_train[start:cut])
            seen += cut - start
            model.backward(loss.backward())
            opt.step()
        model.eval()
        val = float(
            np.mean(model.forward(x_train[held_out]).argmax(axis=1) == data.y_train[held_out])
        )
        rec.end_epoch(total / seen, val_accuracy=val)
    result = rec.done()
    result.transform = lambda x: (x / 255.0).astype(np.float32)
    return result
