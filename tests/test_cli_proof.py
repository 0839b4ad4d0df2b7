"""The commands that prove the maths: ``bareprop gradcheck``, ``compare`` and ``trace``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import bareprop as bp
from bareprop.cli import main

SMALL = ["--hidden", "8", "6"]


# --- gradcheck -------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["cross-entropy", "mse"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_gradcheck_passes_for_every_activation_and_loss(
    tiny_data: Path, activation: str, loss: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["gradcheck", *SMALL, "--activation", activation, "--loss", loss,
            "--data-dir", str(tiny_data), "--max-entries", "0"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "gradcheck: PASS (7 arrays)" in out
    for name in ("input", "layers.0.weight", "layers.0.bias", "layers.4.weight", "layers.4.bias"):
        assert name in out
    assert "6272" in out  # every entry of W1 (784 x 8) was probed
    assert "FAIL" not in out


def test_gradcheck_with_dropout_sum_and_random_data(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["gradcheck", *SMALL, "--dropout", "0.3", "--reduction", "sum", "--random-data",
            "--samples", "5"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "layers.3.weight" in out and "layers.6.bias" in out  # Dropout layers at 2 and 5
    assert "PASS" in out


@pytest.mark.parametrize("bug", ["linear-bias", "linear-weight", "activation"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_gradcheck_fails_for_a_broken_layer(
    tiny_data: Path, bug: str, activation: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["gradcheck", *SMALL, "--activation", activation, "--data-dir", str(tiny_data),
            "--inject-bug", bug]  # fmt: skip
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "self-test, bug injected" in out
    failed = re.search(r"gradcheck: FAIL in (.*)", out)
    assert failed is not None
    expected = {"linear-bias": "layers.0.bias", "linear-weight": "layers.0.weight"}.get(
        bug, "input"
    )
    assert expected in failed.group(1)
    assert "layers.4.weight" not in failed.group(1)  # the last layer, after the bug, is fine


def test_gradcheck_bad_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--random-data", "--samples", "0"]) == 2
    assert "--samples" in capsys.readouterr().err


# --- compare ---------------------------------------------------------------------------------


def _compare_table(out: str) -> list[list[str]]:
    return [
        re.findall(r"[\d.]+%?", line) for line in out.splitlines() if re.match(r"│\s+\d+ │", line)
    ]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compare_agrees_with_torch(
    tiny_data: Path, dtype: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    argv = ["compare", "--hidden", "16", "--epochs", "2", "--batch-size", "32", "--dtype", dtype,
            "--data-dir", str(tiny_data), "--limit", "200", "--threads", "1"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "200 training samples" in out
    rows = _compare_table(out)
    assert len(rows) == 2
    for _epoch, loss_ours, loss_torch, acc_ours, acc_torch, *_seconds in rows:
        assert float(loss_ours) == pytest.approx(float(loss_torch), rel=1e-5)
        assert acc_ours == acc_torch
    divergence = float(re.search(r"largest weight divergence: (\S+)", out).group(1))  # type: ignore[union-attr]
    assert divergence < (1e-12 if dtype == "float64" else 1e-4)
    assert "speed ratio (torch / bareprop):" in out


def test_compare_without_torch_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    assert main(["compare", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert 'pip install "bareprop[torch]"' in err


def test_library_import_leaves_torch_out() -> None:
    import subprocess

    code = "import sys, bareprop, bareprop.check.gradcheck, bareprop.check.trace, " \
           "bareprop.nn.graph; " \
           "print('torch' in sys.modules)"  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --- trace -----------------------------------------------------------------------------------


def test_trace_in_the_terminal(tiny_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--data-dir", str(tiny_data)]) == 0
    out = capsys.readouterr().out
    for text in ("z1 = x @ W1 + b1", "a1 = relu(z1)", "z2 = a1 @ W2 + b2",
                 "delta2 = (softmax(z2) - onehot(y)) / N", "dW1 = x.T @ delta1",
                 "db1 = sum(delta1, axis=0)", "delta1 = d_a1 * (z1 > 0)",
                 "logsumexp(z2_i) - z2_i[y_i]", "784x16", "4x10"):  # fmt: skip
        assert text in out, text
    assert "Gradient check (central differences, eps=1e-06)" in out and "numerical" in out


def test_trace_markdown_numbers_agree(tiny_data: Path, tmp_path: Path) -> None:
    md = tmp_path / "trace.md"
    argv = ["trace", "--data-dir", str(tiny_data), "--activation", "tanh", "--loss", "mse",
            "--dropout", "0.5", "--hidden", "6", "5", "--probes", "3",
            "--out", str(md)]  # fmt: skip
    assert main(argv) == 0
    text = md.read_text()
    assert text.startswith("# One mini-batch, forward and backward")
    for section in ("## Forward", "## Backward", "## Numerical gradient beside the analytic one"):
        assert section in text
    assert "| a3 = sigmoid(z3) |" in text
    assert "| d_a3 = 2 * (a3 - onehot(y)) / (N * C)" in text
    assert "h1 = a1 * m1 / (1 - 0.5)" in text and "delta1 = d_a1 * (1 - a1^2)" in text
    probes = re.findall(r"^\| ([Wb]\d)\[[\d, ]*\] \| (\S+) \| (\S+) \| (\S+) \|$", text, re.M)
    assert len(probes) == 3 * 6  # 3 entries of each of W1 b1 W2 b2 W3 b3
    for _, analytic, numerical, _diff in probes:
        assert float(analytic) == pytest.approx(float(numerical), rel=1e-5, abs=1e-8)


def test_trace_library_values_are_the_layers_own() -> None:
    from bareprop.check.trace import trace_batch

    rng = np.random.default_rng(0)
    model = bp.build_mlp(5, [4], 3, rng=rng, dtype=np.float64)
    x, y = rng.standard_normal((2, 5)), np.array([0, 2])
    trace = trace_batch(model, bp.SoftmaxCrossEntropy(), x, y, probes=1)
    assert trace.loss == pytest.approx(bp.SoftmaxCrossEntropy()(model.forward(x), y), rel=1e-12)
    assert [s.formula for s in trace.forward][:3] == [
        "z1 = x @ W1 + b1", "a1 = relu(z1)", "z2 = a1 @ W2 + b2"
    ]  # fmt: skip
    assert len(trace.probes) == 4


def test_trace_refuses_a_folder_for_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--out", str(tmp_path)]) == 2
    assert "--out" in capsys.readouterr().err
