"""Batch and layer normalisation, as torch's ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``.

Both normalise ``x`` over a set of axes, then scale and shift::

    mu   = mean(x)                     over the axes (m entries)
    var  = mean((x - mu)^2)            biased: what normalises
    xhat = (x - mu) / sqrt(var + eps)
    y    = gamma * xhat + beta

Batch norm takes the statistics over the batch (and the pixels: every axis but channel axis 1)
and has one ``gamma``/``beta`` per channel; layer norm over each sample's last dimensions, with
an elementwise ``gamma``/``beta`` of those dimensions' shape.

The backward pass. ``dgamma = sum(dy * xhat)`` and ``dbeta = sum(dy)`` over the axes where
``gamma`` is broadcast, and ``dxhat = dy * gamma``. What remains is ``dx`` from ``dxhat``, in
two forms that a test checks against each other.

Staged (:func:`normalize_backward_staged`): the forward as a graph of small steps, each
differentiated on its own, in reverse::

    mu = mean(x);  xc = x - mu;  var = mean(xc^2);  std = sqrt(var + eps);  istd = 1 / std
    xhat = xc * istd

    dxc   = dxhat * istd                     (xhat = xc * istd, through xc)
    distd = sum(dxhat * xc)                  (through istd, which every entry shares)
    dstd  = -distd / std^2                   (istd = 1 / std)
    dvar  = dstd / (2 std)                   (std = sqrt(var + eps))
    dxc  += dvar * 2 xc / m                  (var = mean(xc^2))
    dmu   = -sum(dxc)                        (xc = x - mu)
    dx    = dxc + dmu / m                    (mu = mean(x))

Closed form (:func:`normalize_backward`, what the layers use): substitute backwards. With
``xc = xhat * std``, ``dvar * 2 xc / m = -mean(dxhat * xhat) * xhat * istd``, and
``sum(xc) = 0`` makes ``dmu = -sum(dxhat) * istd``, so::

    dx = istd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))

In eval mode batch norm uses the running statistics, constants, so ``dx = dxhat * istd``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.nn.layer import Layer, Parameter, register_layer
from bareprop.validation import check_dtype, check_int, check_range, check_shape, is_int

Axes = tuple[int, ...]


def normalize_backward_staged(
    dxhat: np.ndarray, x: np.ndarray, eps: float, axes: Axes
) -> np.ndarray:
    """``dx`` from ``dxhat`` through the forward graph, stage by stage (see the module doc).

    Args:
        dxhat: the gradient with respect to ``xhat``, ``x``'s shape.
        x: the input that was normalised.
        eps: the constant added to the variance.
        axes: the axes the statistics were taken over.
    """
    m = np.prod([x.shape[a] for a in axes])
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=axes, keepdims=True)
    std = np.sqrt(var + eps)
    istd = 1 / std
    # xhat = xc * istd; now backwards:
    dxc = dxhat * istd
    distd = (dxhat * xc).sum(axis=axes, keepdims=True)
    dstd = -distd / std**2
    dvar = dstd / (2 * std)
    dxc = dxc + dvar * 2 * xc / m
    dmu = -dxc.sum(axis=axes, keepdims=True)
    return dxc + dmu / m


def normalize_backward(
    dxhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray, axes: Axes
) -> np.ndarray:
    """``dx = istd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))``, means over ``axes``.

    Args:
        dxhat: the gradient with respect to ``xhat``.
        xhat: the normalised input, ``(x - mu) * inv_std``.
        inv_std: ``1 / sqrt(var + eps)``, with ``keepdims`` over ``axes``.
        axes: the axes the statistics were taken over.
    """
    mean_dxhat = dxhat.mean(axis=axes, keepdims=True)
    mean_dxhat_xhat = (dxhat * xhat).mean(axis=axes, keepdims=True)
    return inv_std * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)


def _bn_args(
    num_features: Any, eps: Any = 1e-5, momentum: Any = 0.1, dtype: Any = np.float32
) -> dict[str, Any]:
    """Validate a batch norm's arguments (its config) and return them normalised."""
    check_range(momentum, "momentum", 0.0, 1.0, high_open=False)
    common = ln_args(1, eps, dtype)  # eps and dtype are checked alike
    return {
        "num_features": check_int(num_features, "num_features"),
        "eps": common["eps"],
        "momentum": float(momentum),
        "dtype": common["dtype"],
    }


def ln_args(normalized_shape: Any, eps: Any = 1e-5, dtype: Any = np.float32) -> dict[str, Any]:
    """Validate a layer norm's arguments (its config) and return them normalised."""
    check_range(eps, "eps", 0.0, np.inf)
    if eps == 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    return {
        "normalized_shape": _normalized_shape(normalized_shape),
        "eps": float(eps),
        "dtype": check_dtype(dtype),
    }


def _normalized_shape(value: Any) -> tuple[int, ...]:
    items = [value] if is_int(value) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise TypeError(f"normalized_shape must be an int or a tuple of ints, got {value!r}")
    return tuple(check_int(d, "normalized_shape") for d in items)


