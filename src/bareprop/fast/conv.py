"""Fast convolution and pooling: im2col and one GEMM, col2im, strided window views.

The same maths as :mod:`bareprop.nn.conv` and :mod:`bareprop.nn.pool` (a test proves the
results equal), arranged for speed. NumPy only; pure functions of their arguments and a
:class:`Workspace`.

Layout: channels-last. Every 4-D array here is ``(N, H, W, C)`` (NHWC), not the layers'
``(N, C, H, W)``: a window's pixels are then ``kH * kW`` runs of ``C`` contiguous values, the
im2col copy is one pass, and the GEMM's output ``(N * Ho * Wo, O)`` *is* the next NHWC
activation, with no transpose. :func:`to_channels_last` / :func:`to_channels_first` convert
at the edges (for one input channel, a free reshape). Weights keep torch's ``(O, C, kH, kW)``.

API:

* ``Workspace()``: the arrays one layer keeps across calls (outputs, scratch, what backward
  reads). An array a function returns lives in its workspace and is overwritten by the next
  call with that workspace: copy what you keep. A smaller batch reuses a view of a larger
  one's arrays, so the short last batch of an epoch allocates nothing.
* ``conv2d_forward(x, weight, bias, stride, padding, ws) -> y`` and
  ``conv2d_backward(dy, weight, ws, weight_grad, bias_grad, need_dx=True) -> dx | None``:
  backward writes (overwrites) ``weight_grad`` and ``bias_grad`` in place.
* ``max_pool2d_forward(x, kernel_size, stride, ws)`` / ``max_pool2d_backward(dy, ws)``,
  ``avg_pool2d_forward`` / ``avg_pool2d_backward`` alike.

How, in brief. Conv forward: ``col[(n, p, q), (i, j, c)] = xp[n, s*p + i, s*q + j, c]`` is a
copy of ``sliding_window_view``; with a bias, ``col`` has one more column of ones and the
weight matrix one more row, the bias, so ``y = col @ W`` adds it (and the same GEMM's
transpose, ``col.T @ dy``, yields the bias gradient as its last row). Conv backward for ``dx``
(col2im): ``dcol[i, j] = dy @ w[:, :, i, j]``, one batched GEMM into ``(kH * kW, M, C)``,
then each offset's slab is added to the window pixels it came from; in that order every
source is contiguous. Pools: ``np.maximum`` / ``np.add`` over the ``kH * kW`` strided views of
the windows (measured faster than reshaping to ``(N, Ho, kH, Wo, kW, C)`` and reducing);
max-pool backward routes ``dy`` to the first view equal to the maximum, torch's tie rule, and
when windows do not overlap it writes each view once instead of zeroing and adding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


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


def _out_size(size: int, kernel: int, stride: int) -> int:
    if size < kernel:
        raise ValueError(f"a window of {kernel} does not fit in an input of {size}")
    return (size - kernel) // stride + 1


def _window_views(
    a: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out: tuple[int, int]
) -> list[np.ndarray]:
    """``a[:, s*p + i, s*q + j, :]`` over ``(p, q)`` for each offset ``(i, j)``, row-major."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out
    return [
        a[:, i : i + sh * ho : sh, j : j + sw * wo : sw, :] for i in range(kh) for j in range(kw)
    ]


# --- convolution -----------------------------------------------------------------------------


def conv2d_forward(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    ws: Workspace,
) -> np.ndarray:
    """``y = conv(x, weight) + bias`` by im2col and one GEMM.

    Args:
        x: ``(N, H, W, C)``, channels-last.
        weight: ``(O, C, kH, kW)``, torch's layout.
        bias: ``(O,)`` or None.
        stride, padding: ``(sH, sW)`` and ``(pH, pW)``.
        ws: this layer's workspace; backward reads what forward leaves there.

    Returns:
        ``(N, Ho, Wo, O)``, channels-last, an array of ``ws``.
    """
    n, h, w, c = x.shape
    o, c_w, kh, kw = weight.shape
    if c != c_w:
        raise ValueError(f"conv2d_forward: x has {c} channels (last axis), the weight {c_w}")
    (sh, sw), (ph, pw) = stride, padding
    dtype = np.result_type(x, weight)
    xp = x
    if ph or pw:  # the borders are zeroed once, at allocation, and never written
        xp = ws.get("xp", (n, h + 2 * ph, w + 2 * pw, c), dtype, fill=0.0)
        xp[:, ph : ph + h, pw : pw + w, :] = x
    ho, wo = _out_size(xp.shape[1], kh, sh), _out_size(xp.shape[2], kw, sw)
    k, m, extra = kh * kw * c, n * ho * wo, int(bias is not None)
    col = ws.get("col", (m, k + extra), dtype, fill=1.0)  # a bias's column of ones stays 1
    col6 = col[:, :k].reshape(n, ho, wo, kh, kw, c)  # rows (n, p, q), columns (i, j, c)
    assert np.shares_memory(col6, col), "im2col must write into the workspace"
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # (N,Ho,Wo,C,kH,kW)
    np.copyto(col6, windows.transpose(0, 1, 2, 4, 5, 3))
    wmat = ws.get("wmat", (k + extra, o), dtype)  # rows (i, j, c), then the bias
    np.copyto(wmat[:k].reshape(kh, kw, c, o), weight.transpose(2, 3, 1, 0))
    if bias is not None:
        wmat[k] = bias
    y = ws.get("y", (m, o), dtype)
    np.matmul(col, wmat, out=y)
    ws.saved.update(col=col, x_shape=x.shape, kernel=(kh, kw), stride=stride, padding=padding)
    return y.reshape(n, ho, wo, o)


