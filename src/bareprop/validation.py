"""Argument checks at the public boundary (internal helpers).

Each raises ``ValueError`` or ``TypeError`` naming the argument and the value received, in the
style of ``torch.optim``'s ``Invalid learning rate: -1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """Return ``dtype`` as a NumPy dtype if it is float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    return dt


def check_positive(value: Any, name: str, *, integer: bool = False) -> None:
    """Reject anything that is not a finite number > 0 (an int > 0 if ``integer``)."""
    kind = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = not isinstance(value, bool) and isinstance(value, kind) and np.isfinite(value)
    if not ok or value <= 0:
        what = "a positive integer" if integer else "a finite positive number"
        raise ValueError(f"{name} must be {what}, got {value!r}")


def check_range(value: Any, name: str, low: float, high: float, *, high_open: bool = True) -> None:
    """Reject a value outside ``[low, high)`` (or ``[low, high]`` if not ``high_open``)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = (
        ok
        and np.isfinite(value)
        and low <= value
        and (value < high if high_open else value <= high)
    )
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must be in [{low}, {high}{bracket}, got {value!r}")


def _all_finite(arr: np.ndarray, rows: int = 4096) -> bool:
    """``np.isfinite(arr).all()`` by blocks of rows: no bool copy of a whole training set."""
    if arr.ndim < 2:
        return bool(np.isfinite(arr).all())
    return all(np.isfinite(arr[i : i + rows]).all() for i in range(0, len(arr), rows))


def check_features(x: Any, name: str = "x", *, n_features: int | None = None) -> np.ndarray:
    """Check a 2-D array of finite numbers, optionally with ``n_features`` columns."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, features), got shape {arr.shape}")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"{name} has {arr.shape[1]} features but the model expects {n_features} "
            f"(got shape {arr.shape})"
        )
    if arr.dtype.kind == "f" and not _all_finite(arr):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


def check_labels(
    y: Any, n_classes: int, name: str = "y", *, n_samples: int | None = None
) -> np.ndarray:
    """Check a 1-D array of integer class labels in ``[0, n_classes)``."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (samples,), got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer class labels, got non-integer values")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} labels but there are {n_samples} samples")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        bad = arr[(arr < 0) | (arr >= n_classes)][0]
        raise ValueError(
            f"{name} has label {int(bad)} outside the model's classes 0..{n_classes - 1}"
        )
    return arr


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator`` (a fresh unseeded one for None); never the global state."""
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name} must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)), "
            f"got {type(rng).__name__} {rng!r}"
        )
    return rng


def is_int(value: Any) -> bool:
    """True for a Python or NumPy integer (``bool`` excluded)."""
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
