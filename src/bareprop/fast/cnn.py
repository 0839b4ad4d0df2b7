"""One call per layer for a fast plan: ``fast_forward`` and ``fast_backward``.

::

    ws = Workspace()                         # one per layer, kept across steps
    y = fast_forward(layer, x, ws)           # reads layer's Parameters (and its mode)
    dx = fast_backward(layer, dy, ws)        # sets their .grad as layer.backward does

Same maths as the layer's own ``forward``/``backward`` (a test proves them equal), with the
layer's state updated the same way: batch norm's running statistics change in place in
training mode and are used in eval mode.

Layout: every 4-D activation in a fast plan is channels-last ``(N, H, W, C)`` (see
:mod:`bareprop.fast.conv`); convert the input batch once with ``to_channels_last``.
``Flatten`` turns a channels-last image back into ``(N, C * H * W)`` features in the layers'
``C, H, W`` order, so a ``Linear`` after it sees what it sees in the readable path. Arrays of
other ranks are as the layers have them. Layers with no fast path of their own run their
readable maths: ``LayerNorm`` (on a channels-first view of a 4-D input), and the layout-blind
``Linear`` and activations. ``need_dx=False`` lets a first layer skip its input gradient.
Returned arrays may live in ``ws``: valid until the next call with that workspace.
"""

from __future__ import annotations

import numpy as np

from bareprop.fast.conv import conv2d_backward, conv2d_forward
from bareprop.fast.pool import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from bareprop.fast.workspace import Workspace
from bareprop.nn import Layer, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from bareprop.nn.conv import Conv2d
from bareprop.nn.layernorm import LayerNorm
from bareprop.nn.norm import BatchNorm
from bareprop.nn.pool import AvgPool2d, MaxPool2d
from bareprop.nn.shape import Flatten

ELEMENTWISE = (ReLU, LeakyReLU, Sigmoid, Tanh)
"""Layers indifferent to the layout: the plan keeps them channels-last between image layers."""
_LAYOUT_BLIND = (Linear, *ELEMENTWISE)


