"""The optimiser base class: the parameters, the learning rate and per-parameter state.

An optimiser holds :class:`~bareprop.nn.layer.Parameter` objects, never layers; ``step()``
updates each ``.data`` in place from its ``.grad``. ``lr`` is a plain attribute, so a
schedule can change it between steps. What a step remembers lives in ``self.state``, one
dict of arrays per parameter (as ``torch.optim``), and ``state_dict()`` is derived from it,
so a checkpoint cannot forget a field.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from bareprop.nn.layer import Parameter
from bareprop.validation import check_positive

# Checkpoints (version 1) store the SGD / RMSprop momentum buffer as ``buffers``.
_SAVED_AS = {"momentum_buffer": "buffers"}
_LOADED_AS = {saved: name for name, saved in _SAVED_AS.items()}


class Optimizer:
    """Base class: keeps the parameters, the learning rate, the step count and the state.

    Attributes:
        params: the parameters, in the order given.
        lr: the learning rate of the next step.
        steps: steps taken so far.
        state: one dict per parameter (same order) of the arrays the update rule keeps,
            e.g. ``{"m": ..., "v": ...}`` for Adam; empty until the rule needs them.
    """

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        if isinstance(params, (Parameter, str, bytes)) or not isinstance(params, Iterable):
            raise TypeError(
                f"params must be a list of Parameters (e.g. model.parameters()), "
                f"got {type(params).__name__}"
            )
        self.params = list(params)
        if not self.params:
            raise ValueError("params is empty: the optimiser has nothing to update")
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"params[{i}] must be a Parameter, got {type(p).__name__}")
            if id(p) in seen:
                raise ValueError(f"params[{i}] is listed twice: it would be updated twice a step")
            seen.add(id(p))
        check_positive(lr, "lr")
        self.lr = float(lr)
        self.steps = 0
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]

    def step(self) -> None:
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Set every gradient to zero (not needed: ``backward`` overwrites gradients)."""
        for p in self.params:
            p.grad.fill(0)

    def state_dict(self) -> dict[str, Any]:
        """``{"steps", "lr", name: [array or None, one per parameter], ...}``: copies.

        One list per name found in ``self.state`` (``None`` where a parameter has none yet).
        """
        names = sorted({name for state in self.state for name in state})
        saved: dict[str, Any] = {"steps": self.steps, "lr": self.lr}
        for name in names:
            arrays = [state.get(name) for state in self.state]
            saved[_SAVED_AS.get(name, name)] = [None if a is None else a.copy() for a in arrays]
        return saved

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Put back what :meth:`state_dict` returned (copies; ``None`` means no state yet)."""
        self.steps = int(saved["steps"])
        self.lr = float(saved["lr"])
        state: list[dict[str, np.ndarray]] = [{} for _ in self.params]
        for key, arrays in saved.items():
            if key in ("steps", "lr"):
                continue
            if not isinstance(arrays, (list, tuple)) or len(arrays) != len(self.params):
                raise ValueError(
                    f"optimizer state {key!r} must be a list of {len(self.params)} arrays "
                    f"(one per parameter), got {type(arrays).__name__}"
                )
            for p, per_param, a in zip(self.params, state, arrays, strict=True):
                if a is not None:
                    per_param[_LOADED_AS.get(key, key)] = np.array(a, dtype=p.data.dtype)
        self.state = state
