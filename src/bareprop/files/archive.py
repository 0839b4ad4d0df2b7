"""The archive checks of model files and checkpoints: every ``.npy`` header is inspected
before NumPy reads any data, so nothing is ever unpickled or allocated from a forged size."""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.errors import ModelFileError


def array_entry(archive: Any, name: str, path: Path) -> np.ndarray:
    """One member of the archive, which must be a plain (non-object) array."""
    value = archive[name]
    if not isinstance(value, np.ndarray) or value.dtype.hasobject:
        raise ModelFileError(f"{path}: entry {name!r} is not a plain array")
    return value


# A model is saved uncompressed; a member that claims to expand more than this is refused
# before NumPy allocates for it (a zip bomb, or a forged .npy header).
MAX_EXPANSION = 20
MAX_MEMBERS = 4096
# What zipfile and NumPy's header parser raise on malformed input.
MALFORMED = (OSError, EOFError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, zlib.error,
             NotImplementedError, RuntimeError, SyntaxError, TypeError, OverflowError)  # fmt: skip


def inspect_archive(f: Any, path: Path, size: int) -> None:
    """Check every member's ``.npy`` header before ``np.load`` reads any of it.

    Each member must be a ``.npy`` of a plain dtype (an object dtype means a pickle: refused
    here, so nothing is ever unpickled) whose shape accounts exactly for its stored size, and
    the sizes must be plausible for a file of ``size`` bytes.
    """
    with zipfile.ZipFile(f) as z:
        members = z.infolist()
        if len(members) > MAX_MEMBERS:
            raise ModelFileError(f"{path}: {len(members)} entries, not a model file")
        if sum(m.file_size for m in members) > MAX_EXPANSION * size + (1 << 20):
            raise ModelFileError(f"{path}: its entries claim more data than the file can hold")
        for m in members:
            if not m.filename.endswith(".npy"):
                raise ModelFileError(f"{path}: unexpected entry {m.filename!r}")
            with z.open(m) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                if dtype.hasobject:
                    raise ModelFileError(f"{path}: refused, the file holds a pickled object")
                if math.prod(shape) * dtype.itemsize != m.file_size - member.tell():
                    raise ModelFileError(f"{path}: entry {m.filename!r} is truncated or corrupt")
