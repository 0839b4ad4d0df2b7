"""Argument checks at the public boundary (internal helpers).

Each raises ``ValueError`` or ``TypeError`` naming the argument and the value received, in the
style of ``torch.optim``'s ``Invalid learning rate: -1``.
"""

from __future__ import annotations

import math
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


MAX_COUNT = 2**53
"""The largest count (epochs, steps, samples) accepted: the largest integer a float holds
exactly, so that a schedule's ``step / total_steps`` and a loss's mean stay exact."""


def show(value: Any) -> str:
    """``repr(value)``, shortened if huge (an int of 400 digits is named by its length)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:16]}... ({len(text)} characters)"


def finite_float(value: Any) -> float | None:
    """``value`` as a finite float if it is a real number (``bool`` excluded) a float can hold;
    None otherwise (a string, None, NaN, infinity, ``10**400``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    try:
        f = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return f if math.isfinite(f) else None


def check_positive(value: Any, name: str, *, integer: bool = False) -> None:
    """Reject anything that is not a finite number > 0 (an int in ``[1, MAX_COUNT]`` if
    ``integer``). The one check of a scalar hyper-parameter, with :func:`check_range`."""
    f = finite_float(value)
    if integer and is_int(value) and value > MAX_COUNT:
        raise ValueError(
            f"{name} is {show(value)}, more than 2**53, the largest count bareprop keeps exactly"
        )
    if f is None or f <= 0 or (integer and not is_int(value)):
        what = "a positive integer" if integer else "a finite positive number"
        raise ValueError(f"{name} must be {what}, got {show(value)}")


def check_range(value: Any, name: str, low: float, high: float, *, high_open: bool = True) -> None:
    """Reject a value outside ``[low, high)`` (or ``[low, high]`` if not ``high_open``), and
    anything that is not a finite real number."""
    f = finite_float(value)
    if f is None or not (low <= f and (f < high if high_open else f <= high)):
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must be in [{low}, {high}{bracket}, got {show(value)}")


def _all_finite(arr: np.ndarray, rows: int = 4096) -> bool:
    """``np.isfinite(arr).all()`` by blocks of rows: no bool copy of a whole training set."""
    if arr.dtype.kind != "f":
        return True
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


def as_numbers(x: Any, name: str) -> np.ndarray:
    """``x`` (an array, a list, a number) as an array of numbers; TypeError naming ``name`` for
    strings, objects or complex numbers, ValueError for a ragged list."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"{name} must be an array of numbers, got {type(x).__name__} ({e})"
        ) from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return arr


def as_float_array(x: Any, name: str, dtype: Any = None) -> np.ndarray:
    """``x`` as a float array: cast to ``dtype`` if given; otherwise kept if float32 or float64,
    and cast to float64 if it holds integers, booleans or floats of another width.

    The dtype rule of every layer's ``forward``/``backward`` and every loss (see
    :mod:`bareprop.nn.layer`): no copy when ``x`` already has the dtype.
    """
    arr = as_numbers(x, name)
    if dtype is not None:
        target = np.dtype(dtype)
    else:
        target = arr.dtype if arr.dtype in FLOAT_DTYPES else np.dtype(np.float64)
    return arr if arr.dtype == target else arr.astype(target)


_LAYER_METHODS = ("forward", "backward", "input_shape", "output_shape")


def check_model_input(
    model: Any, x: Any, name: str = "x", *, dtype: Any = None, model_name: str = "model"
) -> tuple[np.ndarray, tuple[int, ...]]:
    """The one check of an input batch for ``model``; returns it cast, and the per-sample
    output shape the model gives for it.

    ``x`` must hold numbers, be ``(N, *shape)`` with a per-sample ``shape`` that the model
    accepts (``model.output_shape(shape)`` names the layer that refuses it; a model with a fixed
    1-D input takes ``(N, features)`` and a wrong count is named as such), and be finite
    **after** the cast to ``dtype`` (default: the model's dtype), so a float64 value too large
    for a float32 model is refused, not turned into infinity.
    """
    if not all(callable(getattr(model, m, None)) for m in _LAYER_METHODS):  # a Layer's
        raise TypeError(
            f"{model_name} must be a Layer (e.g. a Sequential), got {type(model).__name__}"
        )
    dtype = np.dtype(getattr(model, "dtype", np.float32) if dtype is None else dtype)
    arr = as_numbers(x, name)
    shape = model.input_shape()
    if shape is not None and len(shape) == 1:
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-D (samples, features), got shape {arr.shape}")
        if arr.shape[1] != shape[0]:
            raise ValueError(
                f"{name} has {arr.shape[1]} features but the model expects {shape[0]} "
                f"(got shape {arr.shape})"
            )
    elif arr.ndim < 2 or (shape is not None and tuple(arr.shape[1:]) != tuple(shape)):
        want = "(N, ...)" if shape is None else f"(N, {', '.join(map(str, shape))})"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    try:
        out_shape = model.output_shape(tuple(arr.shape[1:]))
    except ValueError as e:
        raise ValueError(f"{name} of shape {arr.shape} does not fit the model: {e}") from None
    with np.errstate(over="ignore", invalid="ignore"):
        cast = arr.astype(dtype, copy=False)
    if not _all_finite(cast):
        bad = int(np.size(cast) - np.count_nonzero(np.isfinite(cast)))
        if arr.dtype != cast.dtype and _all_finite(arr):
            raise ValueError(
                f"{name} has {bad} value(s) too large for the model's {dtype} (largest "
                f"magnitude {float(np.abs(arr).max()):.3g}; {dtype} holds up to "
                f"{float(np.finfo(dtype).max):.3g})"
            )
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return cast, tuple(out_shape)


def check_labels(
    y: Any, n_classes: int, name: str = "y", *, n_samples: int | None = None
) -> np.ndarray:
    """Check a 1-D array of integer class labels in ``[0, n_classes)``."""
    try:
        arr = np.asarray(y)
    except (ValueError, TypeError):
        raise ValueError(
            f"{name} must be a 1-D array of class labels, got a ragged {type(y).__name__}"
        ) from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(
            f"{name} must hold integer class labels, got {type(y).__name__} of dtype {arr.dtype}"
        )
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


def check_int(value: Any, name: str, *, minimum: int = 1, maximum: int = MAX_COUNT) -> int:
    """``value`` as an ``int`` if it is an integer in ``[minimum, maximum]``."""
    if not is_int(value):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {show(value)}")
    if value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {show(value)}")
    if value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {show(value)}")
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


def check_forward_done(done: bool, who: str) -> None:
    """The one check that a ``backward`` follows a ``forward`` (layers, losses, graph nodes)."""
    if not done:
        raise ValueError(
            f"{who}.backward() was called before {who}.forward(): there is no forward pass "
            "to differentiate"
        )
