"""The layer contract: :class:`Parameter`, the :class:`Layer` base class, and the registry.

Every layer keeps this contract:

* ``forward(x) -> y`` keeps what ``backward`` needs;
* ``backward(dy) -> dx`` returns the gradient with respect to the input of the last
  ``forward`` and **sets** (overwrites, never accumulates) the ``.grad`` of the layer's own
  parameters, so no ``zero_grad`` is needed;
* ``parameters() -> list[Parameter]``; ``train()`` / ``eval()`` switch mode;
* ``get_config() -> dict`` round-trips through :func:`layer_from_config`.

Inputs, dtypes and order, one rule for every layer (each built-in ``forward`` starts with
:meth:`Layer._begin_forward`, each ``backward`` with :meth:`Layer._begin_backward`):

* ``x`` may be an array or a list of numbers. A layer with a ``dtype`` of its own (``Linear``,
  ``Conv2d``, the norms) **casts** ``x`` to it, so a float32 layer given float64 (or integer)
  input computes and returns float32. A layer without one (activations, pooling, ``Flatten``,
  ``Dropout``) keeps float32 and float64 as they are and computes in float64 for anything else
  (integers, booleans, float16): ``LeakyReLU(0.1)`` on ``[[-100, 5]]`` gives ``[[-10., 5.]]``.
  Strings, objects and complex numbers are a ``TypeError``.
* ``x``'s per-sample shape must be one :meth:`Layer.output_shape` accepts; the ``ValueError``
  names the layer.
* ``backward`` before any ``forward`` is a ``ValueError`` naming the layer, and so is a ``dy``
  whose shape is not that of the last forward's output; ``dy`` is cast like ``x``.

The checks cost a few microseconds per call; ``fit`` and ``predict`` check a whole data set once
(:func:`bareprop.validation.check_model_input`) and their fast path
(:mod:`bareprop.fast.plan`) runs the maths of the layers it knows without them.

Each derivative sits next to the function it differentiates, so a reader checks one against
the other.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Self, TypeVar

import numpy as np

from bareprop.validation import (
    FLOAT_DTYPES,
    as_float_array,
    as_numbers,
    check_dtype,
    check_forward_done,
)


class Parameter:
    """A trainable array and its gradient.

    Attributes:
        data: the values, an ndarray.
        grad: the gradient of the loss with respect to ``data``; same shape and dtype.
    """

    def __init__(self, data: np.ndarray) -> None:
        data = as_numbers(data, "data")
        if data.dtype not in FLOAT_DTYPES:
            raise TypeError(f"a Parameter's data must be float32 or float64, got {data.dtype}")
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Layer:
    """Base class: the identity, with no parameters. Subclasses override what they need.

    A layer that holds other layers (as :class:`~bareprop.nn.sequential.Sequential` does)
    lists them in :meth:`named_children`; ``parameters()``, ``buffers()``, ``train()`` and
    ``eval()`` then reach them recursively. A leaf layer overrides ``parameters()`` (and
    ``buffers()`` if it keeps non-trainable state) with its own.
    """

    training: bool = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def _begin_forward(self, x: Any) -> np.ndarray:
        """``x`` cast and checked by the contract's rule (module doc); remembers the shape
        ``backward``'s ``dy`` must have. Every built-in ``forward`` starts with it."""
        x = as_float_array(x, "x", getattr(self, "dtype", None))
        if x.ndim < 1:
            raise ValueError(f"{type(self).__name__} expects a batch (N, ...), got a scalar")
        out = self.output_shape(x.shape[1:])  # raises ValueError naming the layer
        self._dy_shape: tuple[int, ...] | None = (x.shape[0], *out)
        self._dtype = x.dtype
        return x

    def _begin_backward(self, dy: Any) -> np.ndarray:
        """``dy`` checked against the last forward (which must have run) and cast to its dtype.
        Every built-in ``backward`` starts with it."""
        expected = getattr(self, "_dy_shape", None)
        check_forward_done(expected is not None, type(self).__name__)
        dy = as_float_array(dy, "dy", self._dtype)
        if dy.shape != expected:
            raise ValueError(
                f"{type(self).__name__}.backward: dy has shape {dy.shape}, but the last forward "
                f"gave an output of shape {expected}"
            )
        return dy

    # -- what a layer holds ------------------------------------------------------------------
    def named_children(self) -> list[tuple[str, Layer]]:
        """The layers inside this one, with the name that prefixes their parameters."""
        return []

    def children(self) -> list[Layer]:
        return [layer for _, layer in self.named_children()]

    def parameters(self) -> list[Parameter]:
        """The trainable parameters, in a fixed order (a container: its children's, in order)."""
        return [p for child in self.children() for p in child.parameters()]

    def buffers(self) -> list[np.ndarray]:
        """Non-trainable state that model files and checkpoints carry (as torch's
        ``register_buffer``), such as batch norm's running statistics. A layer updates its
        buffers in place, never rebinds them: loading writes into them."""
        return [b for child in self.children() for b in child.buffers()]

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Parameter]]:
        """``(name, parameter)`` in ``parameters()`` order: ``weight``, ``layers.0.weight``, ..."""
        return self._named(prefix, self.parameters(), "named_parameters")

    def named_buffers(self, prefix: str = "") -> list[tuple[str, np.ndarray]]:
        """``(name, array)`` in ``buffers()`` order: ``layers.1.running_mean``, ..."""
        return self._named(prefix, self.buffers(), "named_buffers")

    def _named(self, prefix: str, values: list[Any], method: str) -> list[tuple[str, Any]]:
        children = self.named_children()
        if children:
            return [
                pair
                for name, child in children
                for pair in getattr(child, method)(f"{prefix}{name}.")
            ]
        names = {id(v): k for k, v in vars(self).items()}
        return [(prefix + names.get(id(v), f"{i}"), v) for i, v in enumerate(values)]

    def to(self, dtype: Any) -> Self:
        """Cast every parameter and buffer (and ``self.dtype``, if any) to ``dtype``, in place.

        Gradients are reset to zeros. Returns the layer.
        """
        dtype = check_dtype(dtype)
        buffer_ids = {id(b) for b in self.buffers()} if not self.named_children() else set()
        for name, value in list(vars(self).items()):
            if isinstance(value, Parameter):
                value.data = np.ascontiguousarray(value.data, dtype=dtype)
                value.grad = np.zeros_like(value.data)
            elif isinstance(value, np.ndarray) and id(value) in buffer_ids:
                setattr(self, name, np.ascontiguousarray(value, dtype=dtype))
        if "dtype" in vars(self):  # a layer's own dtype attribute (not Sequential's property)
            self.dtype = dtype
        for child in self.children():
            child.to(dtype)
        return self

    # -- mode ------------------------------------------------------------------------------
    def train(self) -> Self:
        """Training mode (dropout active, batch statistics), here and in every child."""
        self.training = True
        for child in self.children():
            child.train()
        return self

    def eval(self) -> Self:
        """Evaluation mode (dropout off, running statistics), here and in every child."""
        self.training = False
        for child in self.children():
            child.eval()
        return self

    def saved_modes(self) -> Callable[[], None]:
        """A function that puts back the train/eval mode of this layer and of every layer
        inside it, as they are now (``fit`` and ``predict`` leave a model as they found it
        when they fail)."""
        layers, stack = [], [self]
        while stack:
            layer = stack.pop()
            layers.append(layer)
            stack.extend(layer.children())
        modes = [(layer, layer.training) for layer in layers]

        def restore() -> None:
            for layer, training in modes:
                layer.training = training

        return restore

    # -- shapes ----------------------------------------------------------------------------
    def input_shape(self) -> tuple[int, ...] | None:
        """The per-sample input shape this layer requires, or None if it takes many
        (an activation takes any shape; ``Linear(784, 10)`` requires ``(784,)``)."""
        return None

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The per-sample output shape for a per-sample input ``shape`` (no batch axis).

        Raises ``ValueError`` naming the layer if the input cannot fit it. The default, for
        elementwise layers, is the input shape itself.
        """
        return tuple(shape)

    # -- configuration ---------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-friendly: ``type(self)(**get_config())`` rebuilds it."""
        return {}

    @classmethod
    def from_config(
        cls, config: dict[str, Any], *, rng: np.random.Generator | None = None
    ) -> Layer:
        """A new layer from :meth:`get_config`'s dict; ``rng`` goes to a layer that takes one."""
        kwargs = dict(config)
        if "rng" in inspect.signature(cls).parameters:
            kwargs["rng"] = rng
        return cls(**kwargs)

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> list[tuple[int, ...]]:
        """The shapes of ``parameters()`` of the layer ``config`` describes. Model files are
        checked with this before anything is built, so a layer that can say its shapes from
        the config alone overrides it (every built-in layer does); this default builds one."""
        if cls.parameters is Layer.parameters:  # no parameters of its own
            return []
        return [p.shape for p in cls.from_config(config).parameters()]

    @classmethod
    def buffer_shapes(cls, config: dict[str, Any]) -> list[tuple[int, ...]]:
        """The shapes of ``buffers()`` of the layer ``config`` describes, likewise."""
        if cls.buffers is Layer.buffers:  # no buffers of its own
            return []
        return [b.shape for b in cls.from_config(config).buffers()]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


