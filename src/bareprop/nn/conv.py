"""``Conv2d``: a 2-D convolution (cross-correlation, as torch) with its derivative beside it.

The readable version: one loop over the kernel offsets ``(i, j)``, the batch and channels
vectorised. At offset ``(i, j)`` every output position ``(p, q)`` reads the input pixel
``(s*p + i, s*q + j)`` of the padded input, so the layer is a sum of ``kH * kW`` products::

    y[n, o, p, q] = b[o] + sum_{c, i, j} w[o, c, i, j] * xp[n, c, s*p + i, s*q + j]

and each derivative is the same sum read the other way round::

    dw[o, c, i, j]            = sum_{n, p, q} dy[n, o, p, q] * xp[n, c, s*p + i, s*q + j]
    db[o]                     = sum_{n, p, q} dy[n, o, p, q]
    dxp[n, c, s*p+i, s*q+j]  += sum_o dy[n, o, p, q] * w[o, c, i, j]

The fast version (im2col and one GEMM) is :mod:`bareprop.fast.conv`; a test proves them equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.nn.init import Initializer, draw
from bareprop.nn.layer import Layer, Parameter, register_layer
from bareprop.validation import check_dtype, check_int, check_rng, check_shape, pair, window_count


def _conv_args(
    in_channels: Any,
    out_channels: Any,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    bias: Any = True,
    dtype: Any = np.float32,
) -> dict[str, Any]:
    """Validate a Conv2d's arguments (its config) and return them normalised."""
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be True or False, got {bias!r}")
    return {
        "in_channels": check_int(in_channels, "in_channels"),
        "out_channels": check_int(out_channels, "out_channels"),
        "kernel_size": pair(kernel_size, "kernel_size"),
        "stride": pair(stride, "stride"),
        "padding": pair(padding, "padding", minimum=0),
        "bias": bool(bias),
        "dtype": check_dtype(dtype),
    }


