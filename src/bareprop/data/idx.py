"""The IDX file format MNIST is stored in: ``read_idx`` and ``write_idx``.

Every size a header claims is checked against the file before anything large is allocated.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.errors import DataError

# IDX type codes -> big-endian NumPy dtypes.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_IDX_BYTES = 4 << 30  # a header that claims more than 4 GiB is refused before allocating
# Deflate cannot expand data by more than ~1032x, so a gzipped file whose header claims more
# than this times its size is lying; refusing it bounds what a tiny file can make us allocate.
MAX_GZIP_RATIO = 1100


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzipped or raw.

    The header (two zero bytes, a type code, the number of dimensions, then each dimension as
    a big-endian uint32) is checked against the data that follows before anything large is
    allocated.

    Returns:
        An array of the file's shape, in native byte order.

    Raises:
        DataError: naming the file and what is wrong with it (missing, not IDX, truncated,
            corrupt gzip, trailing bytes).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with path.open("rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        opener = gzip.open if gzipped else open
        size = path.stat().st_size
        with opener(path, "rb") as f:
            return _read_idx_stream(f, path, None if gzipped else size, gz_size=size)
    except DataError:
        raise
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt or unreadable ({e})") from None


def _read_idx_stream(
    f: object, path: Path, file_size: int | None, *, gz_size: int = 0
) -> np.ndarray:
    read = f.read  # type: ignore[attr-defined]
    magic = read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {magic.hex() or 'empty'})")
    dtype = np.dtype(IDX_DTYPES[magic[2]])
    ndim = magic[3]
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares 0 dimensions")
    dims_raw = read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow for 255 dims
    if expected > MAX_IDX_BYTES:
        raise DataError(f"{path}: IDX header claims {expected} bytes of data, more than allowed")
    if file_size is None and expected > MAX_GZIP_RATIO * gz_size + 1024:
        raise DataError(
            f"{path}: IDX header claims {expected} bytes of data, more than a gzip file of "
            f"{gz_size} bytes can hold"
        )
    header_size = 4 + 4 * ndim
    if file_size is not None and file_size - header_size != expected:
        raise DataError(
            f"{path}: truncated or padded: the header {shape} needs {expected} bytes of data, "
            f"the file has {file_size - header_size}"
        )
    data = _read_at_most(read, expected)
    if len(data) != expected:
        raise DataError(
            f"{path}: truncated: the header {shape} needs {expected} bytes of data, "
            f"found {len(data)}"
        )
    if read(1):
        raise DataError(f"{path}: has bytes after the data its header {shape} describes")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _read_at_most(read: Any, n: int, chunk: int = 1 << 24) -> bytes:
    """Read up to ``n`` bytes in chunks, so a false size claim allocates only what is there."""
    parts = []
    while n > 0:
        part = read(min(n, chunk))
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped if ``path`` ends in ``.gz``). For tests and tools."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}
    dt = array.dtype.newbyteorder("=")
    if dt not in codes:
        raise ValueError(f"array dtype {array.dtype} has no IDX type code")
    header = bytes([0, 0, codes[dt], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body = header + np.ascontiguousarray(array, dtype=dt.newbyteorder(">")).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(body, mtime=0) if path.suffix == ".gz" else body)
