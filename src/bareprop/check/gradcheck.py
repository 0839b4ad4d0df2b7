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
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bareprop.nn import Layer, Parameter
from bareprop.nn.losses import Loss

EPS = 1e-6
ATOL = 1e-5
RTOL = 1e-3


class KinkWarning(UserWarning):
    """A probe straddled a point where the function is not differentiable."""


@dataclass
class ArrayCheck:
    """The check of one array's gradient.

    Attributes:
        name: ``"input"``, or a parameter's name such as ``"layers.0.weight"``.
        shape: the array's shape.
        checked: how many entries were probed.
        max_abs: the largest ``|analytic - numerical|``.
        max_rel: the largest ``|analytic - numerical| / max(|analytic|, |numerical|)`` over
            entries of magnitude at least ``atol`` (smaller ones are judged by ``atol`` alone).
        passed: every probed entry within ``atol + rtol * |numerical|``.
        kinks: how many probes straddled a kink.
        worst: the index of the entry with the largest ``|analytic - numerical| - tolerance``.
        analytic: the analytic gradient at the probed entries (flat order of ``indices``).
        numerical: the numerical gradient at the same entries.
        indices: the probed entries, as indices into the flattened array.
    """

    name: str
    shape: tuple[int, ...]
    checked: int
    max_abs: float
    max_rel: float
    passed: bool
    kinks: int
    worst: tuple[int, ...]
    analytic: np.ndarray = field(repr=False)
    numerical: np.ndarray = field(repr=False)
    indices: np.ndarray = field(repr=False)


@dataclass
class GradcheckReport:
    """The result of a gradient check: one :class:`ArrayCheck` per array, and the tolerances."""

    checks: list[ArrayCheck]
    eps: float
    atol: float
    rtol: float

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    def __getitem__(self, name: str) -> ArrayCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check named {name!r}; have {', '.join(c.name for c in self.checks)}")

    def summary(self) -> str:
        """One line per array: name, shape, errors, PASS/FAIL; then the tolerances."""
        lines = [
            f"{c.name:<20} {'x'.join(map(str, c.shape)) or 'scalar':>10}  max abs {c.max_abs:.2e}"
            f"  max rel {c.max_rel:.2e}  {'PASS' if c.passed else 'FAIL'}"
            for c in self.checks
        ]
        lines.append(f"eps={self.eps:g} atol={self.atol:g} rtol={self.rtol:g}")
        return "\n".join(lines)


def central_difference(
    f: Callable[[], float], flat: np.ndarray, i: int, eps: float = EPS
) -> tuple[float, float]:
    """``f()`` with ``flat[i]`` nudged up by ``eps``, then down; ``flat[i]`` is restored.

    The derivative of ``f`` along that entry is ``(plus - minus) / (2 * eps)``, with an error
    of order ``eps**2`` (a one-sided difference would be of order ``eps``).
    """
    old = flat[i]
    flat[i] = old + eps
    plus = f()
    flat[i] = old - eps
    minus = f()
    flat[i] = old
    return plus, minus


