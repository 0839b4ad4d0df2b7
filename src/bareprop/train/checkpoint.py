"""Checkpoints: everything needed to continue a training run bit for bit.

A checkpoint is one ``.npz`` written atomically (temporary file, fsync, rename; see
:func:`bareprop.files.model_file.atomic_write`), so killing the process at any moment leaves the
previous checkpoint intact. It never holds a pickle; it is read with ``allow_pickle=False``::

    meta         uint8 bytes of a UTF-8 JSON document: format, version, the run's config,
                 the state of every random generator (``bit_generator.state``), where ``fit``
                 is (:class:`FitState`: epoch, batch, step, history, ...), the optimiser's
                 scalar state and the SHA-256 of all the arrays below
    param_<i>    the model's parameters, in ``model.parameters()`` order
    best_<i>     with early stopping: the parameters then buffers of the best epoch so far
    buffer_<i>   the model's buffers (e.g. batch norm's running statistics), in ``buffers()``
                 order; none for a model without buffers
    opt_<k>      the optimiser's arrays: ``opt_<name>_<i>`` for a list per parameter

Resuming is bit-identical because the shuffling order of the epoch in progress is drawn again
from the shuffle generator's state saved at the start of that epoch, and every other
generator, the optimiser moments and the weights come back exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.errors import BarepropError, ModelFileError
from bareprop.files.atomic import atomic_write
from bareprop.files.model_file import MALFORMED, inspect_archive
from bareprop.nn import Layer
from bareprop.optim import Optimizer
from bareprop.train.early_stopping import EarlyStopping
from bareprop.train.state import FitState

FORMAT = "bareprop-checkpoint"
VERSION = 1
FILENAME = "checkpoint.npz"


class CheckpointError(BarepropError):
    """A checkpoint is missing, truncated, tampered with or does not fit the model."""


def _sha256(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"{name}{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Optimiser state -> (JSON part, arrays). Lists of arrays (``None`` allowed) are indexed."""
    plain: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            arrays[f"opt_{key}"] = value
            plain[key] = {"array": True}
        elif isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
            for i, v in enumerate(value):
                if v is not None:
                    arrays[f"opt_{key}_{i}"] = np.asarray(v)
            plain[key] = {"list": len(value), "none": [i for i, v in enumerate(value) if v is None]}
        elif isinstance(value, (list, tuple)) and all(v is None for v in value):
            plain[key] = {"list": len(value), "none": list(range(len(value)))}
        else:
            plain[key] = {"value": value.item() if isinstance(value, np.generic) else value}
    return plain, arrays


def _join_optimizer(plain: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for key, spec in plain.items():
        if "array" in spec:
            state[key] = arrays[f"opt_{key}"]
        elif "list" in spec:
            none = set(spec["none"])
            state[key] = [
                None if i in none else arrays[f"opt_{key}_{i}"] for i in range(spec["list"])
            ]
        else:
            state[key] = spec["value"]
    return state


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: Layer,
    optimizer: Optimizer,
    rngs: dict[str, np.random.Generator],
    state: FitState,
    config: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    early_stopping: EarlyStopping | None = None,
) -> None:
    """Write a checkpoint of a training run to ``path`` atomically.

    Args:
        path: the ``.npz`` to write; its folder must exist.
        model: the model being trained.
        optimizer: its optimiser (``state_dict()`` is saved).
        rngs: every generator the run draws from, by name (their states are saved).
        state: where ``fit`` is.
        config: the run's config as a plain dict, kept so that a resume needs nothing else.
        extra: anything else JSON-friendly to keep (``bareprop train`` keeps the data's SHA-256).
        early_stopping: its state and best weights, if the run stops early.
    """
    arrays = {f"param_{i}": p.data for i, p in enumerate(model.parameters())}
    arrays.update({f"buffer_{i}": b for i, b in enumerate(model.buffers())})
    opt_plain, opt_arrays = _split_optimizer(optimizer.state_dict())
    arrays.update(opt_arrays)
    if early_stopping is not None:
        arrays.update({f"best_{i}": a for i, a in enumerate(early_stopping.best_weights)})
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": config or {},
        "extra": extra or {},
        "rngs": {name: rng.bit_generator.state for name, rng in rngs.items()},
        "fit": asdict(state),
        "optimizer": opt_plain,
        "n_params": len(model.parameters()),
        "n_buffers": len(model.buffers()),
        "early_stopping": None if early_stopping is None else early_stopping.state_dict(),
        "sha256": _sha256(arrays),
    }
    blob = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    payload: dict[str, Any] = {"meta": blob, **arrays}
    atomic_write(path, lambda f: np.savez(f, **payload))


