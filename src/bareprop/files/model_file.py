"""Model files: one ``.npz`` holding the weights and a JSON description. Never a pickle.

Layout of the archive::

    config      uint8 bytes of a UTF-8 JSON document:
                {"format": "bareprop-model", "version": 1, "architecture": {...},
                 "weights_sha256": "...", "metadata": {...}}
    param_0 ... the parameters, in ``model.parameters()`` order, with their dtype

``load`` reads it with ``allow_pickle=False``, checks the format, version, shapes and the
SHA-256 of the weights, and rebuilds the model, which then predicts exactly as the saved one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.errors import ModelFileError
from bareprop.nn.sequential import Sequential

FORMAT = "bareprop-model"
VERSION = 1


def weights_sha256(arrays: list[np.ndarray]) -> str:
    """SHA-256 over the parameters' dtype, shape and bytes, in order."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def atomic_write(path: str | os.PathLike[str], write: Any) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it.

    A reader never sees a half-written ``path``: either the old file or the complete new one.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: the folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(
    model: Sequential, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None
) -> None:
    """Write ``model`` to ``path`` (an ``.npz``), atomically.

    Args:
        model: the model to save.
        path: where to write; its folder must exist.
        metadata: JSON-serialisable extras kept beside the architecture (preprocessing
            constants, class names, the training config).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a Sequential, got {type(model).__name__}")
    arrays = [p.data for p in model.parameters()]
    header = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": model.get_config(),
        "weights_sha256": weights_sha256(arrays),
        "metadata": metadata or {},
    }
    blob = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    payload = {"config": blob, **{f"param_{i}": a for i, a in enumerate(arrays)}}
    atomic_write(path, lambda f: np.savez(f, **payload))  # type: ignore[arg-type]  # stub quirk


def _array(archive: Any, name: str, path: Path) -> np.ndarray:
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


def _inspect_archive(f: Any, path: Path, size: int) -> None:
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


def read_header(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The JSON header and the parameter arrays of a model file, checked but not yet built."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with path.open("rb") as f:
            if f.read(4) != b"PK\x03\x04":
                raise ModelFileError(f"{path}: not a model file (not an .npz archive)")
            f.seek(0)
            _inspect_archive(f, path, path.stat().st_size)
            f.seek(0)
            with np.load(f, allow_pickle=False) as archive:
                names = set(archive.files)
                if "config" not in names:
                    raise ModelFileError(f"{path}: not a bareprop model (no 'config' entry)")
                header = json.loads(_array(archive, "config", path).tobytes().decode("utf-8"))
                n = sum(1 for name in names if name.startswith("param_"))
                arrays = [_array(archive, f"param_{i}", path) for i in range(n)]
    except ModelFileError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise ModelFileError(f"{path}: refused, the file holds a pickled object") from None
        raise ModelFileError(f"{path}: not a valid model file ({e})") from None
    except MALFORMED as e:
        raise ModelFileError(
            f"{path}: not a valid model file, truncated or corrupt ({e})"
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a bareprop model file")
    if header.get("version") != VERSION:
        raise ModelFileError(
            f"{path}: model format version {header.get('version')!r}, this bareprop reads {VERSION}"
        )
    if header.get("weights_sha256") != weights_sha256(arrays):
        raise ModelFileError(
            f"{path}: the weights do not match their SHA-256: the file was altered"
        )
    return header, arrays


def _check_shapes(architecture: Any, arrays: list[np.ndarray], path: Any) -> None:
    """The Linear sizes the architecture names must be the shapes of the stored weights.

    Checked before the model is built, so a forged ``in_features`` of 10**12 is an error
    rather than a huge allocation.
    """
    layers = architecture.get("layers") if isinstance(architecture, dict) else None
    if not isinstance(layers, list) or not all(isinstance(c, dict) for c in layers):
        raise ModelFileError(f"{path}: the architecture is not a list of layers")
    shapes = []
    for c in layers:
        if c.get("type") == "Linear":
            n_in, n_out = c.get("in_features"), c.get("out_features")
            shapes += [(n_in, n_out), (n_out,)]
    found = [a.shape for a in arrays]
    if shapes != found:
        raise ModelFileError(f"{path}: the architecture needs weights {shapes}, the file {found}")


def load(path: str | os.PathLike[str]) -> Sequential:
    """Read a model written by :func:`save`.

    Raises:
        ModelFileError: the file is missing, truncated, corrupt, tampered with, carries a
            pickle, or does not describe a model whose shapes match its weights.
    """
    header, arrays = read_header(path)
    _check_shapes(header.get("architecture"), arrays, path)  # before building allocates
    try:
        model = Sequential.from_config(header["architecture"], rng=np.random.default_rng(0))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelFileError(f"{path}: the architecture cannot be built ({e})") from None
    params = model.parameters()
    if len(params) != len(arrays):
        raise ModelFileError(
            f"{path}: the architecture has {len(params)} parameters, the file {len(arrays)}"
        )
    for i, (p, a) in enumerate(zip(params, arrays, strict=True)):
        if p.data.shape != a.shape or p.data.dtype != a.dtype:
            raise ModelFileError(
                f"{path}: parameter {i} is {a.dtype}{a.shape}, "
                f"the architecture needs {p.data.dtype}{p.data.shape}"
            )
        p.data[...] = a
    model.metadata = _checked_metadata(header.get("metadata", {}), model, path)
    return model.eval()


def _checked_metadata(meta: Any, model: Sequential, path: Any) -> dict[str, Any]:
    """Class names and preprocessing constants, if present, must fit the model."""
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: metadata must be a JSON object, got {type(meta).__name__}")
    classes = meta.get("classes")
    if classes is not None and (
        not isinstance(classes, list)
        or len(classes) != model.out_features
        or not all(isinstance(c, str) for c in classes)
    ):
        raise ModelFileError(
            f"{path}: class names {classes!r} do not name the model's {model.out_features} outputs"
        )
    pre = meta.get("preprocessing")
    if pre is None:
        return meta
    pre = pre if isinstance(pre, dict) else {}
    scale: Any = pre.get("pixel_scale")
    shape: Any = pre.get("image_shape")
    ok_scale = type(scale) in (int, float) and 0 < scale < math.inf
    ok_shape = isinstance(shape, list) and all(type(d) is int and d > 0 for d in shape)
    if not (ok_scale and ok_shape and math.prod(shape) == model.in_features):
        raise ModelFileError(
            f"{path}: preprocessing {pre!r} does not fit a model of {model.in_features} inputs"
        )
    return meta
