"""An optimiser's parameters, gradients and state packed into flat buffers, stepped in one pass.

The textbook optimisers (:mod:`bareprop.optim`) loop over the parameters and make a dozen
NumPy passes over each. Here every ``p.data``, every ``p.grad`` and every state array (``m``,
``v``, the momentum buffer) becomes a view of one 1-D buffer per kind, so that a step is one
compiled loop over all the weights (:mod:`bareprop.fast.numba_loops`) or, without numba, a few
NumPy calls into kept scratch arrays. Nothing changes for a reader of ``p.data``, ``p.grad`` or
``optimizer.state`` (same values, shapes and dtype), and the results are bit-identical to the
optimiser's own ``step()`` (``tests/test_speed.py``).

Only SGD, Adam and AdamW are stepped here (exactly those classes, and only while their
``step`` is the class's own); any other optimiser runs its own ``step()``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable

import numpy as np

from bareprop.fast import kernels
from bareprop.nn.layer import Parameter
from bareprop.optim import SGD, Adam, AdamW, Optimizer


class FlatState:
    """Views of flat buffers for ``optimizer``'s parameters, gradients and the state ``names``.

    A state array missing from every parameter starts as zeros, as the optimiser's own step
    starts it; if it is ``lazy`` (SGD's momentum buffer, which starts as the first gradient),
    it is handed to ``optimizer.state`` only after the first step.
    """

    def __init__(self, optimizer: Optimizer, names: tuple[str, ...], lazy: bool = False) -> None:
        params, states = optimizer.params, optimizer.state
        self.names = names  # (no reference to the optimizer: it is the key of _packed)
        self.data, self.grad = _pack([p.data for p in params]), _pack([p.grad for p in params])
        self.views = {"data": _views(self.data, params), "grad": _views(self.grad, params)}
        for p, data, grad in zip(params, self.views["data"], self.views["grad"], strict=True):
            p.data, p.grad = data, grad
        self.state: dict[str, np.ndarray] = {}
        self.unbound: set[str] = set()  # in no parameter's state yet
        for name in names:
            present = [state.get(name) for state in states]
            if all(a is None for a in present):
                self.state[name] = np.zeros_like(self.data)
                if lazy:
                    self.unbound.add(name)
            else:
                self.state[name] = _pack(present)  # type: ignore[arg-type]  # none is None
            self.views[name] = _views(self.state[name], params)
            if name not in self.unbound:
                self.bind(optimizer, name)
        self.temps: list[np.ndarray] = []

    def bind(self, optimizer: Optimizer, name: str) -> None:
        """Make ``optimizer.state[i][name]`` the views of the flat buffer of ``name``."""
        for state, view in zip(optimizer.state, self.views[name], strict=True):
            state[name] = view
        self.unbound.discard(name)

    def is_current(self, optimizer: Optimizer) -> bool:
        """Whether every array is still the view made here (nobody rebound one since)."""
        params, views = optimizer.params, self.views
        # Plain loops: this runs before every step.
        for p, data, grad in zip(params, views["data"], views["grad"], strict=True):
            if p.data is not data or p.grad is not grad:
                return False
        for name in self.names:
            bound = name not in self.unbound
            for state, view in zip(optimizer.state, views[name], strict=True):
                a = state.get(name)
                if (a is view) != bound or (a is not None and not bound):
                    return False
        return True

    def scratch(self, n: int) -> list[np.ndarray]:
        """``n`` arrays shaped like the flat buffers, kept across steps."""
        while len(self.temps) < n:
            self.temps.append(np.empty_like(self.data))
        return self.temps[:n]


def _pack(arrays: list[np.ndarray]) -> np.ndarray:
    """One 1-D array holding ``arrays`` one after the other (a copy)."""
    return np.concatenate([a.reshape(-1) for a in arrays])


def _views(flat: np.ndarray, params: list[Parameter]) -> list[np.ndarray]:
    """Views of consecutive pieces of ``flat``, shaped like each parameter."""
    views, offset = [], 0
    for p in params:
        views.append(flat[offset : offset + p.data.size].reshape(p.data.shape))
        offset += p.data.size
    return views


_packed: weakref.WeakKeyDictionary[Optimizer, FlatState] = weakref.WeakKeyDictionary()


def flat_step(optimizer: Optimizer) -> Callable[[], None]:
    """The fastest step of ``optimizer`` with the same results: one over flat buffers for SGD,
    Adam and AdamW (packing them on first use), else the optimiser's own ``step``."""
    kind = type(optimizer)
    if kind not in (SGD, Adam, AdamW) or "step" in vars(optimizer) or not _packable(optimizer):
        return optimizer.step
    if isinstance(optimizer, SGD):
        names: tuple[str, ...] = ("momentum_buffer",) if optimizer.momentum else ()
        return lambda: _sgd(optimizer, _current(optimizer, names, lazy=True))
    return lambda: _adam(optimizer, _current(optimizer, ("m", "v")))  # type: ignore[arg-type]


def _packable(optimizer: Optimizer) -> bool:
    """One dtype, no parameter twice, and no state array on some parameters only."""
    params = optimizer.params
    if len({p.data.dtype for p in params}) != 1 or len({id(p) for p in params}) != len(params):
        return False
    names = {name for state in optimizer.state for name in state}
    return all(all(name in state for state in optimizer.state) for name in names)


def _current(optimizer: Optimizer, names: tuple[str, ...], lazy: bool = False) -> FlatState:
    """The packing of ``optimizer``: the last one if nothing was rebound since, else a new one."""
    packed = _packed.get(optimizer)
    if packed is None or packed.names != names or not packed.is_current(optimizer):
        packed = _packed[optimizer] = FlatState(optimizer, names, lazy)
    return packed


def _sgd(opt: SGD, flat: FlatState) -> None:
    """:meth:`bareprop.optim.SGD.step` over the flat buffers."""
    p, g = flat.data, flat.grad
    first = "momentum_buffer" in flat.unbound
    b = flat.state.get("momentum_buffer", p)  # (not read without momentum)
    compiled = kernels.kernels()
    if compiled is not None:
        f = p.dtype.type  # each scalar rounded to the dtype, as NumPy does with a Python float
        lr, momentum, decay = f(opt.lr), f(opt.momentum), f(opt.weight_decay)
        compiled.sgd(p, g, b, lr, momentum, decay, opt.nesterov, first)
    else:
        t, u = flat.scratch(2)
        if opt.weight_decay:
            g = np.add(g, np.multiply(p, opt.weight_decay, out=t), out=t)
        if opt.momentum:
            if first:
                b[...] = g
            else:
                b *= opt.momentum
                b += g
            g = np.add(g, np.multiply(b, opt.momentum, out=u), out=u) if opt.nesterov else b
        p -= np.multiply(g, opt.lr, out=u)
    if first:
        flat.bind(opt, "momentum_buffer")
    opt.steps += 1


def _adam(opt: Adam, flat: FlatState) -> None:
    """:meth:`bareprop.optim.Adam.step` (and AdamW's) over the flat buffers."""
    opt.steps += 1
    beta1, beta2 = opt.betas
    bias1 = 1 - beta1**opt.steps
    bias2_sqrt = math.sqrt(1 - beta2**opt.steps)
    p, g, m, v = flat.data, flat.grad, flat.state["m"], flat.state["v"]
    compiled = kernels.kernels()
    if compiled is not None:
        f = p.dtype.type
        compiled.adam(
            p, g, m, v, f(beta1), f(1 - beta1), f(beta2), f(1 - beta2), f(bias2_sqrt),
            f(opt.eps), f(opt.lr / bias1), f(opt.weight_decay),
            f(1 - opt.lr * opt.weight_decay), opt.decoupled,
        )  # fmt: skip
        return
    t, d = flat.scratch(2)
    if opt.weight_decay:
        if opt.decoupled:
            p *= 1 - opt.lr * opt.weight_decay
        else:
            g = np.add(g, np.multiply(p, opt.weight_decay, out=t), out=t)
    m *= beta1
    m += np.multiply(g, 1 - beta1, out=d)
    v *= beta2
    d = np.multiply(g, g, out=d)
    d *= 1 - beta2
    v += d
    denom = np.sqrt(v, out=d)  # then sqrt(v) / sqrt(1 - beta2^t) + eps, in place
    denom /= bias2_sqrt
    denom += opt.eps
    update = np.divide(m, denom, out=d)
    update *= opt.lr / bias1
    p -= update
