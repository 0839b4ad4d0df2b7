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
    """

    _state_names = ("v", "buffers")

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
        self.v = self._zeros_state("v")
        self.buffers = self._zeros_state("buffers")

    def step(self) -> None:
        for p, g, v, b, t, d in self._groups(("v", "buffers"), n_temps=2):
            if self.weight_decay:
                g = np.add(g, np.multiply(p, self.weight_decay, out=t), out=t)
            v *= self.alpha
            d = np.multiply(g, g, out=d)
            d *= 1 - self.alpha
            v += d
            denom = np.sqrt(v, out=d)
            denom += self.eps
            scaled = np.divide(g, denom, out=d)
            if self.momentum:
                b *= self.momentum
                b += scaled
                p -= np.multiply(b, self.lr, out=d)
            else:
                p -= np.multiply(scaled, self.lr, out=d)
        self.steps += 1