LAYERS: dict[str, type[Layer]] = {}
"""Every layer type a model file or a config can name, by class name."""

L = TypeVar("L", bound=type[Layer])


def register_layer(cls: L) -> L:
    """Class decorator: make ``cls`` loadable by name (:func:`layer_from_config`)."""
    LAYERS[cls.__name__] = cls
    return cls


def layer_from_config(config: dict[str, Any], *, rng: np.random.Generator | None = None) -> Layer:
    """Build a layer from ``{"type": name, **get_config()}``.

    A layer built this way has freshly initialised weights; load the saved ones into it (see
    :func:`bareprop.load`).
    """
    if not isinstance(config, dict):
        raise ValueError(f"a layer config must be a dict, got {type(config).__name__}")
    kind = config.get("type")
    if kind not in LAYERS:
        raise ValueError(f"unknown layer type {kind!r}; known: {', '.join(LAYERS)}")
    return LAYERS[kind].from_config({k: v for k, v in config.items() if k != "type"}, rng=rng)


def config_shapes(config: Any) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """The parameter shapes and the buffer shapes of the layer ``{"type": name, ...}``."""
    kind = config.get("type") if isinstance(config, dict) else None
    if kind not in LAYERS:
        raise ValueError(f"unknown layer type {kind!r}; known: {', '.join(LAYERS)}")
    args = {k: v for k, v in config.items() if k != "type"}
    return LAYERS[kind].param_shapes(args), LAYERS[kind].buffer_shapes(args)
