"""``RMSprop``."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from bareprop.nn.layer import Parameter
from bareprop.optim.optimizer import Optimizer
from bareprop.validation import check_range


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop`` (not centred)::

    g = grad + weight_decay * p
    v = alpha * v + (1 - alpha) * g^2
    b = momentum * b + g / (sqrt(v) + eps);  p = p - lr * b     if momentum > 0
    p = p - lr * g / (sqrt(v) + eps)                            otherwise

    State per parameter: ``v`` and, with momentum, ``momentum_buffer`` (``b``), both from zero.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        check_range(alpha, "alpha", 0.0, 1.0, high_open=False)
        check_range(eps, "eps", 0.0, np.inf)
        check_range(momentum, "momentum", 0.0, 1.0, high_open=False)
        check_range(weight_decay, "weight_decay", 0.0, np.inf)
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)

    def step(self) -> None:
        for p, state in zip(self.params, self.state, strict=True):
            if "v" not in state:
                state["v"] = np.zeros_like(p.data)
            if self.momentum and "momentum_buffer" not in state:
                state["momentum_buffer"] = np.zeros_like(p.data)
            g, v = p.grad, state["v"]
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            v[...] = self.alpha * v + (1 - self.alpha) * (g * g)
            scaled = g / (np.sqrt(v) + self.eps)
            if self.momentum:
                b = state["momentum_buffer"]
                b[...] = self.momentum * b + scaled
                p.data -= self.lr * b
            else:
                p.data -= self.lr * scaled
        self.steps += 1
