"""Model files: one ``.npz`` holding the weights and a JSON description. Never a pickle.

Layout of the archive::

    config      uint8 bytes of a UTF-8 JSON document:
                {"format": "bareprop-model", "version": 1, "architecture": {...},
                 "weights_sha256": "...", "metadata": {...}, "header_sha256": "..."}
    param_0 ... the parameters, in ``model.parameters()`` order, with their dtype
    buffer_0 .. the buffers (non-trainable state, such as batch norm's running statistics),
                in ``model.buffers()`` order; a model without buffers has none

``weights_sha256`` covers the parameters then the buffers (for a model without buffers, as
files written before buffers existed: they load as they did). ``header_sha256`` covers the
rest of the header (architecture, metadata, format, version and ``weights_sha256``) in its
canonical JSON form (:func:`header_sha256`), so an edited architecture or metadata is refused as
an altered file. Files written before ``header_sha256`` existed have none and still load; for
them only the weights are checked against a digest.

The digests detect corruption and edits that do not recompute them; they are not a signature
(whoever edits a file can recompute both, or drop ``header_sha256``), which is why ``load`` also
checks that the architecture, the weights and the metadata fit each other.

``load`` reads it with ``allow_pickle=False``, checks the format, version, digests and shapes,
and rebuilds the model, which then predicts exactly as the saved one. ``save`` refuses a model
that ``load`` could not read back (running the same checks on what it is about to write).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.data.mnist import model_input_shape
from bareprop.errors import ModelFileError
from bareprop.files.archive import MALFORMED as MALFORMED  # re-exported for checkpoints
from bareprop.files.archive import array_entry
from bareprop.files.archive import inspect_archive as inspect_archive  # re-exported
from bareprop.files.atomic import atomic_write
from bareprop.nn.layer import LAYERS, Layer
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


def check_path(path: Any) -> Path:
    """``path`` as a Path, if it is a str or an ``os.PathLike``."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a path, got {type(path).__name__} {path!r}")
    return Path(path)


def header_sha256(header: dict[str, Any]) -> str:
    """SHA-256 of ``header`` without its own ``header_sha256`` field, as canonical JSON
    (sorted keys, no spaces): the same for the header ``save`` writes and ``load`` reads."""
    body = {k: v for k, v in header.items() if k != "header_sha256"}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def model_arrays(model: Layer) -> list[np.ndarray]:
    """What a model file stores: every parameter's values, then every buffer."""
    return [p.data for p in model.parameters()] + model.buffers()


