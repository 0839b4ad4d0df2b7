"""MNIST: the four IDX files bundled with the package, or any folder of the same four files.

The bundled files (``data/bundled/``) make a fresh install train offline; their SHA-256 is
checked on every load. ``load_mnist(data_dir)`` (or ``BAREPROP_DATA``) reads the same four
files from any folder, such as Fashion-MNIST's. :func:`preprocess` turns images into inputs.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.data.idx import read_idx
from bareprop.errors import DataError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def bundled_dir() -> Path:
    """The folder of the MNIST files that ship with bareprop."""
    return Path(str(resources.files("bareprop") / "data" / "bundled"))


def data_folder(data_dir: str | os.PathLike[str] | None) -> Path:
    """The folder :func:`load_mnist` reads: ``data_dir``, else ``$BAREPROP_DATA``, else bundled."""
    if data_dir is None:
        data_dir = os.environ.get("BAREPROP_DATA") or None
    return Path(data_dir) if data_dir is not None else bundled_dir()


def find_file(folder: Path, stem: str) -> Path:
    """``stem`` or ``stem.gz`` (also the common ``train-images.idx3-ubyte`` spelling)."""
    alternatives = [stem, stem.replace("-idx", ".idx")]
    for name in alternatives:
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                return candidate
    raise DataError(f"{folder}: no {stem}[.gz] in this folder")


def _check_bundled_sums(folder: Path, names: Sequence[str] | None = None) -> None:
    """Check the SHA-256 of the bundled files (of ``names`` only, if given)."""
    sums = {}
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        sums[name] = digest
    for name, digest in sums.items():
        if names is not None and name not in names:
            continue
        actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if actual != digest:
            raise DataError(
                f"{folder / name}: SHA-256 mismatch, the bundled file is damaged; "
                "reinstall bareprop"
            )


def load_split(
    data_dir: str | os.PathLike[str] | None = None, split: str = "test"
) -> tuple[np.ndarray, np.ndarray]:
    """One half of :func:`load_mnist`: ``(images, labels)`` of ``split`` ("train" or "test").

    Reads (and, for the bundled copy, checks) only that half's two files: the test set alone
    is a sixth of the data, for a command that needs no training images.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = data_folder(data_dir)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such data folder")
    img_path = find_file(folder, FILES[f"{split}_images"])
    lab_path = find_file(folder, FILES[f"{split}_labels"])
    if folder == bundled_dir():
        _check_bundled_sums(folder, [img_path.name, lab_path.name])
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3:
        raise DataError(
            f"{img_path}: expected images (N, rows, cols), "
            f"found a {images.ndim}-D array {images.shape}"
        )
    if labels.ndim != 1:
        raise DataError(
            f"{lab_path}: expected labels (N,), found a {labels.ndim}-D array {labels.shape}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{img_path} has {len(images)} images but {lab_path} has {len(labels)} labels"
        )
    return images, labels


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST (or any data set in the same four IDX files).

    Args:
        data_dir: folder with ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
            ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``. If None, the
            environment variable ``BAREPROP_DATA``, else the copy bundled with bareprop (whose
            SHA-256 sums are checked).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images as uint8 ``(N, 28, 28)``, labels as
        uint8 ``(N,)``, as ``keras.datasets.mnist.load_data`` returns them.
    """
    folder = data_folder(data_dir)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such data folder")
    for stem in FILES.values():  # a missing file is reported before any is read
        find_file(folder, stem)
    train, test = load_split(data_dir, "train"), load_split(data_dir, "test")
    if train[0].shape[1:] != test[0].shape[1:]:
        raise DataError(
            f"{find_file(folder, FILES['test_images'])}: images of {test[0].shape[1:]} pixels, "
            f"the training images have {train[0].shape[1:]}"
        )
    return train, test


PIXEL_SCALE = 1.0 / 255.0


def preprocess(images: np.ndarray, dtype: Any, scale: float = PIXEL_SCALE) -> np.ndarray:
    """uint8 images ``(N, rows, cols)`` -> ``(N, rows * cols)`` times ``scale`` (in [0, 1])."""
    flat = images.reshape(len(images), math.prod(images.shape[1:]))  # -1 fails for N = 0
    if flat.dtype == np.uint8:  # a 256-entry table: same values, without a float64 copy
        return (np.arange(256) * scale).astype(dtype)[flat]
    return (flat * scale).astype(dtype)


def inputs_for(model: Any, images: np.ndarray) -> np.ndarray:
    """Images ``(N, rows, cols)`` as ``model`` takes them: scaled by the ``pixel_scale`` its
    model file recorded (1/255 if none) and shaped by :func:`model_input_shape`.

    Raises:
        ValueError: the images do not fit the model (e.g. 784 pixels for a 100-feature MLP).
    """
    pre = getattr(model, "metadata", {}).get("preprocessing") or {}
    x = preprocess(images, model.dtype, pre.get("pixel_scale", PIXEL_SCALE))
    return shaped_for(model, x, images.shape[1:])


def shaped_for(model: Any, x: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    """Rows of images of ``image_shape`` (flat or not) reshaped as ``model`` takes them
    (:func:`model_input_shape`): a view, no copy."""
    return x.reshape(len(x), *model_input_shape(model, image_shape))


def model_input_shape(model: Any, image_shape: Sequence[int]) -> tuple[int, ...]:
    """The per-sample shape ``model`` takes for images of ``image_shape`` (rows, cols):
    the flat pixels for a model with a fixed feature count (an MLP), else one channel of
    ``(1, rows, cols)`` images (a conv net)."""
    fixed = model.input_shape()
    if fixed is not None and len(fixed) == 1:
        if fixed[0] != math.prod(image_shape):
            raise ValueError(
                f"the model takes {fixed[0]} features, images of {tuple(image_shape)} have "
                f"{math.prod(image_shape)} pixels"
            )
        return fixed
    return (1, *image_shape)
