"""``fit``'s loop, one step at a time, so the page can play, pause and step it.

The step is ``fit``'s inner loop as it is (shuffled indices, a batch, forward, loss,
backward, the doctor's checks, the optimiser's step), run through a
:class:`~bareprop.fast.plan.Plan` like ``fit``'s. What ``fit`` does once per epoch (the
doctor's statistics, evaluation) the playground does when it draws a frame instead.
"""

from __future__ import annotations

import math

import numpy as np

from bareprop.fast.plan import Plan
from bareprop.playground.data import PlayData
from bareprop.playground.settings import Settings
from bareprop.train.config import TrainConfig
from bareprop.train.doctor import Doctor
from bareprop.train.fit import evaluate
from bareprop.train.run import build, seeded_rngs


class Trainer:
    """A network, its optimiser and where it is in its epoch; built from one seed.

    Args:
        settings: the page's controls (architecture, optimiser, seed...).
        data: the data set, already split.
        rngs: :func:`bareprop.train.run.seeded_rngs` of ``settings.seed`` (``init``, ``shuffle``,
            ``dropout`` are used here).
    """

    def __init__(self, settings: Settings, data: PlayData, rngs: dict[str, np.random.Generator]):
        config = TrainConfig(
            hidden=settings.hidden, activation=settings.activation, init=settings.init,
            optimizer=settings.optimizer, lr=settings.lr, weight_decay=settings.weight_decay,
            dropout=settings.dropout, batch_size=settings.batch_size, seed=settings.seed,
        ).validate()  # fmt: skip
        self.data = data
        self.model, self.loss, self.optimizer = build(
            config, data.x_train.shape[1:], data.n_classes, rngs
        )
        self.rng = rngs["shuffle"]
        self.batch_size = settings.batch_size
        self.plan = Plan(self.model, self.loss, self.optimizer)
        self.doctor = Doctor(self.model, data.x_train, all_finite=self.plan.all_finite)
        self.doctor.start_epoch()
        self.order = self.rng.permutation(len(data.x_train))
        self.pos = 0  # next index into order
        self.epoch = 0
        self.steps = 0
        self.last_index = 0  # the first sample of the last batch (traced after a Step)

    @classmethod
    def from_settings(cls, settings: Settings, data: PlayData) -> Trainer:
        return cls(settings, data, seeded_rngs(settings.seed))

    def set_live(self, settings: Settings) -> None:
        """Apply the controls that need no rebuild: learning rate, batch size, weight decay."""
        self.optimizer.lr = settings.lr
        self.optimizer.weight_decay = settings.weight_decay  # type: ignore[attr-defined]
        self.batch_size = settings.batch_size

    @property
    def epochs_done(self) -> float:
        """Passes over the training set so far, fractional."""
        return self.epoch + self.pos / len(self.data.x_train)

    def step(self) -> float:
        """One mini-batch, as in ``fit``; returns its loss.

        Raises:
            TrainingDiverged: the loss or a gradient is not finite (the doctor's message).
        """
        x, y = self.data.x_train, self.data.y_train
        if self.pos >= len(x):  # a new epoch: a new order, and the doctor's fallback weights
            self.order = self.rng.permutation(len(x))
            self.pos, self.epoch = 0, self.epoch + 1
            self.doctor.start_epoch()
        idx = self.order[self.pos : self.pos + self.batch_size]
        xb, yb = self.plan.take(x, idx), y[idx]
        batch_loss = self.plan.loss_forward(self.plan.forward(xb), yb)
        if not math.isfinite(batch_loss):
            self.doctor.check_loss(batch_loss, self.epoch, self.steps, xb)
        self.plan.backward()
        self.doctor.check_gradients(self.epoch, self.steps)  # before the step: weights stay good
        self.plan.step()
        self.last_index = int(idx[0])
        self.pos += len(idx)
        self.steps += 1
        return batch_loss

    def metrics(self) -> dict[str, float]:
        """Loss and accuracy on the training (eval part) and test sets, in eval mode."""
        d = self.data
        train = evaluate(self.model, d.x_eval, d.y_eval, loss=self.loss)
        test = evaluate(self.model, d.x_test, d.y_test, loss=self.loss)
        return {"loss": train["loss"], "accuracy": train["accuracy"],
                "test_loss": test["loss"], "test_accuracy": test["accuracy"]}  # fmt: skip
