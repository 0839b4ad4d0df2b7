"""Optimisers with the update rules and hyper-parameter meanings of ``torch.optim``.

An optimiser holds :class:`~bareprop.nn.layer.Parameter` objects, never layers; ``step()``
updates each ``.data`` in place from its ``.grad`` and keeps per-parameter state.
``lr`` is a plain attribute, so a schedule can change it between steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from bareprop.fast import kernels as _kernels
from bareprop.nn.layer import Parameter
from bareprop.validation import check_positive, check_range


def _pack(params: list[Parameter]) -> tuple[np.ndarray, np.ndarray] | None:
    """Move every ``.data`` and ``.grad`` into one 1-D buffer each; ``p.data`` becomes a view.

    Then a step is a few ufunc calls over all the weights at once instead of a few per
    parameter. Nothing changes for a reader of ``p.data`` / ``p.grad`` (same values, shapes,
    dtype). Returns ``None`` (no packing) for mixed dtypes or a parameter listed twice.
    """
    dtypes = {p.data.dtype for p in params}
    if len(dtypes) != 1 or len({id(p) for p in params}) != len(params):
        return None
    total = sum(p.data.size for p in params)
    flat_data, flat_grad = np.empty(total, dtypes.pop()), np.empty(total, params[0].data.dtype)
    views = zip(_split(flat_data, params), _split(flat_grad, params), strict=True)
    for p, (data, grad) in zip(params, views, strict=True):
        data[...], grad[...] = p.data, p.grad
        p.data, p.grad = data, grad
    return flat_data, flat_grad


def _split(flat: np.ndarray, params: list[Parameter]) -> list[np.ndarray]:
    """Views of consecutive pieces of ``flat``, shaped like each parameter."""
    views, offset = [], 0
    for p in params:
        views.append(flat[offset : offset + p.data.size].reshape(p.data.shape))
        offset += p.data.size
    return views


class Optimizer:
    """Base class: keeps the parameter list and the learning rate.

    Speed: the parameters are packed into one flat buffer (see :func:`_pack`) and so is each
    per-parameter state (``m``, ``v``, ...), so :meth:`_groups` hands a subclass's update rule
    one group of 1-D arrays covering every parameter. If a ``p.data`` or ``p.grad`` has been
    replaced by another array since, it hands one group per parameter instead; the rule is
    elementwise, so both give bit-identical results.
    """

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
        self._flat = _pack(self.params)
        self._views: dict[str, list[np.ndarray]] = {}
        if self._flat is not None:
            self._views = {
                "data": [p.data for p in self.params],
                "grad": [p.grad for p in self.params],
            }
        self._flat_state: dict[str, np.ndarray] = {}
        self._temps: list[np.ndarray] = []

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
            arrays = [None if a is None else np.array(a) for a in state[name]]
            mine = getattr(self, name)
            if any(a is None for a in arrays) or any(a is None for a in mine):
                setattr(self, name, arrays)  # e.g. SGD momentum before its first step
            else:
                for dst, src in zip(mine, arrays, strict=True):
                    dst[...] = src  # in place: the state stays packed in its flat buffer

    def _zeros_state(self, name: str) -> list[np.ndarray]:
        """Per-parameter zeros, as views of one flat buffer (kept for :meth:`_groups`)."""
        if self._flat is None:
            return [np.zeros_like(p.data) for p in self.params]
        self._flat_state[name] = np.zeros_like(self._flat[0])
        self._views[name] = _split(self._flat_state[name], self.params)
        return list(self._views[name])

    def _compiled_group(self, names: tuple[str, ...]) -> tuple[Any, list[np.ndarray]] | None:
        """The compiled kernels and ``[data, grad, *states]`` as flat arrays, when both exist.

        See :mod:`bareprop.fast.kernels`: one pass over all the weights, same results as NumPy.
        """
        compiled = _kernels.kernels()
        if compiled is None or self._flat is None or not self._is_packed(names):
            return None
        return compiled, [*self._flat, *(self._flat_state[n] for n in names)]

    def _groups(self, names: tuple[str, ...], n_temps: int = 0) -> list[tuple[np.ndarray, ...]]:
        """``(data, grad, *states, *temps)`` to update: one flat group if all is still packed.

        ``names`` are the state lists (attributes) the rule updates; ``temps`` are scratch
        arrays of the same shape, to compute into with ``out=``.
        """
        if self._flat is not None and self._is_packed(names):
            if len(self._temps) < n_temps:
                self._temps = [np.empty_like(self._flat[0]) for _ in range(n_temps)]
            states = [self._flat_state[n] for n in names]
            return [(*self._flat, *states, *self._temps[:n_temps])]
        return [
            (p.data, p.grad, *(getattr(self, n)[i] for n in names),
             *(np.empty_like(p.data) for _ in range(n_temps)))
            for i, p in enumerate(self.params)
        ]  # fmt: skip

    def _is_packed(self, names: tuple[str, ...]) -> bool:
        """Whether every array is still the view :func:`_pack` / :meth:`_zeros_state` made."""
        views = self._views
        if not views or any(n not in views for n in names):
            return False
        # Plain loops: this runs before every step.
        for p, data, grad in zip(self.params, views["data"], views["grad"], strict=True):
            if p.data is not data or p.grad is not grad:
                return False
        for n in names:
            for a, b in zip(getattr(self, n), views[n], strict=True):
                if a is not b:
                    return False
        return True


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


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
}
