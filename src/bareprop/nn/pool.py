"""``MaxPool2d`` and ``AvgPool2d`` over ``(N, C, H, W)``, as torch (no padding, floor mode).

The readable version loops over the offsets ``(i, j)`` inside a ``kH x kW`` window; at each
offset ``x[:, :, i::s, j::s]`` (cut to ``Ho x Wo``) holds, for every output position, the input
pixel at that offset of its window::

    max:  y[n, c, p, q] = max_{i, j} x[n, c, s*p + i, s*q + j]
          dx[n, c, s*p + i*, s*q + j*] += dy[n, c, p, q]    at the window's argmax (i*, j*)
    avg:  y[n, c, p, q] = 1/(kH kW) sum_{i, j} x[n, c, s*p + i, s*q + j]
          dx[n, c, s*p + i, s*q + j]   += dy[n, c, p, q] / (kH kW)    for every (i, j)

Windows overlap when the stride is smaller than the kernel, hence ``+=``.

Ties (max): the gradient goes to the FIRST maximum of the window in row-major order, the rule
of torch's CPU kernel (it replaces the running maximum only on a strictly greater value).
After a ReLU ties are common (a window of zeros), so the rule matters for parity.

The fast versions are in :mod:`bareprop.fast.pool`; a test proves them equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.nn.layer import Layer, register_layer
from bareprop.validation import check_shape, pair, window_count


def _pool_args(kernel_size: Any, stride: Any = None) -> dict[str, tuple[int, int]]:
    """Validate a pool's arguments (its config); ``stride`` defaults to ``kernel_size``."""
    kernel = pair(kernel_size, "kernel_size")
    return {"kernel_size": kernel, "stride": kernel if stride is None else pair(stride, "stride")}


class Pool2d(Layer):
    """What the two pools share: arguments, shapes, the window views, the contract."""

    def __init__(
        self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None
    ) -> None:
        args = _pool_args(kernel_size, stride)
        self.kernel_size = args["kernel_size"]
        self.stride = args["stride"]

    def _windows(self, x: np.ndarray, ho: int, wo: int) -> list[tuple[int, int, np.ndarray]]:
        """``(i, j, x[:, :, i::sH, j::sW])`` per window offset, row-major; each (N, C, Ho, Wo)."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return [
            (i, j, x[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw])
            for i in range(kh)
            for j in range(kw)
        ]

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride)}

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> list[tuple[int, ...]]:
        """No parameters; the config is validated all the same."""
        _pool_args(**config)
        return []

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(C, H, W) -> (C, Ho, Wo)``; ValueError for a wrong ndim or a window too large."""
        name = type(self).__name__
        shape = check_shape(shape, "shape")
        if len(shape) != 3:
            raise ValueError(f"{name} expects a per-sample shape (C, H, W), got {shape}")
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if shape[1] < kh or shape[2] < kw:
            raise ValueError(
                f"{name}'s {kh}x{kw} window is larger than its input {shape[1]}x{shape[2]} "
                f"(per-sample shape {shape})"
            )
        return shape[0], window_count(shape[1], kh, sh), window_count(shape[2], kw, sw)


@register_layer
class MaxPool2d(Pool2d):
    """Max pooling, as ``torch.nn.MaxPool2d`` (padding 0, dilation 1, floor mode).

    Args:
        kernel_size: ``k`` or ``(kH, kW)``, the window.
        stride: ``s`` or ``(sH, sW)``; defaults to ``kernel_size`` (non-overlapping windows).

    Shapes: x ``(N, C, H, W)`` -> y ``(N, C, Ho, Wo)``, ``Ho = floor((H - kH) / sH) + 1``.
    Ties send the gradient to the first maximum in row-major order, as torch on the CPU; a NaN
    in a window is its maximum (the last NaN, if several), as in torch.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:  # x: (N, C, H, W)
        x = self._begin_forward(x)  # (N, C, H, W) or a named error
        ho, wo = self.output_shape(x.shape[1:])[1:]
        self._x_shape = x.shape
        windows = self._windows(x, ho, wo)
        y = windows[0][2].copy()  # (N, C, Ho, Wo): the running maximum
        arg = np.zeros(y.shape, dtype=np.intp)  # which offset holds it, k = i * kW + j
        for k, (_, _, v) in enumerate(windows[1:], start=1):
            greater = v > y  # strictly: on a tie the earlier offset keeps it (torch's rule)
            greater |= np.isnan(v)  # and a NaN takes it (torch's rule too)
            y = np.where(greater, v, y)
            arg = np.where(greater, k, arg)
        self._arg = arg
        return y  # (N, C, Ho, Wo)

    def backward(self, dy: np.ndarray) -> np.ndarray:  # dy: (N, C, Ho, Wo)
        dy = self._begin_backward(dy)
        ho, wo = dy.shape[2:]
        dx = np.zeros(self._x_shape, dtype=dy.dtype)  # (N, C, H, W)
        for k, (_, _, dx_view) in enumerate(self._windows(dx, ho, wo)):
            dx_view += np.where(self._arg == k, dy, 0)  # only the argmax of each window
        return dx


@register_layer
class AvgPool2d(Pool2d):
    """Average pooling, as ``torch.nn.AvgPool2d`` (padding 0, floor mode).

    Args:
        kernel_size: ``k`` or ``(kH, kW)``, the window.
        stride: ``s`` or ``(sH, sW)``; defaults to ``kernel_size`` (non-overlapping windows).

    Shapes: x ``(N, C, H, W)`` -> y ``(N, C, Ho, Wo)``, ``Ho = floor((H - kH) / sH) + 1``.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:  # x: (N, C, H, W)
        x = self._begin_forward(x)  # (N, C, H, W) or a named error
        ho, wo = self.output_shape(x.shape[1:])[1:]
        self._x_shape = x.shape
        area = self.kernel_size[0] * self.kernel_size[1]
        y = np.zeros((len(x), x.shape[1], ho, wo), dtype=x.dtype)
        for _, _, v in self._windows(x, ho, wo):
            y += v  # (N, C, Ho, Wo): the window's sum
        return y / area

    def backward(self, dy: np.ndarray) -> np.ndarray:  # dy: (N, C, Ho, Wo)
        dy = self._begin_backward(dy)
        ho, wo = dy.shape[2:]
        area = self.kernel_size[0] * self.kernel_size[1]
        share = dy / area  # every pixel of a window gets the same share of its gradient
        dx = np.zeros(self._x_shape, dtype=dy.dtype)  # (N, C, H, W)
        for _, _, dx_view in self._windows(dx, ho, wo):
            dx_view += share
        return dx
