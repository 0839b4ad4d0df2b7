"""Argument checks shared by the CNN layers (internal).

Each raises ``ValueError`` or ``TypeError`` naming the argument and the value received.
"""

from __future__ import annotations

from typing import Any


def is_int(value: Any) -> bool:
    """True for a Python or NumPy integer (``bool`` excluded)."""
    import numpy as np

    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as an ``int`` if it is an integer ``>= minimum``."""
    if not is_int(value):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def pair(value: Any, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (torch's ``_pair``) as ``(height, width)``, each ``>= minimum``.

    A list is accepted as well as a tuple, so a config read back from JSON rebuilds the layer.
    """
    if is_int(value):
        items = [value, value]
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        items = list(value)
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    for item in items:
        if not is_int(item):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
        if item < minimum:
            what = "positive" if minimum == 1 else f">= {minimum}"
            raise ValueError(f"{name} must be {what} (an int or a pair), got {value!r}")
    return int(items[0]), int(items[1])


def check_shape(shape: Any, name: str) -> tuple[int, ...]:
    """A per-sample shape: a tuple of non-negative ints."""
    if not isinstance(shape, (tuple, list)) or not all(is_int(d) and d >= 0 for d in shape):
        raise ValueError(f"{name} must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(d) for d in shape)


def window_count(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """How many windows of ``kernel`` fit along an axis: ``floor((size + 2p - k) / s) + 1``."""
    return (size + 2 * padding - kernel) // stride + 1