def fast_forward(layer: Layer, x: np.ndarray, ws: Workspace) -> np.ndarray:
    """``layer.forward(x)``'s result (channels-last for 4-D), computed the fast way."""
    if isinstance(layer, Conv2d):
        if x.ndim != 4 or x.shape[3] != layer.in_channels:
            raise ValueError(f"Conv2d expects channels-last (N, H, W, {layer.in_channels}) here, "
                             f"got {x.shape}")  # fmt: skip
        bias = None if layer.bias is None else layer.bias.data
        return conv2d_forward(x, layer.weight.data, bias, layer.stride, layer.padding, ws)
    if isinstance(layer, MaxPool2d):
        return max_pool2d_forward(x, layer.kernel_size, layer.stride, ws)
    if isinstance(layer, AvgPool2d):
        return avg_pool2d_forward(x, layer.kernel_size, layer.stride, ws)
    if isinstance(layer, BatchNorm):
        return _batch_norm_forward(layer, x, ws)
    if isinstance(layer, Flatten):
        if x.ndim == 4:  # channels-last to the layers' (C, H, W) feature order
            n, h, w, c = x.shape
            y = ws.get("y", (n, c * h * w), x.dtype)
            np.copyto(y.reshape(n, c, h, w), x.transpose(0, 3, 1, 2))
            ws.saved["x_shape"] = x.shape
            return y
        return layer.forward(x)
    if isinstance(layer, LayerNorm) and x.ndim == 4:
        return layer.forward(x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    if isinstance(layer, (LayerNorm, *_LAYOUT_BLIND)):
        return layer.forward(x)
    raise TypeError(f"no fast path for {type(layer).__name__}")


def fast_backward(
    layer: Layer, dy: np.ndarray, ws: Workspace, need_dx: bool = True
) -> np.ndarray | None:
    """``layer.backward(dy)``'s result, computed the fast way; sets the same ``.grad``s.

    Returns None (and skips the work where it can) if ``need_dx`` is False.
    """
    if isinstance(layer, Conv2d):
        bias_grad = None if layer.bias is None else layer.bias.grad
        return conv2d_backward(dy, layer.weight.data, ws, layer.weight.grad, bias_grad, need_dx)
    if isinstance(layer, MaxPool2d):
        return max_pool2d_backward(dy, ws) if need_dx else None
    if isinstance(layer, AvgPool2d):
        return avg_pool2d_backward(dy, ws) if need_dx else None
    if isinstance(layer, BatchNorm):
        return _batch_norm_backward(layer, dy, ws, need_dx)
    if isinstance(layer, Flatten) and "x_shape" in ws.saved and dy.ndim == 2:
        n, h, w, c = ws.saved["x_shape"]
        return dy.reshape(n, c, h, w).transpose(0, 2, 3, 1)
    if isinstance(layer, LayerNorm) and dy.ndim == 4:
        return layer.backward(dy.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    if isinstance(layer, (Flatten, LayerNorm, *_LAYOUT_BLIND)):
        return layer.backward(dy)
    raise TypeError(f"no fast path for {type(layer).__name__}")


def _batch_norm_forward(layer: BatchNorm, x: np.ndarray, ws: Workspace) -> np.ndarray:
    """Batch norm with the channels on the last axis: ``x`` viewed as ``(M, C)``.

    4-D input is channels-last; ``(N, C)`` is already; ``(N, C, L)`` is moved to ``(N, L, C)``.
    """
    c = layer.num_features
    if x.shape[-1 if x.ndim != 3 else 1] != c or x.ndim not in layer._ndims:
        raise ValueError(f"{type(layer).__name__} expects {c} channels (channels-last), "
                         f"got {x.shape}")  # fmt: skip
    xl = x.transpose(0, 2, 1) if x.ndim == 3 else x
    x2 = xl.reshape(-1, c)  # (M, C)
    m = len(x2)
    if layer.training:
        if m < 2:
            raise ValueError(f"{type(layer).__name__} needs more than 1 value per channel in "
                             f"training, got input shape {x.shape}")  # fmt: skip
        mean = x2.mean(axis=0)
        xc = np.subtract(x2, mean, out=ws.get("xhat", x2.shape, x2.dtype))
        var = np.einsum("mc,mc->c", xc, xc) / m  # biased
        layer.running_mean *= 1 - layer.momentum  # in place, as the layer
        layer.running_mean += layer.momentum * mean
        layer.running_var *= 1 - layer.momentum
        layer.running_var += layer.momentum * m / (m - 1) * var
    else:
        mean, var = layer.running_mean, layer.running_var
        xc = np.subtract(x2, mean, out=ws.get("xhat", x2.shape, np.result_type(x2, mean)))
    inv_std = 1 / np.sqrt(var + layer.eps)  # (C,)
    xhat = np.multiply(xc, inv_std, out=xc)
    y = ws.get("y", x2.shape, xhat.dtype)
    np.multiply(xhat, layer.weight.data, out=y)
    y += layer.bias.data
    ws.saved.update(xhat=xhat, inv_std=inv_std, shape=xl.shape, training=layer.training)
    y_l = y.reshape(xl.shape)
    return y_l.transpose(0, 2, 1) if x.ndim == 3 else y_l


def _batch_norm_backward(
    layer: BatchNorm, dy: np.ndarray, ws: Workspace, need_dx: bool
) -> np.ndarray | None:
    """With ``dxhat = gamma * dy``, the closed form of :mod:`bareprop.nn.norm` becomes
    ``dx = gamma * istd * (dy - sum(dy) / m - xhat * sum(dy * xhat) / m)``."""
    xhat, inv_std, shape = ws.saved["xhat"], ws.saved["inv_std"], ws.saved["shape"]
    dy_l = dy.transpose(0, 2, 1) if dy.ndim == 3 else dy
    dy2 = dy_l.reshape(-1, layer.num_features)  # (M, C)
    m = len(dy2)
    dgamma = np.einsum("mc,mc->c", dy2, xhat)
    dbeta = dy2.sum(axis=0)
    layer.weight.grad[...] = dgamma
    layer.bias.grad[...] = dbeta
    if not need_dx:
        return None
    scale = layer.weight.data * inv_std  # (C,)
    dx = ws.get("dx", dy2.shape, np.result_type(dy2, xhat))
    if ws.saved["training"]:
        np.multiply(xhat, dgamma / m, out=dx)
        np.subtract(dy2, dx, out=dx)
        dx -= dbeta / m
        dx *= scale
    else:  # the running statistics were constants
        np.multiply(dy2, scale, out=dx)
    dx_l = dx.reshape(shape)
    return dx_l.transpose(0, 2, 1) if dy.ndim == 3 else dx_l
