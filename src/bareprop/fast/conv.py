"""Fast convolution: im2col and one GEMM, col2im.

The same maths as :mod:`bareprop.nn.conv` (a test proves the results equal), arranged for
speed. Pure functions of their arguments and a :class:`Workspace`.

Layout: channels-last. Every 4-D array here is ``(N, H, W, C)`` (NHWC), not the layers'
``(N, C, H, W)``: a window's pixels are then ``kH * kW`` runs of ``C`` contiguous values, the
im2col copy is one pass, and the GEMM's output ``(N * Ho * Wo, O)`` *is* the next NHWC
activation, with no transpose. ``to_channels_last`` / ``to_channels_first`` (in
:mod:`bareprop.fast.workspace`) convert at the edges (for one input channel, a free reshape).
Weights keep torch's ``(O, C, kH, kW)``.

API:

* ``Workspace`` (:mod:`bareprop.fast.workspace`): the arrays one layer keeps across calls.
* ``conv2d_forward(x, weight, bias, stride, padding, ws) -> y`` and
  ``conv2d_backward(dy, weight, ws, weight_grad, bias_grad, need_dx=True) -> dx | None``:
  backward writes (overwrites) ``weight_grad`` and ``bias_grad`` in place.

How, in brief. Conv forward: ``col[(n, p, q), (i, j, c)] = xp[n, s*p + i, s*q + j, c]`` (xp:
x with its zero padding) is a copy of ``sliding_window_view``; with a bias, ``col`` has one
more column of ones and the weight matrix one more row, the bias, so ``y = col @ W`` adds it
(and the same GEMM's transpose, ``col.T @ dy``, yields the bias gradient as its last row).
Conv backward for ``dx`` (col2im): ``dcol = dy @ W.T``, one GEMM into the im2col layout
``(M, kH * kW * C)``, then each offset's slab is added to the window pixels it came from.
The two copies are compiled loops when numba is installed (:mod:`bareprop.fast.image_loops`:
one pass, the same floats; measured 3x faster than NumPy's for one input channel, 2x for
col2im); the NumPy versions below are the fallback. Both run a chunk of images at a time,
each chunk's GEMM right after its copy (:data:`CHUNK_BYTES`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bareprop.fast import kernels
from bareprop.fast.workspace import Workspace, out_size, window_views


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
    ho, wo = out_size(xp.shape[1], kh, sh), out_size(xp.shape[2], kw, sw)
    k, m, extra = kh * kw * c, n * ho * wo, int(bias is not None)
    col = ws.get("col", (m, k + extra), dtype, fill=1.0)  # a bias's column of ones stays 1
    wmat = ws.get("wmat", (k + extra, o), dtype)  # rows (i, j, c), then the bias
    np.copyto(wmat[:k].reshape(kh, kw, c, o), weight.transpose(2, 3, 1, 0))
    if bias is not None:
        wmat[k] = bias
    y = ws.get("y", (m, o), dtype)
    compiled = kernels.compiled_for(xp, col)
    for a, b in _chunks(n, ho * wo * col.shape[1] * col.itemsize):
        rows = slice(a * ho * wo, b * ho * wo)
        _im2col(xp[a:b], col[rows], (kh, kw), (sh, sw), (ho, wo), compiled)
        np.matmul(col[rows], wmat, out=y[rows])  # while this chunk of col is in cache
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
    wd = ws.get("wd", (o, k), dtype)  # rows o, columns (i, j, c): the forward's W, transposed
    np.copyto(wd.reshape(o, kh, kw, c), weight.transpose(0, 2, 3, 1))
    dxp = ws.get("dxp", (n, h + 2 * ph, w + 2 * pw, c), dtype)
    chunks = _chunks(n, ho * wo * k * np.dtype(dtype).itemsize)
    dcol = ws.get("dcol", ((chunks[0][1] - chunks[0][0]) * ho * wo, k), dtype)  # one chunk's
    compiled = kernels.compiled_for(dcol, dxp)
    for a, b in chunks:
        part = dcol[: (b - a) * ho * wo]
        np.matmul(dy2[a * ho * wo : b * ho * wo], wd, out=part)  # rows (n, p, q), cols (i, j, c)
        _col2im(part, dxp[a:b], (kh, kw), (sh, sw), (ho, wo), compiled)
    return dxp[:, ph : ph + h, pw : pw + w, :]


CHUNK_BYTES = 1 << 20
"""How much of an im2col matrix is made (or, backward, used) at a time: about half of the
2 MB L2 cache of a core here, so that a chunk is still in cache when its GEMM reads it
(measured: a training step of the reference CNN 10% faster than whole batches at once; 0.5 to
2 MB all gave the same)."""


def _chunks(n: int, bytes_per_image: int) -> list[tuple[int, int]]:
    """``[(first, end), ...]`` images per chunk of about :data:`CHUNK_BYTES`, at least one."""
    per = max(1, CHUNK_BYTES // max(1, bytes_per_image))
    return [(a, min(a + per, n)) for a in range(0, n, per)] or [(0, 0)]  # no images: one empty


def _im2col(
    xp: np.ndarray,
    col: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out: tuple[int, int],
    compiled: Any,
) -> None:
    """``col[(n, p, q), (i, j, c)] = xp[n, sH p + i, sW q + j, c]`` (the first ``kH kW C``
    columns of ``col``): a compiled loop, or a copy of NumPy's sliding windows."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out
    if compiled is not None:
        compiled.im2col(xp, col, kh, kw, sh, sw, ho, wo)
        return
    n, c = len(xp), xp.shape[3]
    col6 = col[:, : kh * kw * c].reshape(n, ho, wo, kh, kw, c)
    assert not col6.size or np.shares_memory(col6, col), "im2col must write into the workspace"
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # N,Ho,Wo,C,kH,kW
    np.copyto(col6, windows.transpose(0, 1, 2, 4, 5, 3))


def _col2im(
    dcol: np.ndarray,
    dxp: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out: tuple[int, int],
    compiled: Any,
) -> None:
    """``dxp = 0``, then ``dxp[n, sH p + i, sW q + j, c] += dcol[(n, p, q), (i, j, c)]``, one
    offset ``(i, j)`` after another: a compiled loop, or NumPy adds over strided views."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out
    if compiled is not None:
        compiled.col2im(dcol, dxp, kh, kw, sh, sw, ho, wo, dxp.dtype.type(0))
        return
    dxp.fill(0)
    dcol6 = dcol.reshape(len(dxp), ho, wo, kh, kw, dxp.shape[3])
    views = window_views(dxp, kernel, stride, out)
    for (i, j), view in zip(np.ndindex(kh, kw), views, strict=True):
        view += dcol6[:, :, :, i, j, :]  # back to the pixels each window read
