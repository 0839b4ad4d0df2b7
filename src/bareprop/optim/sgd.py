"""``SGD``: stochastic gradient descent with momentum, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from bareprop.nn.layer import Parameter
from bareprop.optim.optimizer import Optimizer
from bareprop.validation import check_range


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD`` (dampening 0)::

    g = grad + weight_decay * p
    b = g                       on the first step
    b = momentum * b + g        afterwards
    g = g + momentum * b        if nesterov, else g = b      (when momentum > 0)
    p = p - lr * g

    State per parameter: ``momentum_buffer`` (``b``), from the first step with momentum.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        check_range(momentum, "momentum", 0.0, 1.0, high_open=False)
        check_range(weight_decay, "weight_decay", 0.0, float("inf"))
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)

    def step(self) -> None:
        # bareprop.fast runs this rule as one compiled loop over all the parameters; the
        # grouping of the operations here is the loop's, and tests/test_speed.py proves the
        # two bit-identical (a * b == b * a in floating point, (a + b) + c != a + (b + c)).
        for p, state in zip(self.params, self.state, strict=True):
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                b = state.get("momentum_buffer")
                if b is None:  # torch: the buffer starts as the first gradient
                    b = state["momentum_buffer"] = g.copy()
                else:
                    b[...] = self.momentum * b + g
                g = g + self.momentum * b if self.nesterov else b
            p.data -= self.lr * g
        self.steps += 1