@dataclass
class Checkpoint:
    """A checkpoint read back by :func:`load_checkpoint`."""

    config: dict[str, Any]
    params: list[np.ndarray]
    optimizer: dict[str, Any]
    rngs: dict[str, dict[str, Any]]
    fit: FitState
    extra: dict[str, Any] = field(default_factory=dict)
    buffers: list[np.ndarray] = field(default_factory=list)
    early_stopping: dict[str, Any] | None = None
    best_weights: list[np.ndarray] = field(default_factory=list)


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and verify a checkpoint (format, version, SHA-256); never unpickles.

    Raises:
        CheckpointError: naming the file and what is wrong with it.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint there")
    try:
        with path.open("rb") as f:  # our own handle: np.load leaks its own on a corrupt zip
            inspect_archive(f, path, path.stat().st_size)  # sizes and dtypes, before loading
            f.seek(0)
            with np.load(f, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except ModelFileError as e:
        raise CheckpointError(str(e).replace("model file", "checkpoint")) from None
    except (ValueError, *MALFORMED) as e:
        raise CheckpointError(
            f"{path}: not a readable checkpoint, truncated or corrupt ({e})"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a bareprop checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {meta.get('version')!r}, this bareprop reads {VERSION}"
        )
    if meta.get("sha256") != _sha256(arrays):
        raise CheckpointError(f"{path}: the arrays do not match their SHA-256: it was altered")
    try:
        params = [arrays[f"param_{i}"] for i in range(int(meta["n_params"]))]
        buffers = [arrays[f"buffer_{i}"] for i in range(int(meta.get("n_buffers", 0)))]
        optimizer = _join_optimizer(meta["optimizer"], arrays)
        fit = FitState(**meta["fit"])
        best = sorted((k for k in arrays if k.startswith("best_")), key=lambda k: int(k[5:]))
        return Checkpoint(
            meta["config"], params, optimizer, meta["rngs"], fit, meta.get("extra", {}), buffers,
            meta.get("early_stopping"), [arrays[k] for k in best],
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: incomplete checkpoint ({e})") from None


def restore(
    checkpoint: Checkpoint,
    *,
    model: Layer,
    optimizer: Optimizer,
    rngs: dict[str, np.random.Generator],
    early_stopping: EarlyStopping | None = None,
) -> FitState:
    """Put the checkpoint's weights, optimiser state and generator states back, in place
    (and, if both have it, early stopping's state and best weights).

    Returns:
        The :class:`FitState` to pass to ``fit(..., state=...)``.
    """
    _put_back("parameter", [p.data for p in model.parameters()], checkpoint.params)
    _put_back("buffer", model.buffers(), checkpoint.buffers)
    optimizer.load_state_dict(checkpoint.optimizer)
    missing = sorted(set(rngs) - set(checkpoint.rngs))
    if missing:
        raise CheckpointError(f"the checkpoint has no state for generator(s) {', '.join(missing)}")
    for name, rng in rngs.items():
        rng.bit_generator.state = checkpoint.rngs[name]
    if early_stopping is not None and checkpoint.early_stopping is not None:
        early_stopping.load_state_dict(checkpoint.early_stopping, checkpoint.best_weights)
    return checkpoint.fit


def _put_back(kind: str, targets: list[np.ndarray], saved: list[np.ndarray]) -> None:
    """Copy ``saved`` into ``targets`` in place (optimisers and layers keep their arrays)."""
    if len(targets) != len(saved):
        raise CheckpointError(f"the checkpoint has {len(saved)} {kind}s, the model {len(targets)}")
    for i, (target, a) in enumerate(zip(targets, saved, strict=True)):
        if target.shape != a.shape or target.dtype != a.dtype:
            raise CheckpointError(
                f"{kind} {i} is {a.dtype}{a.shape}, the model needs {target.dtype}{target.shape}"
            )
        target[...] = a
