"""``Adam`` and ``AdamW`` (Adam with decoupled weight decay)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from bareprop.nn.layer import Parameter
from bareprop.optim.optimizer import Optimizer
from bareprop.validation import check_range


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (L2 ``weight_decay`` added to the gradient)::

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    ``eps`` is added after the bias correction of ``v``, as torch does. State per parameter:
    ``m`` and ``v``, from zero.
    """

    decoupled = False  # AdamW: decay the weights directly instead of through the gradient

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        check_range(betas[0], "betas[0]", 0.0, 1.0)
        check_range(betas[1], "betas[1]", 0.0, 1.0)
        check_range(eps, "eps", 0.0, np.inf)
        check_range(weight_decay, "weight_decay", 0.0, np.inf)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)

    def step(self) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        bias1 = 1 - beta1**self.steps
        bias2_sqrt = math.sqrt(1 - beta2**self.steps)
        # Each Python scalar is rounded to the arrays' dtype, as NumPy does, and the grouping
        # is that of bareprop.fast's compiled loop: tests/test_speed.py proves the two
        # bit-identical. (Hence the step size lr / bias1 applied last, not first.)
        for p, state in zip(self.params, self.state, strict=True):
            if not state:
                state["m"], state["v"] = np.zeros_like(p.data), np.zeros_like(p.data)
            g, m, v = p.grad, state["m"], state["v"]
            if self.weight_decay and self.decoupled:
                p.data *= 1 - self.lr * self.weight_decay
            elif self.weight_decay:
                g = g + self.weight_decay * p.data
            m[...] = beta1 * m + (1 - beta1) * g
            v[...] = beta2 * v + (1 - beta2) * (g * g)
            p.data -= m / (np.sqrt(v) / bias2_sqrt + self.eps) * (self.lr / bias1)


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with decoupled weight decay (default 0.01)::

    p = p * (1 - lr * weight_decay)      before the Adam step, which uses the raw gradient
    """

    decoupled = True

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, **kwargs: Any) -> None:
        kwargs.setdefault("weight_decay", 1e-2)
        super().__init__(params, lr, **kwargs)
