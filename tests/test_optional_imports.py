"""The optional extras stay optional: ``import bareprop`` loads neither scikit-learn nor ONNX."""

from __future__ import annotations

import subprocess
import sys


def test_import_bareprop_loads_no_sklearn_or_onnx() -> None:
    code = (
        "import sys, bareprop, bareprop.cli; "
        "print(sorted(m for m in ('sklearn', 'onnx', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
