"""A run folder: what ``bareprop train`` writes for one run, figures and report included.

``model.npz``, ``config.json``, ``metrics.csv``, ``manifest.json``, the PNG figures and
``report.html``. An edge module: matplotlib is imported only when figures are drawn.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

from bareprop.files.atomic import write_text
from bareprop.files.model_file import model_arrays, save, weights_sha256
from bareprop.show import report
from bareprop.train.manifest import FILENAME as MANIFEST
from bareprop.train.manifest import build_manifest
from bareprop.train.run import RunResult


def metrics_csv(
    history: dict[str, list[float]], diagnostics: dict[str, list[float]] | None = None
) -> str:
    """The per-epoch history (then the per-layer diagnostics) as CSV text, one row per epoch."""
    history = {**history, **(diagnostics or {})}
    base = ["loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    keys = [k for k in [*base, *sorted(set(history) - set(base))] if history.get(k)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for i in range(len(history["loss"])):
        writer.writerow([i + 1, *(f"{history[k][i]:.6g}" for k in keys)])
    return out.getvalue()


def write_run(result: RunResult, out_dir: Path, *, plots: bool = True) -> dict[str, Path]:
    """Write the model, config, metrics and (if ``plots``) PNG figures into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "model": out_dir / "model.npz",
        "config": out_dir / "config.json",
        "metrics": out_dir / "metrics.csv",
    }
    save(result.model, files["model"], metadata=result.model.metadata)
    summary = {
        "config": result.config.to_dict(),
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "seconds": result.seconds,
    }
    if result.early_stopping is not None:
        summary["early_stopping"] = result.early_stopping
    write_text(files["config"], json.dumps(summary, indent=2) + "\n")
    write_text(files["metrics"], metrics_csv(result.history, result.diagnostics))
    files["manifest"] = out_dir / MANIFEST
    write_text(files["manifest"], json.dumps(run_manifest(result), indent=2) + "\n")
    if plots:
        from bareprop.show import plots as plotting  # matplotlib only when pictures are wanted

        files["curves"] = out_dir / "curves.png"
        files["confusion"] = out_dir / "confusion_matrix.png"
        plotting.save_curves(result.history, files["curves"])
        plotting.save_confusion(result.confusion, files["confusion"])
        files.update(report.run_figures(result, out_dir))  # digits, errors, weights, per class
    files["report"] = report.write_run_report(result, out_dir, files)
    result.files = files
    return files


def run_manifest(result: RunResult) -> dict[str, Any]:
    """The manifest of a finished run (see :mod:`bareprop.train.manifest`)."""
    return build_manifest(
        result.config.to_dict(),
        weights_sha256=weights_sha256(model_arrays(result.model)),
        history=result.history,
        test={"accuracy": result.test_accuracy, "loss": result.test_loss},
    )


def default_out_dir(root: Path = Path("runs")) -> Path:
    """A new folder ``runs/YYYYmmdd-HHMMSS`` (with a suffix if taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = root / stamp
    n = 1
    while candidate.exists():
        n += 1
        candidate = root / f"{stamp}-{n}"
    return candidate
