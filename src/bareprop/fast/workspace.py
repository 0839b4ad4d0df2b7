"""What the fast image functions share: a :class:`Workspace` of arrays kept across calls, the
conversions between the layers' ``(N, C, H, W)`` and the fast path's channels-last
``(N, H, W, C)``, and the window arithmetic of convolutions and pools.

* ``Workspace()``: the arrays one layer keeps across calls (outputs, scratch, what backward
  reads). An array a function returns lives in its workspace and is overwritten by the next
  call with that workspace: copy what you keep. A smaller batch reuses a view of a larger
  one's arrays, so the short last batch of an epoch allocates nothing.
* ``to_channels_last(x)`` / ``to_channels_first(x)``.
* ``out_size(size, kernel, stride)``: how many windows fit; ``window_views(a, kernel, stride,
  out)``: for each kernel offset, the strided view of ``a`` that the windows read there.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Workspace:
    """Named arrays kept across calls, and the state a forward leaves for its backward."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.saved: dict[str, Any] = {}

    def get(
        self, key: str, shape: tuple[int, ...], dtype: Any, fill: float | None = None
    ) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` kept under ``key`` (``fill``-ed when allocated).

        A kept array with more rows (axis 0) and otherwise the same shape is returned as a
        view of its first rows: values written once at allocation (``fill``) stay valid.
        """
        buf = self.arrays.get(key)
        if buf is not None and buf.shape == shape and buf.dtype == dtype:
            return buf
        if buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:] or len(buf) < shape[0]:
            buf = np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)
            self.arrays[key] = buf
        return buf[: shape[0]]


def to_channels_last(x: np.ndarray) -> np.ndarray:
    """``(N, C, H, W) -> (N, H, W, C)``, contiguous (a reshape, no copy, when C is 1)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def to_channels_first(x: np.ndarray) -> np.ndarray:
    """``(N, H, W, C) -> (N, C, H, W)``, contiguous."""
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def out_size(size: int, kernel: int, stride: int) -> int:
    """The number of windows of ``kernel`` at ``stride`` that fit in ``size``."""
    if size < kernel:
        raise ValueError(f"a window of {kernel} does not fit in an input of {size}")
    return (size - kernel) // stride + 1


def window_views(
    a: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out: tuple[int, int]
) -> list[np.ndarray]:
    """``a[:, s*p + i, s*q + j, :]`` over ``(p, q)`` for each offset ``(i, j)``, row-major."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out
    return [
        a[:, i : i + sh * ho : sh, j : j + sw * wo : sw, :] for i in range(kh) for j in range(kw)
    ]
