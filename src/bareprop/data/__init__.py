"""Data sets: the IDX format, MNIST (bundled in ``bundled/``), toy 2-D sets, augmentation.

Core, NumPy only: imports nothing from bareprop but :mod:`bareprop.errors` and
:mod:`bareprop.validation`.
"""

from bareprop.data.idx import read_idx, write_idx
from bareprop.data.mnist import (
    FILES,
    bundled_dir,
    data_folder,
    find_file,
    inputs_for,
    load_mnist,
    model_input_shape,
    preprocess,
)
from bareprop.data.toy import blobs, circles, moons, spiral, xor

__all__ = [
    "FILES",
    "blobs",
    "bundled_dir",
    "circles",
    "data_folder",
    "find_file",
    "inputs_for",
    "load_mnist",
    "model_input_shape",
    "moons",
    "preprocess",
    "read_idx",
    "spiral",
    "write_idx",
    "xor",
]
