"""Weight initialisers, by name.

Each takes a shape ``(fan_in, fan_out)`` (the layout of :class:`bareprop.Linear`), a
``numpy.random.Generator`` and a dtype, and returns a new array::

    glorot_uniform   U(-a, a),  a = sqrt(6 / (fan_in + fan_out))     (Glorot & Bengio, 2010)
    glorot_normal    N(0, s^2), s = sqrt(2 / (fan_in + fan_out))
    he_uniform       U(-a, a),  a = sqrt(6 / fan_in)                 (He et al., 2015)
    he_normal        N(0, s^2), s = sqrt(2 / fan_in)
    normal           N(0, std^2), std given (default 0.01)
    zeros            0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bareprop.validation import check_dtype, check_positive, check_rng, is_int

Initializer = Callable[..., np.ndarray]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) not in (1, 2)
        or not all(is_int(d) and d > 0 for d in shape)
    ):
        raise ValueError(f"shape must be (fan_in, fan_out) of positive ints, got {shape!r}")
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def glorot_uniform(
    shape: tuple[int, ...], rng: np.random.Generator, dtype: Any = np.float32
) -> np.ndarray:
    (fan_in, fan_out), rng, dtype = _fans(shape), check_rng(rng), check_dtype(dtype)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape).astype(dtype)


def glorot_normal(
    shape: tuple[int, ...], rng: np.random.Generator, dtype: Any = np.float32
) -> np.ndarray:
    (fan_in, fan_out), rng, dtype = _fans(shape), check_rng(rng), check_dtype(dtype)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def he_uniform(
    shape: tuple[int, ...], rng: np.random.Generator, dtype: Any = np.float32
) -> np.ndarray:
    (fan_in, _), rng, dtype = _fans(shape), check_rng(rng), check_dtype(dtype)
    a = np.sqrt(6.0 / fan_in)
    return rng.uniform(-a, a, size=shape).astype(dtype)


def he_normal(
    shape: tuple[int, ...], rng: np.random.Generator, dtype: Any = np.float32
) -> np.ndarray:
    (fan_in, _), rng, dtype = _fans(shape), check_rng(rng), check_dtype(dtype)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def normal(
    shape: tuple[int, ...], rng: np.random.Generator, dtype: Any = np.float32, *, std: float = 0.01
) -> np.ndarray:
    _, rng, dtype = _fans(shape), check_rng(rng), check_dtype(dtype)
    check_positive(std, "std")
    return (rng.standard_normal(shape) * std).astype(dtype)


def zeros(
    shape: tuple[int, ...], rng: np.random.Generator | None = None, dtype: Any = np.float32
) -> np.ndarray:
    _fans(shape)
    return np.zeros(shape, dtype=check_dtype(dtype))


INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "normal": normal,
    "zeros": zeros,
}


def get_initializer(name: str, **kwargs: Any) -> Initializer:
    """Look up an initialiser by name; ``kwargs`` (``std`` for ``normal``) are bound to it.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if not isinstance(name, str) or name not in INITIALIZERS:
        raise ValueError(f"init must be one of {', '.join(INITIALIZERS)}; got {name!r}")
    fn = INITIALIZERS[name]
    if kwargs:
        if name != "normal":
            raise ValueError(f"init {name!r} takes no options, got {sorted(kwargs)}")

        def bound(
            shape: tuple[int, ...], rng: np.random.Generator, dtype: Any = np.float32
        ) -> np.ndarray:
            return fn(shape, rng, dtype, **kwargs)

        return bound
    return fn


def draw(
    init: str | Initializer, shape: tuple[int, ...], rng: np.random.Generator, dtype: Any
) -> np.ndarray:
    """Initial values of ``shape`` from ``init`` (a name or a callable ``(shape, rng, dtype)``),
    checked: a callable must return finite numbers of that shape."""
    if isinstance(init, str):
        return np.asarray(get_initializer(init)(shape, rng, dtype), dtype=dtype)
    if not callable(init):
        raise TypeError(
            f"init must be an initialiser name ({', '.join(INITIALIZERS)}) or a function "
            f"(shape, rng, dtype) -> array, got {type(init).__name__} {init!r}"
        )
    values = np.asarray(init(shape, rng, dtype))
    if values.shape != tuple(shape) or values.dtype.kind not in "fiu":
        raise ValueError(
            f"init returned an array of {values.dtype} {values.shape}, not numbers of shape "
            f"{tuple(shape)}"
        )
    values = values.astype(dtype, copy=False)
    if not np.isfinite(values).all():
        raise ValueError("init returned NaN or infinite values")
    return values


__all__ = [
    "INITIALIZERS",
    "Initializer",
    "draw",
    "get_initializer",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "normal",
    "zeros",
]
