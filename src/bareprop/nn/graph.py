"""Computational-graph nodes with two inputs: ``Mul`` and ``Add``.

The layer-by-layer design the notebooks teach, one operation at a time: each node's
``forward(x, y)`` keeps what its ``backward`` needs, and ``backward(dout)`` returns the
gradients with respect to both inputs by the chain rule. Chained by hand, they differentiate
any expression built from them::

    apple = Mul(); tax = Mul()
    price = tax.forward(apple.forward(100.0, 2.0), 1.1)     # 100 * 2 * 1.1 = 220
    d_apples, d_tax = tax.backward(1.0)                     # 1.1, 200
    d_apple_price, d_count = apple.backward(d_apples)       # 2.2, 110

Inputs may be scalars or arrays; when NumPy broadcasts one input against the other, its
gradient is summed back to its own shape (a broadcast copies a value, so the copies'
gradients add up).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` over the axes that broadcasting added to or stretched in ``shape``."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad.item() if shape == () else grad


class Node:
    """A node with two inputs. ``__call__`` is ``forward``."""

    def forward(self, x: Any, y: Any) -> Any:
        raise NotImplementedError

    def backward(self, dout: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def __call__(self, x: Any, y: Any) -> Any:
        return self.forward(x, y)

    def _shapes(self, x: Any, y: Any) -> None:
        self._x_shape, self._y_shape = np.shape(x), np.shape(y)

    def _reduce(self, dx: Any, dy: Any) -> tuple[Any, Any]:
        return (
            _unbroadcast(np.asarray(dx), self._x_shape),
            _unbroadcast(np.asarray(dy), self._y_shape),
        )


class Mul(Node):
    """``out = x * y``; ``dx = dout * y``, ``dy = dout * x`` (each input scales the other)."""

    def forward(self, x: Any, y: Any) -> Any:
        self._shapes(x, y)
        self.x, self.y = x, y
        return x * y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        return self._reduce(dout * np.asarray(self.y), dout * np.asarray(self.x))


class Add(Node):
    """``out = x + y``; ``dx = dout``, ``dy = dout`` (addition passes the gradient through)."""

    def forward(self, x: Any, y: Any) -> Any:
        self._shapes(x, y)
        return x + y

    def backward(self, dout: Any) -> tuple[Any, Any]:
        ones = np.ones(np.broadcast_shapes(self._x_shape, self._y_shape))
        return self._reduce(dout * ones, dout * ones)


__all__ = ["Add", "Mul", "Node"]
