"""The five source notebooks, re-implemented with their own semantics on bareprop's layers.

Each ``train_nbXXX`` follows what its notebook really computes (see
``shared/notebooks/NOTES.md``), quirks included, so that its test accuracy can be set beside
the figure the notebook reported. They share bareprop's :class:`Linear`, activations, losses
and :class:`SGD`; where a notebook's rule is not a standard one (a bias update averaged while
the weight update is summed, deltas clipped at every layer, a one-scalar "adam") the loop
says so in a comment. Randomness comes from the ``rng`` argument only.

Notebooks 000-003 are here; 004, six experiments with one trainer and its own optimizer, is in
:mod:`bareprop.lab.notebook004` and re-exported. Every trainer takes :class:`Images` and returns a
:class:`Trained` (both in :mod:`bareprop.lab.trained`): the model, a per-epoch history (``loss``,
``test_accuracy``, ``seconds`` of training, excluding the test evaluation) and the final test
accuracy. ``on_epoch(epoch, logs)`` is called after each epoch.
"""

from __future__ import annotations

import math

import numpy as np

from bareprop.lab.notebook004 import ScalarMomentAdam, train_nb004
from bareprop.lab.trained import EpochHook, Images, Recorder, Trained
from bareprop.nn import Linear, ReLU, Sigmoid
from bareprop.nn.init import get_initializer
from bareprop.nn.losses import MSELoss, SoftmaxCrossEntropy
from bareprop.nn.sequential import Sequential
from bareprop.optim import SGD

__all__ = [
    "EpochHook",
    "Images",
    "ScalarMomentAdam",
    "Trained",
    "train_nb000",
    "train_nb001",
    "train_nb002",
    "train_nb003",
    "train_nb004",
]


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
    rec = Recorder(model, x_test, data.y_test, on_epoch)
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
    rec = Recorder(model, x_test, data.y_test, on_epoch)
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
    rec = Recorder(model, x_test, data.y_test, on_epoch)
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
    rec = Recorder(model, x_test, data.y_test, on_epoch)
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
