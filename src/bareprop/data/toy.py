"""Toy 2-D classification sets, as TensorFlow Playground draws them. NumPy only.

Each generator takes ``n`` (samples), ``noise`` (the standard deviation of Gaussian noise
added to both coordinates, in data units) and ``rng`` (a ``numpy.random.Generator``; a fresh
unseeded one for None, never NumPy's global state), and returns ``(x, y)``: ``x`` float64
``(n, 2)`` with the points roughly within ``[-1, 1]^2`` and ``y`` int64 ``(n,)`` class labels.
The classes are as balanced as ``n`` allows and the samples come in random order, so the first
``k`` of them are a random subset (a train/test split is a slice).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bareprop.validation import check_positive, check_range, check_rng


def _check(n: Any, noise: Any, rng: Any) -> np.random.Generator:
    check_positive(n, "n", integer=True)
    check_range(noise, "noise", 0.0, float("inf"))
    return check_rng(rng)


def _class_sizes(n: int, classes: int) -> list[int]:
    """``n`` split into ``classes`` sizes that differ by at most one."""
    return [n // classes + (c < n % classes) for c in range(classes)]


def _finish(
    parts: list[np.ndarray], noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-class points ``(n_c, 2)``, add the noise, shuffle; ``(x (n, 2), y (n,))``."""
    x = np.concatenate(parts).astype(np.float64)
    y = np.concatenate([np.full(len(p), c, dtype=np.int64) for c, p in enumerate(parts)])
    if noise > 0:
        x += rng.normal(0.0, noise, size=x.shape)
    order = rng.permutation(len(x))
    return x[order], y[order]


def spiral(
    n: int, noise: float = 0.0, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of two turns each; class ``c`` is turned by ``c * pi``.

    Point ``i`` of a class sits at radius ``r = 0.05 + 0.95 t`` and angle ``4 pi t + c pi``,
    with ``t`` evenly spaced in ``[0, 1]``.
    """
    rng = _check(n, noise, rng)
    parts = []
    for c, m in enumerate(_class_sizes(n, 2)):
        t = np.linspace(0.0, 1.0, m)
        r, angle = 0.05 + 0.95 * t, 4 * np.pi * t + c * np.pi
        parts.append(np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1))
    return _finish(parts, noise, rng)


def moons(
    n: int, noise: float = 0.0, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons``), scaled into ``[-1, 1]^2``.

    Class 0: ``(cos u, sin u)``; class 1: ``(1 - cos u, 0.5 - sin u)``, ``u ~ U[0, pi]``; then
    both are centred and scaled by 0.6.
    """
    rng = _check(n, noise, rng)
    m0, m1 = _class_sizes(n, 2)
    u0, u1 = rng.uniform(0.0, np.pi, m0), rng.uniform(0.0, np.pi, m1)
    upper = np.stack([np.cos(u0), np.sin(u0)], axis=1)
    lower = np.stack([1.0 - np.cos(u1), 0.5 - np.sin(u1)], axis=1)
    centre = np.array([0.5, 0.25])
    return _finish([0.6 * (upper - centre), 0.6 * (lower - centre)], noise, rng)


def circles(
    n: int, noise: float = 0.0, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A disc (class 0, radius below 0.5) inside a ring (class 1, radius 0.7 to 1)."""
    rng = _check(n, noise, rng)
    parts = []
    for (low, high), m in zip(((0.0, 0.5), (0.7, 1.0)), _class_sizes(n, 2), strict=True):
        r = rng.uniform(low, high, m)
        angle = rng.uniform(0.0, 2 * np.pi, m)
        parts.append(np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1))
    return _finish(parts, noise, rng)


def xor(
    n: int, noise: float = 0.0, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The four quadrants: class 0 where ``x0 * x1 > 0``, class 1 where the signs differ.

    Points are uniform in ``[-1, 1]^2`` at least 0.1 away from both axes (before the noise), so
    that the classes are separable when ``noise`` is 0.
    """
    rng = _check(n, noise, rng)
    parts = []
    for c, m in enumerate(_class_sizes(n, 2)):
        mag = rng.uniform(0.1, 1.0, size=(m, 2))
        sign0 = rng.choice([-1.0, 1.0], size=m)
        sign1 = sign0 if c == 0 else -sign0  # same signs: product > 0
        parts.append(mag * np.stack([sign0, sign1], axis=1))
    return _finish(parts, noise, rng)


def blobs(
    n: int, noise: float = 0.0, rng: np.random.Generator | None = None, *, centers: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """``centers`` Gaussian blobs, one per class, evenly spaced on a circle of radius 0.6.

    Each blob has standard deviation 0.15 before ``noise`` is added on top.
    """
    rng = _check(n, noise, rng)
    check_positive(centers, "centers", integer=True)
    if centers < 2:
        raise ValueError(f"centers must be at least 2 (one blob per class), got {centers!r}")
    parts = []
    for c, m in enumerate(_class_sizes(n, centers)):
        angle = np.pi / 2 + 2 * np.pi * c / centers
        centre = 0.6 * np.array([np.cos(angle), np.sin(angle)])
        parts.append(centre + rng.normal(0.0, 0.15, size=(m, 2)))
    return _finish(parts, noise, rng)


TOY_SETS = {"spiral": spiral, "moons": moons, "circles": circles, "xor": xor, "blobs": blobs}

__all__ = ["TOY_SETS", "blobs", "circles", "moons", "spiral", "xor"]
