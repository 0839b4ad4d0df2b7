"""Fast pooling over channels-last ``(N, H, W, C)`` arrays: strided window views.

The same maths as :mod:`bareprop.nn.pool` (a test proves the results equal), arranged for
speed. Pure functions of their arguments and a :class:`~bareprop.fast.workspace.Workspace`.

API: ``max_pool2d_forward(x, kernel_size, stride, ws, relu=False) -> y`` and
``max_pool2d_backward(dy, ws) -> dx``, ``avg_pool2d_forward`` / ``avg_pool2d_backward`` alike.

How: passes over the ``kH * kW`` strided views of the windows (measured faster than reshaping
to ``(N, Ho, kH, Wo, kW, C)`` and reducing). Max-pool forward keeps each window's argmax
offset (torch's rule: the first maximum, or the last NaN); backward writes ``dy`` there, and
when windows do not overlap it writes each view once instead of zeroing and adding. When
numba is installed, max pooling is a compiled loop instead (:mod:`bareprop.fast.image_loops`),
one pass each way, the same floats (the reference CNN's first pool, in a training step: 1.0
against 4.1 ms forward, 2.1 against 3.9 backward; ``benchmarks/cnn_step.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.fast import kernels
from bareprop.fast.workspace import Workspace, out_size, window_views


def _pool_setup(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], ws: Workspace
) -> tuple[list[np.ndarray], np.ndarray]:
    n, h, w, c = x.shape
    ho, wo = out_size(h, kernel[0], stride[0]), out_size(w, kernel[1], stride[1])
    ws.saved.update(x=x, kernel=kernel, stride=stride, out=(ho, wo))
    return window_views(x, kernel, stride, (ho, wo)), ws.get("y", (n, ho, wo, c), x.dtype)


def _dx_views(ws: Workspace, dtype: Any) -> tuple[list[np.ndarray], bool]:
    """dx's window views; True if they do not overlap (each is then written once, not added).

    Pixels no window covers (when windows skip some) are zeroed here; with overlap, all are.
    """
    x, (kh, kw), (sh, sw), (ho, wo) = (ws.saved[k] for k in ("x", "kernel", "stride", "out"))
    dx = ws.get("dx", x.shape, dtype)
    disjoint = sh >= kh and sw >= kw
    if not disjoint:
        dx.fill(0)
    elif sh > kh or sw > kw or sh * ho < x.shape[1] or sw * wo < x.shape[2]:
        dx.fill(0)  # gaps between or after the windows: simplest to zero all first
    ws.saved["dx"] = dx
    return window_views(dx, (kh, kw), (sh, sw), (ho, wo)), disjoint


def max_pool2d_forward(
    x: np.ndarray,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    ws: Workspace,
    relu: bool = False,
) -> np.ndarray:
    """``y[n, p, q, c] = max over the window``; x ``(N, H, W, C)`` -> ``(N, Ho, Wo, C)``.

    Keeps each window's argmax offset ``i kW + j`` for backward: the first maximum in
    row-major order, or the last NaN (torch's rule, as :class:`bareprop.nn.MaxPool2d`).
    With ``relu``, ``max(y, 0)``: a ReLU before the pool, fused. The maximum commutes with it,
    and backward sends the gradient where the ReLU and then the pool would have.
    Backward reads ``y`` and the argmax: neither may change in between.
    """
    views, y = _pool_setup(x, kernel_size, stride, ws)
    (kh, kw), (sh, sw) = kernel_size, stride
    arg = ws.get("arg", y.shape, np.uint8 if kh * kw <= 256 else np.int32)
    ws.saved.update(y=y, arg=arg, relu=relu)
    compiled = kernels.compiled_for(x)
    if compiled is not None:  # each maximum and its offset in the window, in one pass
        compiled.max_pool(x, y, arg, kh, kw, sh, sw, relu, x.dtype.type(0))
        return y
    ymax = ws.get("ymax", y.shape, y.dtype) if relu else y
    if len(views) == 1:
        np.copyto(ymax, views[0])
    else:
        np.maximum(views[0], views[1], out=ymax)  # NaN propagates, as torch's maximum
        for v in views[2:]:
            np.maximum(ymax, v, out=ymax)
    _argmax(views, ymax, arg, ws)
    if relu:
        np.maximum(ymax, 0, out=y)
    return y


def _argmax(views: list[np.ndarray], y: np.ndarray, arg: np.ndarray, ws: Workspace) -> None:
    """``arg`` = the first offset whose view equals the maximum ``y``; in a window whose
    maximum is NaN, its last NaN (torch's rule). In passes of arithmetic over whole arrays:
    7x faster here than ``np.copyto(..., where=)``."""
    hit, step = ws.get("hit", y.shape, np.bool_), ws.get("step", y.shape, arg.dtype)

    def assign(k: int) -> None:  # arg = where(hit, k, arg); uint8 wraps around, harmlessly
        np.subtract(arg.dtype.type(k), arg, out=step)
        np.multiply(step, hit, out=step)
        np.add(arg, step, out=arg)

    arg.fill(0)
    for k in range(len(views) - 1, -1, -1):  # last to first: the first equal one stays
        np.equal(views[k], y, out=hit)
        assign(k)
    if np.isnan(y, out=hit).any():  # rare: a NaN window's maximum is its last NaN
        for k, v in enumerate(views):
            np.isnan(v, out=hit)
            assign(k)


def max_pool2d_backward(dy: np.ndarray, ws: Workspace) -> np.ndarray:
    """``dx``: each window's ``dy`` at its argmax offset, 0 elsewhere (summed where windows
    overlap). After a fused ReLU, ``dy`` is first multiplied by ``[y > 0]``, the ReLU's
    backward. The compiled loop takes ``dy`` in ``y``'s dtype."""
    x, y, arg, relu = (ws.saved[k] for k in ("x", "y", "arg", "relu"))
    (kh, kw), (sh, sw) = ws.saved["kernel"], ws.saved["stride"]
    dy = np.ascontiguousarray(dy, dtype=y.dtype)
    compiled = kernels.compiled_for(dy, y)
    if compiled is not None:
        dx = ws.get("dx", x.shape, y.dtype)
        f = y.dtype.type
        compiled.max_pool_backward(dy, y, arg, dx, kh, kw, sh, sw, relu, f(0), f(1))
        return dx
    if relu:
        mask = np.greater(y, 0, out=ws.get("mask", y.shape, np.bool_))
        dy = np.multiply(dy, mask, out=ws.get("dy", y.shape, y.dtype))
    dx_views, disjoint = _dx_views(ws, y.dtype)
    hit, part = ws.get("hit", y.shape, np.bool_), ws.get("part", y.shape, y.dtype)
    for k, d in enumerate(dx_views):
        np.equal(arg, k, out=hit)
        if disjoint:
            np.multiply(dy, hit, out=d)
        else:
            d += np.multiply(dy, hit, out=part)
    return ws.saved["dx"]


def avg_pool2d_forward(
    x: np.ndarray, kernel_size: tuple[int, int], stride: tuple[int, int], ws: Workspace
) -> np.ndarray:
    """``y[n, p, q, c] = mean over the window``; x ``(N, H, W, C)`` -> ``(N, Ho, Wo, C)``."""
    views, y = _pool_setup(x, kernel_size, stride, ws)
    np.copyto(y, views[0])
    for v in views[1:]:
        y += v
    y /= len(views)  # sum, then divide: the order of the readable layer's float operations
    return y


def avg_pool2d_backward(dy: np.ndarray, ws: Workspace) -> np.ndarray:
    """``dx``: every pixel of a window gets ``dy / (kH kW)`` (summed where windows overlap)."""
    dx_views, disjoint = _dx_views(ws, dy.dtype)
    share = np.divide(dy, len(dx_views), out=ws.get("share", dy.shape, dy.dtype))
    for d in dx_views:
        if disjoint:
            np.copyto(d, share)
        else:
            d += share
    return ws.saved["dx"]
