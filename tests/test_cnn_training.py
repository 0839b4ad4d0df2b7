"""CNNs through the whole tool: bareprop train --model cnn / cnn-bn / --model-file, then
evaluate, predict, resume and replay; bad model files get one clear line.

Runs are tiny (300 images of 28x28, one or two epochs) so that CI stays quick; the long
trainings that reach the accuracy targets are in BENCHMARKS.md and marked slow here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import bareprop as bp
from bareprop.cli import main
from bareprop.train.config import TrainConfig
from bareprop.train.run import train_run

SMALL = ["--epochs", "2", "--batch-size", "32", "--no-plots", "--quiet"]


def test_train_cnn_writes_a_model_that_evaluates_and_predicts(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", "--model", "cnn", "--data-dir", str(tiny_data), "--out", str(out),
                 *SMALL]) == 0  # fmt: skip
    accuracy = float(capsys.readouterr().out.split("test accuracy: ")[1].split("%")[0])
    assert accuracy > 50  # a bar whose row tells the class: easy for a CNN in 2 epochs
    model = bp.load(out / "model.npz")
    assert any(isinstance(layer, bp.Conv2d) for layer in model.flat())
    assert main(["evaluate", str(out / "model.npz"), "--data-dir", str(tiny_data)]) == 0
    assert f"{accuracy:.2f}%" in capsys.readouterr().out


def test_cnn_bn_keeps_its_running_statistics_in_the_model_file(
    tiny_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    assert main(["train", "--model", "cnn-bn", "--data-dir", str(tiny_data), "--out", str(out),
                 *SMALL]) == 0  # fmt: skip
    model = bp.load(out / "model.npz")
    means = [b for name, b in model.named_buffers() if name.endswith("running_mean")]
    assert len(means) == 3 and all(m.any() for m in means)  # they moved during training


def test_model_file_trains_the_network_it_lists(tiny_data: Path, tmp_path: Path) -> None:
    spec = Path(__file__).parents[1] / "examples" / "cnn.toml"
    config = TrainConfig(model_file=str(spec), epochs=1, batch_size=32, data_dir=str(tiny_data))
    result = train_run(config, verbose=0)
    assert [type(layer).__name__ for layer in result.model.flat()][:3] == [
        "Conv2d", "ReLU", "MaxPool2d"]  # fmt: skip
    assert result.model.get_config()["layers"][0]["dtype"] == "float32"


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ('[[layers]]\ntype = "Convolution"\n', "unknown layer type 'Convolution'"),
        ('[[layers]]\ntype = "Conv2d"\nin_channels = 1\nout_channels = 4\nkernel_size = 30\n',
         "larger than its padded input"),
        ('[[layers]]\ntype = "Conv2d"\nin_channels = 1\nout_channels = 4\nkernel_size = 3\n'
         'padding = -1\n', "padding"),
        ('[[layers]]\ntype = "Linear"\nin_features = 10\nout_features = 10\n',
         "the model takes 10 features, images of (28, 28) have 784 pixels"),
        ("layers = 3\n", "needs a non-empty list [[layers]]"),
        ("[[layers\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_model_file_is_one_line_and_no_run_folder(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], layers: str,
    message: str,
) -> None:  # fmt: skip
    spec = tmp_path / "net.toml"
    spec.write_text(layers)
    out = tmp_path / "run"
    code = main(["train", "--model-file", str(spec), "--data-dir", str(tiny_data),
                 "--out", str(out), *SMALL])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_a_cnn_model_file_round_trips_and_predicts_an_image(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("PIL")
    from PIL import Image

    out = tmp_path / "run"
    assert main(["train", "--model", "cnn", "--data-dir", str(tiny_data), "--out", str(out),
                 "--epochs", "1", "--batch-size", "32", "--no-plots", "--quiet"]) == 0  # fmt: skip
    image = np.full((28, 28), 255, np.uint8)
    image[6:8, 4:24] = 0  # dark bar on light: inverted like a drawn digit
    Image.fromarray(image).save(tmp_path / "bar.png")
    capsys.readouterr()
    assert main(["predict", str(out / "model.npz"), str(tmp_path / "bar.png")]) in (0, 2)
    assert "bar.png" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["model"] == "cnn"


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_the_fast_plan_trains_a_cnn_as_its_layers_do(dtype: type, rtol: float,
                                                     batch_norm: bool) -> None:  # fmt: skip
    """Five SGD-momentum steps through fit's plan (channels-last im2col convolutions, strided
    pools) against the layers' own forward/backward: the same weights and running statistics,
    to rounding (a GEMM adds in another order than the readable loops)."""
    from bareprop.fast.plan import Plan

    def net() -> bp.Sequential:
        rng = np.random.default_rng(0)
        return bp.build_cnn((1, 12, 12), 4, batch_norm=batch_norm, rng=rng, dtype=dtype)

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (16, 1, 12, 12)).astype(dtype)
    y = rng.integers(0, 4, 16)
    fast, slow = net(), net()
    plan = Plan(fast, bp.SoftmaxCrossEntropy(), bp.SGD(fast.parameters(), lr=0.05, momentum=0.9))
    loss, opt = bp.SoftmaxCrossEntropy(), bp.SGD(slow.parameters(), lr=0.05, momentum=0.9)
    for _ in range(5):
        fast_loss = plan.loss_forward(plan.forward(x), y)
        plan.backward()
        plan.step()
        slow_loss = loss.forward(slow.forward(x), y)
        slow.backward(loss.backward())
        opt.step()
        assert fast_loss == pytest.approx(slow_loss, rel=rtol)
    for (name, a), b in zip(fast.named_parameters(), slow.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=rtol, atol=rtol, err_msg=name)
    for a, b in zip(fast.buffers(), slow.buffers(), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    fast.eval(), slow.eval()
    np.testing.assert_allclose(Plan(fast).forward(x), slow.forward(x), rtol=rtol, atol=rtol)


def test_a_cnn_run_reports_its_filters_and_feature_maps(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["train", "--model", "cnn", "--data-dir", str(tiny_data), "--out", str(out),
                 "--epochs", "1", "--batch-size", "32", "--quiet"]) == 0  # fmt: skip
    page = (out / "report.html").read_text()
    for name in ("filters", "feature_maps"):
        assert (out / f"{name}.png").stat().st_size > 1000
        assert "The first convolution" in page and "What each convolution makes" in page


def test_gradcheck_and_trace_take_conv_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--model", "cnn-bn", "--samples", "2", "--max-entries", "20"]) == 0
    assert "gradcheck: PASS" in capsys.readouterr().out
    assert main(["gradcheck", "--model", "cnn", "--samples", "2", "--max-entries", "20",
                 "--inject-bug", "linear-weight"]) == 1  # fmt: skip
    assert main(["trace", "--model", "cnn", "--batch-size", "2", "--probes", "1"]) == 0
    shown = capsys.readouterr().out
    assert "conv(x, W1) + b1" in shown and "max over 2x2 windows" in shown


def test_compare_trains_the_cnn_in_both_frameworks_to_the_same_weights(
    tiny_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    assert main(["compare", "--model", "cnn-bn", "--data-dir", str(tiny_data), "--limit", "64",
                 "--epochs", "1", "--batch-size", "16", "--dtype", "float64", "--optimizer",
                 "sgd", "--momentum", "0.9", "--lr", "0.05"]) == 0  # fmt: skip
    shown = capsys.readouterr().out
    divergence = float(shown.split("largest weight divergence: ")[1].split()[0])
    assert divergence < 1e-10  # float64, batch norm's running statistics in the twin too


def test_a_cnn_bn_run_killed_mid_run_resumes_bit_identical(tmp_path: Path) -> None:
    """SIGKILL once the first checkpoint exists, then --resume: the same weights and running
    statistics as a run never interrupted, with augmentation and early stopping on too."""
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import make_idx_dataset

    data = make_idx_dataset(tmp_path / "data", n_train=600)
    options = ["--model", "cnn-bn", "--data-dir", str(data), "--epochs", "3", "--batch-size",
               "16", "--augment", "1", "--early-stopping", "5", "--no-plots",
               "--quiet"]  # fmt: skip

    def cmd(*args: str) -> list[str]:
        return [sys.executable, "-m", "bareprop.cli", "train", *args]

    reference = tmp_path / "reference"
    subprocess.run(cmd("--out", str(reference), *options), check=True, timeout=300)
    out = tmp_path / "killed"
    proc = subprocess.Popen(cmd("--out", str(out), *options), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.npz").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (out / "model.npz").exists()
    subprocess.run(cmd("--resume", str(out), "--quiet"), check=True, timeout=300)
    a, b = bp.load(reference / "model.npz"), bp.load(out / "model.npz")
    for x, y in zip([*a.parameters(), *a.buffers()], [*b.parameters(), *b.buffers()],
                    strict=True):  # fmt: skip
        xa, ya = getattr(x, "data", x), getattr(y, "data", y)
        assert xa.tobytes() == ya.tobytes()


def test_replay_reruns_a_cnn_run_identically(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", "--model", "cnn", "--data-dir", str(tiny_data), "--out", str(out),
                 "--epochs", "1", "--batch-size", "32", "--no-plots", "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["replay", str(out)]) == 0
    assert "IDENTICAL: weights SHA-256" in capsys.readouterr().out
