"""MNIST and the IDX format it is stored in.

The four MNIST files ship inside the package, so a fresh install trains offline; their
SHA-256 is checked on every load. ``load_mnist(data_dir)`` (or ``BAREPROP_DATA``) reads the
same four files from any folder, such as Fashion-MNIST's.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.errors import DataError
from bareprop.toy_data import blobs, circles, moons, spiral, xor  # noqa: F401  (re-exported)

# IDX type codes -> big-endian NumPy dtypes.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_IDX_BYTES = 4 << 30  # a header that claims more than 4 GiB is refused before allocating
# Deflate cannot expand data by more than ~1032x, so a gzipped file whose header claims more
# than this times its size is lying; refusing it bounds what a tiny file can make us allocate.
MAX_GZIP_RATIO = 1100

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


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


def bundled_dir() -> Path:
    """The folder of the MNIST files that ship with bareprop."""
    return Path(str(resources.files("bareprop") / "data" / "mnist"))


def _find(folder: Path, stem: str) -> Path:
    """``stem`` or ``stem.gz`` (also the common ``train-images.idx3-ubyte`` spelling)."""
    alternatives = [stem, stem.replace("-idx", ".idx")]
    for name in alternatives:
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                return candidate
    raise DataError(f"{folder}: no {stem}[.gz] in this folder")


def _check_bundled_sums(folder: Path) -> None:
    sums = {}
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        sums[name] = digest
    for name, digest in sums.items():
        actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if actual != digest:
            raise DataError(
                f"{folder / name}: SHA-256 mismatch, the bundled file is damaged; "
                "reinstall bareprop"
            )


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
    if data_dir is None:
        data_dir = os.environ.get("BAREPROP_DATA") or None
    folder = Path(data_dir) if data_dir is not None else bundled_dir()
    if not folder.is_dir():
        raise DataError(f"{folder}: no such data folder")
    if data_dir is None:
        _check_bundled_sums(folder)
    paths = {key: _find(folder, stem) for key, stem in FILES.items()}
    arrays = {key: read_idx(p) for key, p in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        img_path, lab_path = paths[f"{split}_images"], paths[f"{split}_labels"]
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
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DataError(
            f"{paths['test_images']}: images of {arrays['test_images'].shape[1:]} pixels, "
            f"the training images have {arrays['train_images'].shape[1:]}"
        )
    return (arrays["train_images"], arrays["train_labels"]), (
        arrays["test_images"],
        arrays["test_labels"],
    )


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
