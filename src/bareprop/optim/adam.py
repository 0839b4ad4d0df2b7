"""``Adam`` and ``AdamW``."""

from __future__ import annotations

import math
from collections.abc import Iterable

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

    ``eps`` is added after the bias correction of ``v``, as torch does.
    """

    _state_names = ("m", "v")
    _decoupled = False

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        check_range(betas[0], "betas[0]", 0.0, 1.0)
        check_range(betas[1], "betas[1]", 0.0, 1.0)
        check_range(eps, "eps", 0.0, np.inf)
        check_range(weight_decay, "weight_decay", 0.0, np.inf)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.m = self._zeros_state("m")
        self.v = self._zeros_state("v")

    def step(self) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        bias1 = 1 - beta1**self.steps
        bias2_sqrt = math.sqrt(1 - beta2**self.steps)  # a Python float keeps float32 float32
        compiled = self._compiled_group(("m", "v"))
        if compiled is not None:
            kernels, (p, g, m, v) = compiled
            f = p.dtype.type  # each scalar rounded to the dtype, as NumPy does with a Python float
            kernels.adam(
                p, g, m, v, f(beta1), f(1 - beta1), f(beta2), f(1 - beta2), f(bias2_sqrt),
                f(self.eps), f(self.lr / bias1), f(self.weight_decay),
                f(1 - self.lr * self.weight_decay), self._decoupled,
            )  # fmt: skip
            return
        for p, g, m, v, t, d in self._groups(("m", "v"), n_temps=2):
            if self.weight_decay:
                if self._decoupled:
                    p *= 1 - self.lr * self.weight_decay
                else:
                    g = np.add(g, np.multiply(p, self.weight_decay, out=t), out=t)
            m *= beta1
            m += np.multiply(g, 1 - beta1, out=d)
            v *= beta2
            d = np.multiply(g, g, out=d)
            d *= 1 - beta2
            v += d
            denom = np.sqrt(v, out=d)  # then sqrt(v) / sqrt(1 - beta2^t) + eps, in place
            denom /= bias2_sqrt
            denom += self.eps
            update = np.divide(m, denom, out=d)
            update *= self.lr / bias1
            p -= update


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with decoupled weight decay::

    p = p * (1 - lr * weight_decay)      before the Adam step, which uses the raw gradient
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)
