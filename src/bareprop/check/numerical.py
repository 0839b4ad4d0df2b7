"""Central differences: the numerical gradient, and its comparison with an analytic one.

The machinery behind :mod:`bareprop.check.gradcheck` (see there for the tests and defaults).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bareprop.validation import check_int, check_positive, check_range, check_rng

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


def check_options(
    *,
    eps: Any = EPS,
    atol: Any = ATOL,
    rtol: Any = RTOL,
    max_entries: Any = None,
    skip_kinks: Any = False,
) -> None:
    """The options of a gradient check: ``eps`` > 0, ``atol`` and ``rtol`` >= 0 (finite
    numbers), ``max_entries`` a positive integer or None, ``skip_kinks`` a bool."""
    if not isinstance(skip_kinks, (bool, np.bool_)):
        raise TypeError(f"skip_kinks must be True or False, got {skip_kinks!r}")
    check_positive(eps, "eps")
    check_range(atol, "atol", 0.0, math.inf)
    check_range(rtol, "rtol", 0.0, math.inf)
    if max_entries is not None:
        check_int(max_entries, "max_entries")


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
    skip_kinks: bool = False,
) -> ArrayCheck:
    eps, atol, rtol = tol
    flat = a.reshape(-1)  # a view: perturbing it perturbs what f reads
    assert np.shares_memory(flat, a), "gradcheck needs contiguous arrays"
    num = np.empty(len(idx))
    kinked = np.zeros(len(idx), dtype=bool)
    for k, i in enumerate(idx):
        plus, minus = central_difference(f, flat, i, eps)
        num[k] = (plus - minus) / (2 * eps)
        one_sided_gap = abs((plus - f0) - (f0 - minus)) / eps
        kinked[k] = one_sided_gap > atol + rtol * abs(num[k])
    kinks = int(kinked.sum())
    ana = np.asarray(analytic, dtype=np.float64).reshape(-1)[idx]
    if skip_kinks:  # probes across a kink measure nothing: leave them out of the verdict
        ana, num, idx = ana[~kinked], num[~kinked], idx[~kinked]
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
    skip_kinks: bool = False,
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
        skip_kinks: leave probes that straddle a kink out of the verdict (their one-sided
            slopes disagree: no central difference is right there); ``kinks`` counts them.

    Returns:
        A :class:`GradcheckReport`; a :class:`KinkWarning` is issued if a probe straddled a kink.
    """
    check_options(eps=eps, atol=atol, rtol=rtol, max_entries=max_entries, skip_kinks=skip_kinks)
    if not callable(f):
        raise TypeError(f"f must be a function of no arguments, got {type(f).__name__}")
    for what, given in (("arrays", arrays), ("analytic", analytic)):
        if not isinstance(given, dict):
            raise TypeError(f"{what} must be a dict of name -> array, got {type(given).__name__}")
    if set(analytic) != set(arrays):
        raise ValueError(f"analytic has {sorted(analytic)}, arrays {sorted(arrays)}: not the same")
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray):
            raise TypeError(f"arrays[{name!r}] must be an ndarray, got {type(a).__name__}")
        if a.dtype != np.float64 or not a.flags.c_contiguous:
            raise TypeError(f"arrays[{name!r}] must be a C-contiguous float64 array, got {a.dtype}")
        if np.shape(analytic[name]) != a.shape:
            raise ValueError(
                f"analytic[{name!r}] has shape {np.shape(analytic[name])}, the array {a.shape}"
            )
    rng = np.random.default_rng(0) if rng is None else check_rng(rng)
    f0 = f()
    tol = (eps, atol, rtol)
    checks = []
    for name, a in arrays.items():
        idx = _probe_indices(a.size, max_entries, rng)
        checks.append(_check_array(name, f, a, analytic[name], f0, idx, tol, skip_kinks))
    kinked = [f"{c.name} ({c.kinks})" for c in checks if c.kinks]
    if kinked:
        warnings.warn(
            f"central differences straddled a kink (e.g. a ReLU input within eps={eps:g} of 0) "
            f"in {', '.join(kinked)}: those probes are not reliable",
            KinkWarning,
            stacklevel=2,
        )
    return GradcheckReport(checks, eps, atol, rtol)
