"""The manifest of a run: what it takes to rerun it and to tell whether the rerun matches.

``manifest.json`` holds the full config (the seed included), the versions of bareprop, NumPy,
Python and the BLAS NumPy calls, the SHA-256 of each data file, the SHA-256 of the final
weights and the final metrics. ``bareprop replay DIR`` reads it, checks that the data files
are the same, trains again and compares (:func:`compare`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.data.mnist import FILES, data_folder, find_file
from bareprop.errors import BarepropError

FORMAT = "bareprop-manifest"
VERSION = 1
FILENAME = "manifest.json"
# Per-epoch metrics that a rerun must reproduce exactly; "seconds" is wall time and cannot.
REPRODUCIBLE = ("loss", "accuracy", "val_loss", "val_accuracy")


class ManifestError(BarepropError):
    """A manifest is missing or unreadable, or the data it names has changed."""


def data_sha256(data_dir: str | os.PathLike[str] | None) -> dict[str, str]:
    """SHA-256 of each of the four IDX files a run reads, by file name."""
    folder = data_folder(data_dir)
    sums = {}
    for stem in FILES.values():
        path = find_file(folder, stem)
        sums[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def blas_info() -> dict[str, Any]:
    """The BLAS and LAPACK NumPy was built with (name, version), from ``numpy.show_config``."""
    try:
        deps = np.show_config(mode="dicts").get("Build Dependencies", {})
    except Exception:  # an older NumPy without mode="dicts": say so rather than fail the run
        return {"blas": "unknown"}
    return {
        kind: {k: deps[kind].get(k) for k in ("name", "version", "openblas configuration")}
        for kind in ("blas", "lapack")
        if isinstance(deps.get(kind), dict)
    }


def versions() -> dict[str, Any]:
    """bareprop, NumPy, Python and BLAS versions, and the machine."""
    from bareprop import __version__

    return {
        "bareprop": __version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "blas": blas_info(),
    }


def build_manifest(
    config: dict[str, Any],
    *,
    weights_sha256: str,
    history: dict[str, list[float]],
    test: dict[str, float],
) -> dict[str, Any]:
    """The manifest of a finished run (see the module docstring)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "config": config,
        "seed": config.get("seed"),
        "versions": versions(),
        "data_folder": str(data_folder(config.get("data_dir")).resolve()),
        "data_sha256": data_sha256(config.get("data_dir")),
        "results": {
            "weights_sha256": weights_sha256,
            "history": {k: list(history[k]) for k in REPRODUCIBLE if history.get(k)},
            "test": test,
        },
    }


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``run_dir/manifest.json``; raise :class:`ManifestError` naming what is wrong."""
    path = Path(run_dir) / FILENAME
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest there (is {run_dir} a bareprop run folder?)")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{path}: unreadable manifest ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ManifestError(f"{path}: not a bareprop manifest")
    if manifest.get("version") != VERSION:
        raise ManifestError(f"{path}: manifest version {manifest.get('version')!r}, not {VERSION}")
    for key in ("config", "data_sha256", "results", "versions"):
        if not isinstance(manifest.get(key), dict):
            raise ManifestError(f"{path}: the manifest has no '{key}'")
    return manifest


def check_data(manifest: dict[str, Any]) -> str:
    """The data folder of the run (absolute); :class:`ManifestError` if its files changed."""
    folder = manifest.get("data_folder")
    if not isinstance(folder, str) or not Path(folder).is_dir():
        raise ManifestError(f"the run's data folder {folder!r} is not there any more")
    now = data_sha256(folder)
    for name, digest in manifest["data_sha256"].items():
        if now.get(name) != digest:
            raise ManifestError(
                f"{folder}: data file {name} is not the one the run used (SHA-256 differs)"
            )
    return folder


def compare(recorded: dict[str, Any], rerun: dict[str, Any]) -> list[str]:
    """The differences between two manifests' results, as lines; empty if identical."""
    diffs = []
    a, b = recorded["results"], rerun["results"]
    if a["weights_sha256"] != b["weights_sha256"]:
        diffs.append(f"weights differ: SHA-256 {a['weights_sha256']} vs {b['weights_sha256']}")
    for key in sorted(set(a.get("history", {})) | set(b.get("history", {}))):
        x, y = a.get("history", {}).get(key), b.get("history", {}).get(key)
        if x != y:
            diffs.append(f"{key} per epoch differs: {x} vs {y}")
    for key in sorted(set(a.get("test", {})) | set(b.get("test", {}))):
        x, y = a.get("test", {}).get(key), b.get("test", {}).get(key)
        if x != y and not (_isnan(x) and _isnan(y)):
            diffs.append(f"test {key} differs: {x} vs {y}")
    return diffs


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and v != v
