"""Notebook 004, re-implemented with its own semantics: six experiments with one trainer.

Each experiment trains a 784-[hidden]-10 network on batches that come in a fixed order and are
split 70/30 (the first part trains, the rest validates); the per-sample gradients are summed, and
the step is plain SGD or the notebook's one-scalar "adam" (:class:`ScalarMomentAdam`). See
``shared/notebooks/NOTES.md`` and :mod:`bareprop.lab.notebooks` for the other four notebooks.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from bareprop.lab.trained import EpochHook, Images, Recorder, Trained
from bareprop.nn import ACTIVATIONS, Layer, Linear, Parameter
from bareprop.nn.init import get_initializer
from bareprop.nn.losses import SoftmaxCrossEntropy
from bareprop.nn.sequential import Sequential
from bareprop.optim import SGD, Optimizer


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
        self.v = 0.0  # one scalar for all the weights: not per-parameter state, saved below
        for p, state in zip(self.params, self.state, strict=True):
            state["m"] = np.zeros_like(p.data)

    def step(self) -> None:
        squares = sum(
            float(np.sum(np.square(p.grad, dtype=np.float64)))
            for p in self.params
            if id(p) in self._weight_ids
        )
        self.v = self.beta2 * self.v + (1 - self.beta2) * squares
        scale = self.lr / math.sqrt(self.v + self.eps)
        for p, state in zip(self.params, self.state, strict=True):
            m = state["m"]
            m *= self.beta1
            m += (1 - self.beta1) * p.grad
            p.data -= (scale * m).astype(p.data.dtype)
        self.steps += 1

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "v": self.v}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        super().load_state_dict({k: a for k, a in saved.items() if k != "v"})
        self.v = float(saved["v"])


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


def _batch_cuts(n: int, batch_size: int) -> list[tuple[int, int, int]]:
    """``(start, cut, end)`` of each batch, in order: ``[start, cut)`` (the first
    ``ceil(0.7 * size)`` samples) trains, ``[cut, end)`` is held out for validation."""
    cuts = []
    for start in range(0, n, batch_size):
        end = min(start + batch_size, n)
        cuts.append((start, start + math.ceil(0.7 * (end - start)), end))
    return cuts


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
    cuts = _batch_cuts(len(x_train), batch_size)
    held_out = np.concatenate([np.arange(cut, end) for _, cut, end in cuts])
    rec = Recorder(model, x_test, data.y_test, on_epoch)
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
