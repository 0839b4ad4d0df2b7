"""The examples notebook runs top to bottom in a fresh kernel, and says what it should."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "backprop_walkthrough.ipynb"


def text_of(cell: dict) -> str:
    return "".join(
        out.get("text", "") for out in cell.get("outputs", []) if out.get("output_type") == "stream"
    )


# jupyter_client / zmq emit DeprecationWarnings of their own; they say nothing about bareprop.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_examples_notebook_executes(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the traceback, if any cell fails
    outputs = "\n".join(text_of(c) for c in notebook.cells if c.cell_type == "code")
    assert "dlogits by hand matches: True" in outputs
    assert "dW2 = a1.T @ dlogits matches: True" in outputs
    assert "FAIL" not in outputs and outputs.count("PASS") >= 4  # gradcheck: 2 weights, 2 biases
    accuracy = float(re.search(r"test accuracy: ([\d.]+)%", outputs).group(1))  # type: ignore[union-attr]
    assert accuracy > 90.0
    images = [
        o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert images, "the plotting cell drew no figure"
    svgs = [
        o
        for c in notebook.cells
        for o in c.get("outputs", [])
        if "image/svg+xml" in o.get("data", {})
    ]
    assert len(svgs) == 2 and "grad 650" in svgs[0]["data"]["image/svg+xml"]  # the graphs, drawn
