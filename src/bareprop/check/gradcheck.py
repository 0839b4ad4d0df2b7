"""Gradient checking: analytic gradients against central differences, in float64.

For every array ``a`` the objective depends on (the input and each parameter) and a sample of
its entries ``i``::

    numerical[i] = (f(a + eps * e_i) - f(a - eps * e_i)) / (2 * eps)      (error O(eps^2))

and an entry passes when ``|analytic - numerical| <= atol + rtol * |numerical|``, the test of
``torch.autograd.gradcheck``, whose defaults are ours: ``eps=1e-6, atol=1e-5, rtol=1e-3``.

What ``f`` is:

* a layer (or a :class:`~bareprop.Sequential` without a loss): ``f = sum(layer(x) * u)``
  with ``u`` a random upstream gradient, so the check sees every output; a plain ``sum`` would
  hide a bug whose errors cancel across outputs (the rows of a softmax sum to 1, for one);
* a loss: ``f = loss(pred, target)``, a scalar already;
* a whole model: ``f = loss(model(x), y)``.

Everything runs on a float64 deep copy, so the caller's model is untouched and float32 models
can be checked too. Random layers (Dropout) get their generator's state restored before every
forward, so each evaluation draws the same mask. A probe whose one-sided slopes
``(f(a + eps) - f(a)) / eps`` and ``(f(a) - f(a - eps)) / eps`` disagree by more than the
tolerance straddles a kink (a ReLU input within ``eps`` of 0): central differences are not
valid there, and a :class:`KinkWarning` says so.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from bareprop.check.numerical import (
    ATOL,
    EPS,
    RTOL,
    ArrayCheck,
    GradcheckReport,
    KinkWarning,
    central_difference,
    check_function,
    check_options,
    numerical_gradient,
)
from bareprop.nn import Layer, Parameter
from bareprop.nn.losses import Loss
from bareprop.validation import as_float_array, check_model_input, check_rng


def named_parameters(layer: Layer, prefix: str = "") -> list[tuple[str, Parameter]]:
    """``(name, parameter)`` in ``parameters()`` order: ``weight``, ``layers.0.weight``, ..."""
    return layer.named_parameters(prefix)


def as_float64(layer: Layer) -> Layer:
    """A deep copy of ``layer`` whose parameters and buffers are float64 (the original is
    untouched)."""
    return copy.deepcopy(layer).to(np.float64)


def _all_layers(layer: Layer) -> list[Layer]:
    return [layer] + [sub for child in layer.children() for sub in _all_layers(child)]


def freeze_randomness(layer: Layer) -> Callable[[], None]:
    """A function that restores every random layer's generator, so masks repeat."""
    found = (getattr(sub, "rng", None) for sub in _all_layers(layer))
    gens = [g for g in found if isinstance(g, np.random.Generator)]
    states = [g.bit_generator.state for g in gens]

    def restore() -> None:
        for g, s in zip(gens, states, strict=True):
            g.bit_generator.state = s

    return restore


def _float64(a: Any) -> np.ndarray:
    return np.array(a, dtype=np.float64, order="C", copy=True)


def check_layer(
    layer: Layer,
    x: np.ndarray,
    *,
    loss: Loss | None = None,
    y: np.ndarray | None = None,
    upstream: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    **options: Any,
) -> GradcheckReport:
    """Check the input gradient and every parameter gradient of a layer or a whole model.

    Args:
        layer: any :class:`~bareprop.Layer`, a :class:`~bareprop.Sequential` included; checked
            on a float64 copy, in its current train/eval mode.
        x: an input batch, e.g. ``(N, in_features)``.
        loss: if given, the objective is ``loss(layer(x), y)``; otherwise
            ``sum(layer(x) * upstream)``.
        y: the targets for ``loss``.
        upstream: the upstream gradient ``u`` (standard normal, drawn from ``rng``, if None).
        rng: for ``upstream`` and for sampling entries (``default_rng(0)`` if None).
        **options: ``eps``, ``atol``, ``rtol``, ``max_entries`` of :func:`check_function`.

    Returns:
        A :class:`GradcheckReport` with ``"input"`` first, then each named parameter.
    """
    check_options(**options)
    if loss is not None and not isinstance(loss, Loss):
        raise TypeError(f"loss must be a Loss instance or None, got {loss!r}")
    if loss is not None and y is None:
        raise ValueError("y is required when a loss is given")
    rng = np.random.default_rng(0) if rng is None else check_rng(rng)
    x64 = _float64(check_model_input(layer, x, dtype=np.float64, model_name="layer")[0])
    model = as_float64(layer)
    restore = freeze_randomness(model)
    restore()
    out = model.forward(x64)
    u = (
        rng.standard_normal(np.shape(out))
        if upstream is None
        else _float64(as_float_array(upstream, "upstream", np.float64))
    )
    if u.shape != out.shape:
        raise ValueError(f"upstream has shape {u.shape}, the output {out.shape}")

    def f() -> float:
        restore()
        pred = model.forward(x64)
        if loss is not None:
            return float(loss.forward(pred, y))  # type: ignore[arg-type]
        return float(np.sum(pred * u))

    f()  # the analytic pass below uses the loss's state from this very forward
    dout = loss.backward() if loss is not None else u
    dx = model.backward(np.asarray(dout, dtype=np.float64))
    params = named_parameters(model)
    arrays = {"input": x64, **{name: p.data for name, p in params}}
    analytic = {"input": np.array(dx), **{name: p.grad.copy() for name, p in params}}
    return check_function(f, arrays, analytic, rng=rng, **options)


def check_loss(
    loss: Loss, pred: np.ndarray, target: np.ndarray, *, rng: np.random.Generator | None = None,
    **options: Any,
) -> GradcheckReport:  # fmt: skip
    """Check ``loss.backward()`` against central differences of ``loss(pred, target)``.

    Returns:
        A :class:`GradcheckReport` with one check, ``"pred"``.
    """
    check_options(**options)
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a Loss instance, got {loss!r}")
    p64 = _float64(as_float_array(pred, "pred", np.float64))
    if not np.isfinite(p64).all():
        raise ValueError(
            f"pred contains {np.size(p64) - np.isfinite(p64).sum()} NaN or infinite value(s)"
        )
    target = np.asarray(target)
    if target.dtype.kind == "f":
        target = _float64(target)

    def f() -> float:
        return float(loss.forward(p64, target))

    f()
    analytic = {"pred": np.asarray(loss.backward(), dtype=np.float64)}
    return check_function(f, {"pred": p64}, analytic, rng=rng, **options)


def check_model(
    model: Layer, loss: Loss, x: np.ndarray, y: np.ndarray, **options: Any
) -> GradcheckReport:
    """Check a whole model with its loss: ``f = loss(model(x), y)``; see :func:`check_layer`."""
    return check_layer(model, x, loss=loss, y=y, **options)


__all__ = [
    "ATOL",
    "EPS",
    "RTOL",
    "ArrayCheck",
    "GradcheckReport",
    "KinkWarning",
    "as_float64",
    "central_difference",
    "check_function",
    "check_layer",
    "check_loss",
    "check_model",
    "freeze_randomness",
    "named_parameters",
    "numerical_gradient",
]
