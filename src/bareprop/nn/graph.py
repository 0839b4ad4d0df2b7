"""Computational-graph nodes with two inputs: ``Mul`` and ``Add``.

The layer-by-layer design the notebooks teach, one operation at a time: each node's
``forward(x, y)`` keeps what its ``backward`` needs, and ``backward(dout)`` returns the
gradients with respect to both inputs by the chain rule. Chained by hand, they differentiate
any expression built from them::

    apple = Mul(); tax = Mul()
    price = tax.forward(apple.forward(100.0, 2.0), 1.1)     # 100 * 2 * 1.1 = 220
    d_apples, d_tax = tax.backward(1.0)                     # 1.1, 200
    d_apple_price, d_count = apple.backward(d_apples)       # 2.2, 110

Inputs may be numbers or arrays (a list is taken as an array, so ``Add()([1, 2], [3, 4])`` is
``[4, 6]``, never a concatenation); when NumPy broadcasts one input against the other, its
gradient is summed back to its own shape (a broadcast copies a value, so the copies'
gradients add up). ``backward`` needs a ``forward`` first and a ``dout`` of the output's shape;
each is a ``ValueError`` otherwise, and a string input a ``TypeError``.

Each node also keeps what a picture of the graph needs: its ``inputs`` and ``out`` after
``forward``, ``dout`` and ``grads`` after ``backward``. :func:`links` finds which node feeds
which (an input that *is* an earlier node's output object), and
:func:`bareprop.show.graph_svg.draw_dot` draws the graph with every value and gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bareprop.validation import as_numbers, check_forward_done


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` over the axes that broadcasting added to or stretched in ``shape``."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad.item() if shape == () else grad


def _operand(value: Any, name: str) -> Any:
    """A number or an array of numbers, kept as given (:func:`links` finds an earlier node's
    output by identity); a list or tuple becomes an array. TypeError for anything else."""
    arr = as_numbers(value, name)
    return value if isinstance(value, (np.ndarray, np.generic, int, float)) else arr


class Node:
    """A node with two inputs. ``__call__`` is ``forward``.

    Attributes (for drawing): ``inputs`` ``(x, y)`` and ``out`` of the last ``forward``;
    ``dout`` and ``grads`` ``(dx, dy)`` of the last ``backward`` (None before).
    """

    op = "?"
    inputs: tuple[Any, Any] | None = None
    out: Any = None
    dout: Any = None
    grads: tuple[Any, Any] | None = None

    def forward(self, x: Any, y: Any) -> Any:
        raise NotImplementedError

    def backward(self, dout: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def __call__(self, x: Any, y: Any) -> Any:
        return self.forward(x, y)

    def _shapes(self, x: Any, y: Any) -> tuple[Any, Any]:
        """The inputs as numbers or arrays (see the module doc), remembered with their shapes."""
        x, y = _operand(x, "x"), _operand(y, "y")
        self._x_shape, self._y_shape = np.shape(x), np.shape(y)
        self.inputs = (x, y)
        return x, y

    def _upstream(self, dout: Any) -> np.ndarray:
        """``dout`` checked: a forward ran, and ``dout`` has its output's shape."""
        check_forward_done(self.inputs is not None, type(self).__name__)
        self.dout = dout
        arr = as_numbers(dout, "dout")
        if arr.shape != np.shape(self.out):
            raise ValueError(
                f"{type(self).__name__}.backward: dout has shape {arr.shape}, the output of the "
                f"last forward {np.shape(self.out)}"
            )
        return arr

    def _kept(self, out: Any) -> Any:
        self.out = out
        return out

    def _reduce(self, dx: Any, dy: Any) -> tuple[Any, Any]:
        self.grads = (
            _unbroadcast(np.asarray(dx), self._x_shape),
            _unbroadcast(np.asarray(dy), self._y_shape),
        )
        return self.grads


class Mul(Node):
    """``out = x * y``; ``dx = dout * y``, ``dy = dout * x`` (each input scales the other)."""

    op = "*"

    def forward(self, x: Any, y: Any) -> Any:
        x, y = self._shapes(x, y)
        self.x, self.y = x, y
        return self._kept(x * y)

    def backward(self, dout: Any) -> tuple[Any, Any]:
        dout = self._upstream(dout)
        return self._reduce(dout * np.asarray(self.y), dout * np.asarray(self.x))


class Add(Node):
    """``out = x + y``; ``dx = dout``, ``dy = dout`` (addition passes the gradient through)."""

    op = "+"

    def forward(self, x: Any, y: Any) -> Any:
        x, y = self._shapes(x, y)
        return self._kept(x + y)

    def backward(self, dout: Any) -> tuple[Any, Any]:
        dout = self._upstream(dout)
        ones = np.ones(np.broadcast_shapes(self._x_shape, self._y_shape))
        return self._reduce(dout * ones, dout * ones)


def links(nodes: Sequence[Node]) -> list[tuple[int | None, int | None]]:
    """For each node (in the order they ran forward), where each of its two inputs came from:
    the index of the earlier node whose output object it is, or None for a leaf (a value
    given from outside). Linked by identity, not equality, so two equal values stay apart;
    Python caches small ints, so give values as floats or arrays.

    Raises:
        ValueError: a node has not run ``forward``.
    """
    found: list[tuple[int | None, int | None]] = []
    for i, node in enumerate(nodes):
        if node.inputs is None:
            raise ValueError(f"node {i} ({type(node).__name__}) has not run forward")
        found.append(tuple(_source(nodes[:i], value) for value in node.inputs))  # type: ignore[arg-type]
    return found


def _source(earlier: Sequence[Node], value: Any) -> int | None:
    for j in range(len(earlier) - 1, -1, -1):
        if earlier[j].out is value:
            return j
    return None


__all__ = ["Add", "Mul", "Node", "links"]
