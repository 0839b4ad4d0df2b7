"""Data augmentation: random whole-pixel shifts of images, drawn from a seeded generator."""

from __future__ import annotations

import math

import numpy as np


def shift_images(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each image moved by a random whole number of pixels in ``[-max_shift, max_shift]`` along
    each axis, the uncovered border filled with zeros.

    Args:
        images: ``(N, ..., rows, cols)`` images, or ``(N, rows * cols)`` flat square ones.
        max_shift: the largest shift, in pixels (0: the images as they are).
        rng: draws one ``(dy, dx)`` per image.

    Returns:
        A new array of the same shape and dtype.
    """
    if max_shift == 0:
        return images.copy()
    shape = images.shape
    if images.ndim == 2:  # flat square images
        side = math.isqrt(shape[1])
        images = images.reshape(len(images), side, side)
    s = max_shift
    pad = [(0, 0)] * (images.ndim - 2) + [(s, s), (s, s)]
    padded = np.pad(images, pad)
    rows, cols = images.shape[-2:]
    shifts = rng.integers(-s, s + 1, size=(len(images), 2))
    out = np.empty_like(images)
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            sel = np.flatnonzero((shifts[:, 0] == dy) & (shifts[:, 1] == dx))
            out[sel] = padded[sel, ..., s - dy : s - dy + rows, s - dx : s - dx + cols]
    return out.reshape(shape)
