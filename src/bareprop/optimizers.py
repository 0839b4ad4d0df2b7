"""Optimisers with the update rules and hyper-parameter meanings of ``torch.optim``.

An optimiser holds :class:`~bareprop.layers.Parameter` objects, never layers; ``step()``
updates each ``.data`` in place from its ``.grad`` and keeps per-parameter state.
``lr`` is a plain attribute, so a schedule can change it between steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from bareprop._checks import check_positive, check_range
from bareprop.layers import Parameter


class Optimizer:
    """Base class: keeps the parameter list and the learning rate."""

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("params is empty: the optimiser has nothing to update")
        for p in self.params:
            if not isinstance(p, Parameter):
                raise TypeError(f"params must be Parameter objects, got {type(p).__name__}")
        check_positive(lr, "lr")
        self.lr = float(lr)
        self.steps = 0

    def step(self) -> None:
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Set every gradient to zero (not needed: ``backward`` overwrites gradients)."""
        for p in self.params:
            p.grad.fill(0)

    # The state that a checkpoint saves: named arrays per parameter, and the step count.
    _state_names: tuple[str, ...] = ()

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"steps": self.steps, "lr": self.lr}
        for name in self._state_names:
            state[name] = [None if a is None else a.copy() for a in getattr(self, name)]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.lr = float(state["lr"])
        for name in self._state_names:
            setattr(self, name, [None if a is None else np.array(a) for a in state[name]])


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
        for i, p in enumerate(self.params):
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                b = self.buffers[i]
                if b is None:
                    b = self.buffers[i] = g.copy()
                else:
                    b *= self.momentum
                    b += g
                g = g + self.momentum * b if self.nesterov else b
            p.data -= self.lr * g
        self.steps += 1


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
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        bias1 = 1 - beta1**self.steps
        bias2_sqrt = math.sqrt(1 - beta2**self.steps)  # a Python float keeps float32 float32
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            g = p.grad
            if self.weight_decay:
                if self._decoupled:
                    p.data *= 1 - self.lr * self.weight_decay
                else:
                    g = g + self.weight_decay * p.data
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * (g * g)
            denom = np.sqrt(v) / bias2_sqrt + self.eps
            p.data -= (self.lr / bias1) * (m / denom)


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
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.buffers = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        for p, v, b in zip(self.params, self.v, self.buffers, strict=True):
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            v *= self.alpha
            v += (1 - self.alpha) * (g * g)
            scaled = g / (np.sqrt(v) + self.eps)
            if self.momentum:
                b *= self.momentum
                b += scaled
                p.data -= self.lr * b
            else:
                p.data -= self.lr * scaled
        self.steps += 1


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
}
