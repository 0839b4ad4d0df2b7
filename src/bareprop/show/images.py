"""Turning any image file into an MNIST-like input. An edge module (Pillow).

MNIST digits are white on black, fitted into a 20x20 box and centred by their centre of
mass in a 28x28 frame. ``to_mnist`` does the same to a photo or drawing of a digit.

:func:`load_digit` (what ``bareprop predict`` uses) first checks that the image can hold a
digit at all, and raises :class:`NoDigitError` saying why not, rather than hand the model a
blank frame to guess on. The rule, on the grey image (transparent pixels composited onto a
background that contrasts with the opaque ones):

- it is at least :data:`MIN_SIDE` pixels on each side;
- its grey levels span at least :data:`MIN_CONTRAST` of 0-255 (a blank white, black, grey or
  fully transparent image spans 0);
- its ink, the pixels that differ from the background (the majority) by more than
  :data:`INK_LEVEL` of that span, counts at least :data:`MIN_INK_PIXELS` pixels and
  :data:`MIN_INK_SHARE` of the image (a speck of dust is not a digit; the faintest MNIST
  digit has 27 such pixels in 28x28).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bareprop.errors import DataError

MIN_SIDE = 8
MIN_CONTRAST = 32
INK_LEVEL = 0.2
MIN_INK_PIXELS = 10
MIN_INK_SHARE = 0.0005


class NoDigitError(DataError):
    """An image that cannot hold a digit: too small, blank, or (almost) without ink."""


def read_grey(path: str | Path) -> np.ndarray:
    """``path`` as float grey levels ``(rows, cols)`` in [0, 255].

    Transparent pixels are composited onto white if the opaque ones are dark on average,
    else onto black, so a digit drawn on a transparent canvas keeps its contrast.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            grey_img = img.convert("RGBA").convert("LA") if has_alpha else img.convert("L")
            pixels = np.asarray(grey_img, dtype=np.float64)
    except FileNotFoundError:
        raise DataError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    if pixels.ndim == 2:
        return pixels
    grey, alpha = pixels[..., 0], pixels[..., 1] / 255.0
    weight = alpha.sum()
    background = 255.0 if weight and (grey * alpha).sum() / weight < 128 else 0.0
    return grey * alpha + background * (1.0 - alpha)


def light_on_dark(grey: np.ndarray) -> np.ndarray:
    """``grey`` as MNIST draws digits: the majority (background) dark, stretched to 0-255."""
    if grey.mean() > 127:  # a dark digit on a light background: invert
        grey = 255.0 - grey
    grey = grey - grey.min()
    return grey * (255.0 / grey.max()) if grey.max() > 0 else grey


def no_digit_reason(grey: np.ndarray) -> str | None:
    """Why ``grey`` (``(rows, cols)``, 0-255) cannot hold a digit, or None if it can."""
    rows, cols = grey.shape
    if min(rows, cols) < MIN_SIDE:
        return f"the image is {cols}x{rows} pixels, too small for a digit (at least {MIN_SIDE})"
    low, high = float(grey.min()), float(grey.max())
    if high - low < MIN_CONTRAST:
        return (
            f"the image is blank: its grey levels span {low:.0f} to {high:.0f}, "
            f"less than {MIN_CONTRAST} of 255"
        )
    ink = int(np.count_nonzero(light_on_dark(grey) > INK_LEVEL * 255))
    if ink < max(MIN_INK_PIXELS, MIN_INK_SHARE * grey.size):
        return f"only {ink} pixel(s) of ink in {cols}x{rows}, too few for a digit"
    return None


def load_digit(path: str | Path, size: int = 28, box: int = 20) -> np.ndarray:
    """:func:`to_mnist`, but raise :class:`NoDigitError` for an image that holds no digit."""
    grey = read_grey(path)
    reason = no_digit_reason(grey)
    if reason is not None:
        raise NoDigitError(f"{path}: no digit found: {reason}")
    return fit_digit(grey, size, box)


def to_mnist(path: str | Path, size: int = 28, box: int = 20) -> np.ndarray:
    """Load ``path`` and return a ``(size, size)`` uint8 image of a white digit on black
    (all zeros if the image has no ink)."""
    return fit_digit(read_grey(path), size, box)


def fit_digit(grey: np.ndarray, size: int = 28, box: int = 20) -> np.ndarray:
    """Grey levels ``(rows, cols)`` -> ``(size, size)`` uint8: the ink cropped, fitted into a
    ``box`` x ``box`` square and centred by its centre of mass, white on black."""
    grey = light_on_dark(grey)
    rows, cols = np.nonzero(grey > INK_LEVEL * 255)
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
