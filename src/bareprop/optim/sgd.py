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
    """

    _state_names = ("buffers",)

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
        check_range(weight_decay, "weight_decay", 0.0, np.inf)
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self.buffers: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        first = self.momentum and self.buffers[0] is None
        if first:  # torch: the momentum buffer starts as the first gradient
            self.buffers = list(self._zeros_state("buffers"))
        names = ("buffers",) if self.momentum else ()
        compiled = self._compiled_group(names)
        if compiled is not None:
            kernels, (p, g, *b_list) = compiled
            f = p.dtype.type
            b = b_list[0] if b_list else p  # (not read without momentum)
            lr, momentum, decay = f(self.lr), f(self.momentum), f(self.weight_decay)
            kernels.sgd(p, g, b, lr, momentum, decay, self.nesterov, first)
            self.steps += 1
            return
        for p, grad, *b_list, t, u in self._groups(names, n_temps=2):
            g = grad
            if self.weight_decay:
                g = np.add(g, np.multiply(p, self.weight_decay, out=t), out=t)
            if self.momentum:
                b = b_list[0]
                if first:
                    b[...] = g
                else:
                    b *= self.momentum
                    b += g
                g = np.add(g, np.multiply(b, self.momentum, out=u), out=u) if self.nesterov else b
            p -= np.multiply(g, self.lr, out=u)
        self.steps += 1
