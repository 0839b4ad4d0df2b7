"""report.html (placeholder, replaced below)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_experiment_report(out: Path, **kwargs: Any) -> Path:
    path = out / "report.html"
    path.write_text("<html><body><pre>" + kwargs["markdown"] + "</pre></body></html>")
    return path