@register_layer
class Conv2d(Layer):
    """2-D convolution over ``(N, C, H, W)`` images, as ``torch.nn.Conv2d`` (groups=1).

    Args:
        in_channels: ``C``, the channels of the input.
        out_channels: ``O``, the channels of the output (the number of filters).
        kernel_size: ``k`` or ``(kH, kW)``.
        stride: ``s`` or ``(sH, sW)``, the step between windows (default 1).
        padding: ``p`` or ``(pH, pW)``, zeros added on each side (default 0).
        bias: whether to add a learned per-channel bias (torch's ``bias=True``).
        init: initialiser name (see :mod:`bareprop.nn.init`) or a callable
            ``(shape, rng, dtype) -> ndarray``; the bias starts at zero. Default ``he_uniform``,
            ``U(-a, a)`` with ``a = sqrt(6 / fan_in)``, suited to the ReLU after a conv (torch's
            own default is narrower, ``a = 1 / sqrt(fan_in)``, with a non-zero bias).
        rng: ``numpy.random.Generator`` for the initialiser (a fresh unseeded one if None).
        dtype: float32 (default) or float64.

    Fans: the initialisers read ``(fan_in, fan_out)`` from a 2-D shape, Linear's layout. A
    conv has ``fan_in = C * kH * kW`` and ``fan_out = O * kH * kW`` (each input pixel feeds
    every filter at every offset), so the weight is drawn as a ``(fan_in, fan_out)`` array
    and its first ``O * C * kH * kW`` entries are kept, reshaped to ``(O, C, kH, kW)``. The
    initialisers draw their entries independently, so any subset has the right distribution;
    it costs ``kH * kW`` times more random numbers than kept, once, at construction.

    Shapes:
        weight ``(O, C, kH, kW)`` as torch, bias ``(O,)``; x ``(N, C, H, W)`` ->
        y ``(N, O, Ho, Wo)`` with ``Ho = floor((H + 2 pH - kH) / sH) + 1`` (and ``Wo`` alike).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        init: str | Initializer = "he_uniform",
        rng: np.random.Generator | None = None,
        dtype: Any = np.float32,
    ) -> None:
        args = _conv_args(in_channels, out_channels, kernel_size, stride, padding, bias, dtype)
        self.in_channels: int = args["in_channels"]
        self.out_channels: int = args["out_channels"]
        self.kernel_size: tuple[int, int] = args["kernel_size"]
        self.stride: tuple[int, int] = args["stride"]
        self.padding: tuple[int, int] = args["padding"]
        self.dtype: np.dtype = args["dtype"]
        (kh, kw), c, o = self.kernel_size, self.in_channels, self.out_channels
        drawn = draw(init, (c * kh * kw, o * kh * kw), check_rng(rng), self.dtype)
        w = drawn.reshape(-1)[: o * c * kh * kw].reshape(o, c, kh, kw)
        self.weight = Parameter(np.asarray(w, dtype=self.dtype))
        self.bias = Parameter(np.zeros(o, dtype=self.dtype)) if args["bias"] else None
        self._xp: np.ndarray | None = None

    # --- the maths -------------------------------------------------------------------------

    def forward(self, x: np.ndarray) -> np.ndarray:  # x: (N, C, H, W)
        x = self._begin_forward(x)  # cast to self.dtype; (N, C, H, W) or a named error
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        _, ho, wo = self.output_shape(x.shape[1:])
        self._x_shape = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # (N, C, H + 2pH, W + 2pW)
        self._xp = xp
        w = self.weight.data  # (O, C, kH, kW)
        y = np.zeros((len(x), self.out_channels, ho, wo), dtype=np.result_type(x, w))
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw]  # (N, C, Ho, Wo)
                y += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j], optimize=True)
        if self.bias is not None:
            y += self.bias.data[:, None, None]
        return y  # (N, O, Ho, Wo)

    def backward(self, dy: np.ndarray) -> np.ndarray:  # dy: (N, O, Ho, Wo)
        dy = self._begin_backward(dy)
        assert self._xp is not None
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        xp, w = self._xp, self.weight.data
        ho, wo = dy.shape[2:]
        dxp = np.zeros(xp.shape, dtype=np.result_type(dy, w))  # (N, C, H + 2pH, W + 2pW)
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw]  # (N, C, Ho, Wo)
                self.weight.grad[:, :, i, j] = np.einsum("nohw,nchw->oc", dy, patch, optimize=True)
                dxp[:, :, i : i + sh * ho : sh, j : j + sw * wo : sw] += np.einsum(
                    "nohw,oc->nchw", dy, w[:, :, i, j], optimize=True
                )
        if self.bias is not None:
            self.bias.grad[...] = dy.sum(axis=(0, 2, 3))  # (O,)
        h, w_ = self._x_shape[2:]
        return dxp[:, :, ph : ph + h, pw : pw + w_]  # (N, C, H, W): the padding's share dropped

    # --- the contract ----------------------------------------------------------------------

    def parameters(self) -> list[Parameter]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def get_config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "bias": self.bias is not None,
            "dtype": self.dtype.name,
        }

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> list[tuple[int, ...]]:
        """Shapes of ``parameters()`` for ``config``, allocating nothing (it is validated)."""
        a = _conv_args(**config)
        weight = (a["out_channels"], a["in_channels"], *a["kernel_size"])
        return [weight, (a["out_channels"],)] if a["bias"] else [weight]

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(C, H, W) -> (O, Ho, Wo)``; ValueError for a wrong channel count or small input."""
        shape = check_shape(shape, "shape")
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise ValueError(
                f"Conv2d expects a per-sample shape ({self.in_channels}, H, W), got {shape}"
            )
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        h, w = shape[1] + 2 * ph, shape[2] + 2 * pw
        if h < kh or w < kw:
            raise ValueError(
                f"Conv2d's {kh}x{kw} kernel is larger than its padded input {h}x{w} "
                f"(per-sample shape {shape}, padding {self.padding})"
            )
        return self.out_channels, window_count(h, kh, sh), window_count(w, kw, sw)
