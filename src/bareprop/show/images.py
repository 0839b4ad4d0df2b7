"""Turning any image file into an MNIST-like input. An edge module (Pillow).

MNIST digits are white on black, fitted into a 20x20 box and centred by their centre of
mass in a 28x28 frame. ``to_mnist`` does the same to a photo or drawing of a digit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bareprop.errors import DataError


def to_mnist(path: str | Path, size: int = 28, box: int = 20) -> np.ndarray:
    """Load ``path`` and return a ``(size, size)`` uint8 image of a white digit on black."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            grey = np.asarray(img.convert("L"), dtype=np.float64)
    except FileNotFoundError:
        raise DataError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    if grey.mean() > 127:  # a dark digit on a light background: invert, as MNIST is light on dark
        grey = 255.0 - grey
    grey -= grey.min()
    if grey.max() > 0:
        grey *= 255.0 / grey.max()
    rows, cols = np.nonzero(grey > 0.2 * 255)
    if len(rows) == 0:
        return np.zeros((size, size), dtype=np.uint8)
    crop = grey[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = box / max(crop.shape)
    new_shape = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    fitted = np.asarray(
        Image.fromarray(crop.astype(np.uint8)).resize(new_shape, Image.Resampling.LANCZOS),
        dtype=np.float64,
    )
    frame = np.zeros((size, size))
    top, left = (size - fitted.shape[0]) // 2, (size - fitted.shape[1]) // 2
    frame[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    # Shift so that the centre of mass sits in the middle of the frame, as MNIST's digits do.
    total = frame.sum()
    if total > 0:
        ys, xs = np.indices(frame.shape)
        dy = round(size / 2 - (ys * frame).sum() / total)
        dx = round(size / 2 - (xs * frame).sum() / total)
        frame = np.roll(frame, (dy, dx), axis=(0, 1))
    return np.clip(frame, 0, 255).astype(np.uint8)