def conv2d_backward(
    dy: np.ndarray,
    weight: np.ndarray,
    ws: Workspace,
    weight_grad: np.ndarray,
    bias_grad: np.ndarray | None,
    need_dx: bool = True,
) -> np.ndarray | None:
    """Gradients of :func:`conv2d_forward`: sets ``weight_grad`` (and ``bias_grad``), returns dx.

    Args:
        dy: ``(N, Ho, Wo, O)``, channels-last.
        weight: ``(O, C, kH, kW)``, the weight of the forward.
        ws: the workspace of the forward.
        weight_grad: ``(O, C, kH, kW)``, overwritten with ``dL/dweight``.
        bias_grad: ``(O,)``, overwritten with ``dL/dbias``; None if there is no bias.
        need_dx: False skips the input gradient (a first layer's), returning None.

    Returns:
        ``dx`` of shape ``(N, H, W, C)`` (a view into ``ws``), or None.
    """
    col, (kh, kw), (sh, sw), (ph, pw) = (
        ws.saved[k] for k in ("col", "kernel", "stride", "padding")
    )
    n, h, w, c = ws.saved["x_shape"]
    _, ho, wo, o = dy.shape
    m, k = n * ho * wo, kh * kw * c
    dy2 = dy.reshape(m, o)
    dtype = np.result_type(dy, weight)
    gw = ws.get("gw", (col.shape[1], o), dtype)
    np.matmul(col.T, dy2, out=gw)  # (K [+1], O): dW, and the bias gradient from the ones
    np.copyto(weight_grad, gw[:k].reshape(kh, kw, c, o).transpose(3, 2, 0, 1))
    if bias_grad is not None:
        bias_grad[...] = gw[k]
    if not need_dx:
        return None
    wt = ws.get("wt", (kh * kw, o, c), dtype)  # w[:, :, i, j] for each offset
    np.copyto(wt.reshape(kh, kw, o, c), weight.transpose(2, 3, 0, 1))
    dcol = ws.get("dcol", (kh * kw, m, c), dtype)
    np.matmul(dy2, wt, out=dcol)  # dcol[i, j] = dy @ w[:, :, i, j]: (M, C) per offset
    dxp = ws.get("dxp", (n, h + 2 * ph, w + 2 * pw, c), dtype)
    dxp.fill(0)
    for view, slab in zip(_window_views(dxp, (kh, kw), (sh, sw), (ho, wo)), dcol, strict=True):
        view += slab.reshape(n, ho, wo, c)  # col2im: back to the pixels each window read
    return dxp[:, ph : ph + h, pw : pw + w, :]


# --- pooling ---------------------------------------------------------------------------------


def _pool_setup(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], ws: Workspace
) -> tuple[list[np.ndarray], np.ndarray]:
    n, h, w, c = x.shape
    ho, wo = _out_size(h, kernel[0], stride[0]), _out_size(w, kernel[1], stride[1])
    ws.saved.update(x=x, kernel=kernel, stride=stride, out=(ho, wo))
    return _window_views(x, kernel, stride, (ho, wo)), ws.get("y", (n, ho, wo, c), x.dtype)


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
    return _window_views(dx, (kh, kw), (sh, sw), (ho, wo)), disjoint


def max_pool2d_forward(
    x: np.ndarray, kernel_size: tuple[int, int], stride: tuple[int, int], ws: Workspace
) -> np.ndarray:
    """``y[n, p, q, c] = max over the window``; x ``(N, H, W, C)`` -> ``(N, Ho, Wo, C)``.

    Backward reads ``x`` and ``y``: neither may change in between.
    """
    views, y = _pool_setup(x, kernel_size, stride, ws)
    if len(views) == 1:
        np.copyto(y, views[0])
    else:
        np.maximum(views[0], views[1], out=y)
        for v in views[2:]:
            np.maximum(y, v, out=y)
    ws.saved["y"] = y
    return y


def max_pool2d_backward(dy: np.ndarray, ws: Workspace) -> np.ndarray:
    """``dx``: each window's ``dy`` at its first maximum in row-major order (torch's rule)."""
    x, y, (ho, wo) = ws.saved["x"], ws.saved["y"], ws.saved["out"]
    views = _window_views(x, ws.saved["kernel"], ws.saved["stride"], (ho, wo))
    dx_views, disjoint = _dx_views(ws, dy.dtype)
    hit, taken = ws.get("hit", y.shape, np.bool_), ws.get("taken", y.shape, np.bool_)
    part = ws.get("part", y.shape, dy.dtype)
    for k, (v, d) in enumerate(zip(views, dx_views, strict=True)):
        np.equal(v, y, out=hit)  # this offset holds the maximum ...
        if k:
            np.greater(hit, taken, out=hit)  # ... and no earlier offset did
        if disjoint:
            np.multiply(dy, hit, out=d)
        else:
            d += np.multiply(dy, hit, out=part)
        if k == 0:
            np.copyto(taken, hit)
        elif k < len(views) - 1:
            taken |= hit
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