def save(
    model: Sequential, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None
) -> None:
    """Write ``model`` to ``path`` (an ``.npz``), atomically.

    Args:
        model: the model to save.
        path: where to write; its folder must exist.
        metadata: JSON-serialisable extras kept beside the architecture (preprocessing
            constants, class names, the training config).

    Raises:
        TypeError / ValueError: the model is not a Sequential, ``metadata`` is not a
            JSON-serialisable dict, or the file would be one :func:`load` refuses: a layer class
            not registered with :func:`~bareprop.nn.register_layer`, no layers, class names or
            preprocessing that do not fit the model's outputs or input, weights whose dtype or
            shape the architecture does not give. Nothing is written then.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a Sequential, got {type(model).__name__}")
    check_path(path)
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
    for name, layer in model.named_children():  # the model itself is stored as a Sequential
        _check_loadable(layer, name)
    params, buffers = [p.data for p in model.parameters()], model.buffers()
    try:  # the header as load will read it back: tuples become lists, keys strings
        header = json.loads(json.dumps({
            "format": FORMAT,
            "version": VERSION,
            "architecture": model.get_config(),
            "weights_sha256": weights_sha256(params + buffers),
            "metadata": metadata or {},
        }))  # fmt: skip
    except (TypeError, ValueError) as e:
        raise TypeError(f"metadata must be JSON-serialisable ({e})") from None
    header["header_sha256"] = header_sha256(header)
    try:
        _built(header, params + buffers, "model")  # what load would do with the file
    except ModelFileError as e:
        raise ValueError(f"save refused: load() could not read this model back ({e})") from None
    blob = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    payload = {
        "config": blob,
        **{f"param_{i}": a for i, a in enumerate(params)},
        **{f"buffer_{i}": a for i, a in enumerate(buffers)},
    }
    atomic_write(path, lambda f: np.savez(f, **payload))  # type: ignore[arg-type]  # stub quirk


def _check_loadable(layer: Layer, name: str) -> None:
    """Every layer inside ``layer`` is one that :func:`load` can rebuild from its config."""
    kind = type(layer).__name__
    if LAYERS.get(kind) is not type(layer):
        raise ValueError(
            f"{name} is a {kind}, which a model file cannot name: register the class with "
            "@bareprop.nn.register_layer so that load() can rebuild it"
        )
    for child_name, child in layer.named_children():
        _check_loadable(child, f"{name}.{child_name}")


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
            inspect_archive(f, path, path.stat().st_size)
            f.seek(0)
            with np.load(f, allow_pickle=False) as archive:
                names = set(archive.files)
                if "config" not in names:
                    raise ModelFileError(f"{path}: not a bareprop model (no 'config' entry)")
                header = json.loads(array_entry(archive, "config", path).tobytes().decode("utf-8"))
                arrays = [
                    array_entry(archive, f"{kind}_{i}", path)
                    for kind in ("param", "buffer")
                    for i in range(sum(1 for name in names if name.startswith(f"{kind}_")))
                ]
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
    if "header_sha256" in header and header["header_sha256"] != header_sha256(header):
        raise ModelFileError(
            f"{path}: the header (architecture, metadata) does not match its SHA-256: "
            "the file was altered"
        )
    return header, arrays


def _check_shapes(architecture: Any, arrays: list[np.ndarray], path: Any) -> int:
    """The shapes the architecture's layers need must be those of the stored arrays.

    Worked out from the configs alone (each layer's ``param_shapes`` / ``buffer_shapes``),
    before the model is built, so a forged ``in_features`` of 10**12 is an error rather than
    a huge allocation. Returns the number of parameters (the arrays after them are buffers).
    """
    try:
        params = Sequential.param_shapes(architecture)
        buffers = Sequential.buffer_shapes(architecture)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelFileError(
            f"{path}: the architecture is not a list of known layers ({e})"
        ) from None
    found = [a.shape for a in arrays]
    if params + buffers != found:
        raise ModelFileError(
            f"{path}: the architecture needs weights {params + buffers}, the file {found}"
        )
    return len(params)


def load(path: str | os.PathLike[str]) -> Sequential:
    """Read a model written by :func:`save`.

    Tampering is detected by two SHA-256 digests: of the weights, and of the header
    (architecture and metadata). A file written before the header digest existed is checked
    for its weights only. See the module doc for what a digest can and cannot prove.

    Raises:
        ModelFileError: the file is missing, truncated, corrupt, tampered with, carries a
            pickle, does not describe a model whose shapes match its weights, or holds
            weights that are NaN or infinite (a model that would answer every input alike).
    """
    header, arrays = read_header(check_path(path))
    return _built(header, arrays, path)


def _built(header: dict[str, Any], arrays: list[np.ndarray], path: Any) -> Sequential:
    """The model a checked header and its arrays describe, in eval mode; ModelFileError if the
    architecture, the arrays and the metadata do not fit each other."""
    n_params = _check_shapes(header.get("architecture"), arrays, path)  # before allocating
    try:
        model = Sequential.from_config(header["architecture"], rng=np.random.default_rng(0))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelFileError(f"{path}: the architecture cannot be built ({e})") from None
    targets = model_arrays(model)
    if len(targets) != len(arrays) or len(model.parameters()) != n_params:
        raise ModelFileError(
            f"{path}: the architecture has {len(targets)} arrays, the file {len(arrays)}"
        )
    for i, (target, a) in enumerate(zip(targets, arrays, strict=True)):
        kind = f"parameter {i}" if i < n_params else f"buffer {i - n_params}"
        if target.shape != a.shape or target.dtype != a.dtype:
            raise ModelFileError(
                f"{path}: {kind} is {a.dtype}{a.shape}, "
                f"the architecture needs {target.dtype}{target.shape}"
            )
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = a.size - int(np.count_nonzero(np.isfinite(a)))
            raise ModelFileError(f"{path}: {kind} holds {bad} NaN or infinite values")
        target[...] = a  # in place: a layer's buffers are never rebound
    model.metadata = _checked_metadata(header.get("metadata", {}), model, path)
    return model.eval()


def _checked_metadata(meta: Any, model: Sequential, path: Any) -> dict[str, Any]:
    """Class names and preprocessing constants, if present, must fit the model."""
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: metadata must be a JSON object, got {type(meta).__name__}")
    pre = meta.get("preprocessing")
    n_outputs = None
    if pre is not None:
        pre = pre if isinstance(pre, dict) else {}
        scale: Any = pre.get("pixel_scale")
        shape: Any = pre.get("image_shape")
        ok_scale = type(scale) in (int, float) and 0 < scale < math.inf
        ok_shape = isinstance(shape, list) and all(type(d) is int and d > 0 for d in shape)
        try:
            n_outputs = (
                model.output_shape(model_input_shape(model, shape))[-1] if ok_shape else None
            )
        except ValueError:
            n_outputs = None
        if not (ok_scale and n_outputs is not None):
            raise ModelFileError(f"{path}: preprocessing {pre!r} does not fit the model's input")
    elif model.input_shape() is not None:
        n_outputs = model.output_shape(model.input_shape())[-1]  # type: ignore[arg-type]
    classes = meta.get("classes")
    if classes is not None and (
        not isinstance(classes, list)
        or (n_outputs is not None and len(classes) != n_outputs)
        or not all(isinstance(c, str) for c in classes)
    ):
        raise ModelFileError(
            f"{path}: class names {classes!r} do not name the model's {n_outputs} outputs"
        )
    return meta
