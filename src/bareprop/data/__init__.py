"""Data sets: the IDX format, MNIST (bundled in ``bundled/``), and turning images into inputs.

NumPy only; imports nothing else from bareprop but :mod:`bareprop.errors`.
"""

from bareprop.data.idx import read_idx, write_idx
from bareprop.data.mnist import FILES, bundled_dir, data_folder, find_file, load_mnist, preprocess

__all__ = [
    "FILES",
    "bundled_dir",
    "data_folder",
    "find_file",
    "load_mnist",
    "preprocess",
    "read_idx",
    "write_idx",
]
