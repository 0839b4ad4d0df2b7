"""The core imports NumPy only; the public names the issues spell out exist."""

from __future__ import annotations

import subprocess
import sys


def test_core_import_pulls_no_heavy_dependencies() -> None:
    heavy = "('torch', 'matplotlib', 'rich', 'PIL')"
    code = f"import sys, bareprop; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_public_names() -> None:
    import bareprop

    names = [
        "Parameter",
        "Linear",
        "ReLU",
        "LeakyReLU",
        "Sigmoid",
        "Tanh",
        "Dropout",
        "Sequential",
        "SoftmaxCrossEntropy",
        "MSELoss",
        "SGD",
        "Adam",
        "AdamW",
        "RMSprop",
        "fit",
        "evaluate",
        "predict",
        "predict_proba",
        "save",
        "load",
    ]
    for name in names:
        assert hasattr(bareprop, name), name
        assert name in bareprop.__all__, name
    from bareprop.data import load_mnist, read_idx  # noqa: F401
    from bareprop.nn.init import he_normal, he_uniform, normal, zeros  # noqa: F401