def numerical_gradient(f: Callable[[], float], a: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Central-difference gradient of ``f()`` with respect to every entry of ``a``.

    ``a`` is perturbed in place (and restored), so ``f`` must read it. For small arrays and
    teaching; :func:`check_function` samples entries and also compares.
    """
    flat = a.reshape(-1)  # a view: perturbing it perturbs what f reads
    assert np.shares_memory(flat, a), "numerical_gradient needs a contiguous array"
    grad = np.zeros(a.size, dtype=np.float64)
    for i in range(a.size):
        plus, minus = central_difference(f, flat, i, eps)
        grad[i] = (plus - minus) / (2 * eps)
    return grad.reshape(a.shape)


def _probe_indices(size: int, max_entries: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_entries is None or max_entries >= size:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_entries, replace=False))


def _check_array(
    name: str,
    f: Callable[[], float],
    a: np.ndarray,
    analytic: np.ndarray,
    f0: float,
    idx: np.ndarray,
    tol: tuple[float, float, float],
) -> ArrayCheck:
    eps, atol, rtol = tol
    flat = a.reshape(-1)  # a view: perturbing it perturbs what f reads
    assert np.shares_memory(flat, a), "gradcheck needs contiguous arrays"
    num = np.empty(len(idx))
    kinks = 0
    for k, i in enumerate(idx):
        plus, minus = central_difference(f, flat, i, eps)
        num[k] = (plus - minus) / (2 * eps)
        one_sided_gap = abs((plus - f0) - (f0 - minus)) / eps
        kinks += one_sided_gap > atol + rtol * abs(num[k])
    ana = np.asarray(analytic, dtype=np.float64).reshape(-1)[idx]
    err = np.abs(ana - num)
    scale = np.maximum(np.abs(ana), np.abs(num))
    rel = np.divide(err, scale, out=np.zeros_like(err), where=scale >= atol)
    excess = err - (atol + rtol * np.abs(num))
    worst = int(idx[np.argmax(excess)]) if len(idx) else 0
    return ArrayCheck(
        name, tuple(a.shape), len(idx),
        float(err.max(initial=0.0)), float(rel.max(initial=0.0)),
        bool(np.all(excess <= 0)), int(kinks),
        tuple(int(j) for j in np.unravel_index(worst, a.shape)) if a.size else (),
        ana, num, idx,
    )  # fmt: skip


def check_function(
    f: Callable[[], float],
    arrays: dict[str, np.ndarray],
    analytic: dict[str, np.ndarray],
    *,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    max_entries: int | None = None,
    rng: np.random.Generator | None = None,
) -> GradcheckReport:
    """Compare analytic gradients of a scalar ``f()`` with central differences.

    Args:
        f: the objective; reads the arrays in ``arrays``, which are perturbed in place.
        arrays: name -> float64 C-contiguous array that ``f`` depends on.
        analytic: name -> the analytic gradient of ``f`` with respect to that array.
        eps: the step of the central difference.
        atol: absolute tolerance. rtol: relative tolerance (an entry passes when
            ``|analytic - numerical| <= atol + rtol * |numerical|``).
        max_entries: probe at most this many entries per array, drawn at random (all if None).
        rng: draws the sampled entries.

    Returns:
        A :class:`GradcheckReport`; a :class:`KinkWarning` is issued if a probe straddled a kink.
    """
    for name, a in arrays.items():
        if a.dtype != np.float64 or not a.flags.c_contiguous:
            raise TypeError(f"arrays[{name!r}] must be a C-contiguous float64 array, got {a.dtype}")
        if np.shape(analytic[name]) != a.shape:
            raise ValueError(
                f"analytic[{name!r}] has shape {np.shape(analytic[name])}, the array {a.shape}"
            )
    if max_entries is not None and max_entries <= 0:
        raise ValueError(f"max_entries must be a positive integer or None, got {max_entries!r}")
    rng = rng if rng is not None else np.random.default_rng(0)
    f0 = f()
    tol = (eps, atol, rtol)
    checks = [
        _check_array(name, f, a, analytic[name], f0, _probe_indices(a.size, max_entries, rng), tol)
        for name, a in arrays.items()
    ]
    kinked = [f"{c.name} ({c.kinks})" for c in checks if c.kinks]
    if kinked:
        warnings.warn(
            f"central differences straddled a kink (e.g. a ReLU input within eps={eps:g} of 0) "
            f"in {', '.join(kinked)}: those probes are not reliable",
            KinkWarning,
            stacklevel=2,
        )
    return GradcheckReport(checks, eps, atol, rtol)


def named_parameters(layer: Layer, prefix: str = "") -> list[tuple[str, Parameter]]:
    """``(name, parameter)`` in ``parameters()`` order: ``weight``, ``layers.0.weight``, ..."""
    return layer.named_parameters(prefix)


def as_float64(layer: Layer) -> Layer:
    """A deep copy of ``layer`` whose parameters and buffers are float64 (the original is
    untouched)."""
    copied = copy.deepcopy(layer).to(np.float64)
    for sub in _all_layers(copied):
        if hasattr(sub, "input_grad"):  # a Linear may skip dx inside fit; the check needs it
            sub.input_grad = True
    return copied


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
    if loss is not None and y is None:
        raise ValueError("y is required when a loss is given")
    rng = rng if rng is not None else np.random.default_rng(0)
    model = as_float64(layer)
    x64 = _float64(x)
    restore = freeze_randomness(model)
    restore()
    out = model.forward(x64)
    u = _float64(upstream) if upstream is not None else rng.standard_normal(np.shape(out))
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
    p64 = _float64(pred)
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
