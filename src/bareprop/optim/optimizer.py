"""The optimiser base class: holds the parameters and the learning rate.

An optimiser holds :class:`~bareprop.nn.layer.Parameter` objects, never layers; ``step()``
updates each ``.data`` in place from its ``.grad`` and keeps per-parameter state.
``lr`` is a plain attribute, so a schedule can change it between steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from bareprop.fast import kernels as _kernels
from bareprop.nn.layer import Parameter
from bareprop.validation import check_positive


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