class BatchNorm(Layer):
    """Batch norm over every axis but the channel axis 1; per-channel ``gamma`` and ``beta``."""

    _ndims: tuple[int, ...] = ()  # the input ranks accepted
    _sample = ""  # for messages: the per-sample layout

    def __init__(
        self,
        num_features: int,
        *,
        eps: float = 1e-5,
        momentum: float = 0.1,
        dtype: Any = np.float32,
    ) -> None:
        args = _bn_args(num_features, eps, momentum, dtype)
        self.num_features: int = args["num_features"]
        self.eps: float = args["eps"]
        self.momentum: float = args["momentum"]
        self.dtype: np.dtype = args["dtype"]
        c = self.num_features
        self.weight = Parameter(np.ones(c, dtype=self.dtype))  # gamma
        self.bias = Parameter(np.zeros(c, dtype=self.dtype))  # beta
        self.running_mean = np.zeros(c, dtype=self.dtype)
        self.running_var = np.ones(c, dtype=self.dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:  # x: (N, C, ...)
        x = self._begin_forward(x)  # cast to self.dtype; (N, C, ...) or a named error
        axes = (0, *range(2, x.ndim))  # every axis but the channels
        shape = (1, self.num_features) + (1,) * (x.ndim - 2)  # per-channel, broadcastable
        if self.training:
            m = x.size // self.num_features
            if m < 2:
                raise ValueError(
                    f"{type(self).__name__} needs more than 1 value per channel in training, "
                    f"got input shape {x.shape}"
                )
            mean = x.mean(axis=axes, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)  # biased
            # In place: a checkpoint restore writes into these arrays. The running variance
            # is the unbiased one, var * m / (m - 1), as torch's.
            self.running_mean *= 1 - self.momentum
            self.running_mean += self.momentum * mean.reshape(-1)
            self.running_var *= 1 - self.momentum
            self.running_var += self.momentum * m / (m - 1) * var.reshape(-1)
        else:
            mean, var = self.running_mean.reshape(shape), self.running_var.reshape(shape)
        self._axes = axes
        self._inv_std = 1 / np.sqrt(var + self.eps)  # (1, C, 1, ...)
        self._xhat = (x - mean) * self._inv_std  # (N, C, ...)
        return self.weight.data.reshape(shape) * self._xhat + self.bias.data.reshape(shape)

    def backward(self, dy: np.ndarray) -> np.ndarray:  # dy: (N, C, ...)
        dy = self._begin_backward(dy)
        axes, xhat = self._axes, self._xhat
        self.weight.grad[...] = (dy * xhat).sum(axis=axes)  # (C,)
        self.bias.grad[...] = dy.sum(axis=axes)  # (C,)
        dxhat = dy * self.weight.data.reshape(self._inv_std.shape)
        if not self.training:  # the statistics were constants
            return dxhat * self._inv_std
        return normalize_backward(dxhat, xhat, self._inv_std, axes)

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def buffers(self) -> list[np.ndarray]:
        return [self.running_mean, self.running_var]

    def get_config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "dtype": self.dtype.name,
        }

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> list[tuple[int, ...]]:
        """weight and bias, each ``(num_features,)``."""
        return [(_bn_args(**config)["num_features"],)] * 2

    @classmethod
    def buffer_shapes(cls, config: dict[str, Any]) -> list[tuple[int, ...]]:
        """running_mean and running_var, each ``(num_features,)``."""
        return [(_bn_args(**config)["num_features"],)] * 2

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The same shape; ValueError for a wrong rank or channel count."""
        shape = check_shape(shape, "shape")
        if len(shape) + 1 not in self._ndims or shape[0] != self.num_features:
            raise ValueError(
                f"{type(self).__name__} expects a per-sample shape {self._sample} with "
                f"C={self.num_features}, got {shape}"
            )
        return shape


@register_layer
class BatchNorm1d(BatchNorm):
    """Batch normalisation of ``(N, C)`` features (or ``(N, C, L)``), as ``torch.nn.BatchNorm1d``.

    Args:
        num_features: ``C``.
        eps: added to the variance before the square root.
        momentum: ``running = (1 - momentum) * running + momentum * batch_statistic``.
        dtype: float32 (default) or float64.

    In training the batch's mean and biased variance normalise, and the running statistics
    are updated (the variance's unbiased, ``* m / (m - 1)``, as torch); in eval mode the
    running statistics normalise. Parameters ``weight`` (gamma, ones) and ``bias`` (beta,
    zeros), ``(C,)``; buffers ``running_mean`` (zeros) and ``running_var`` (ones), ``(C,)``.
    """

    _ndims = (2, 3)
    _sample = "(C,) or (C, L)"


@register_layer
class BatchNorm2d(BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` images per channel, as ``torch.nn.BatchNorm2d``.

    The statistics are taken over the batch and the pixels, ``N * H * W`` values per channel;
    otherwise as :class:`BatchNorm1d`.
    """

    _ndims = (4,)
    _sample = "(C, H, W)"
