"""Files bareprop writes and reads back: atomic writes, and model files (weights + JSON).

Model files are ``.npz`` archives read with ``allow_pickle=False``; imports :mod:`bareprop.nn`.
"""

from bareprop.files.atomic import atomic_write, write_text
from bareprop.files.model_file import load, read_header, save, weights_sha256

__all__ = ["atomic_write", "load", "read_header", "save", "weights_sha256", "write_text"]
