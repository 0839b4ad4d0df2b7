"""ONNX export: onnxruntime on the exported graph computes what bareprop computes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import bareprop as bp  # noqa: E402
from bareprop.cli import main  # noqa: E402
from bareprop.export import CONVERTERS, ExportError, export_onnx, to_onnx  # noqa: E402
from bareprop.nn.losses import softmax  # noqa: E402

PRE = {"pixel_scale": 1 / 255, "image_shape": [28, 28]}


def run_onnx(path_or_proto: Any, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(logits, probabilities)`` from onnxruntime, for raw float32 pixels."""
    source = path_or_proto if isinstance(path_or_proto, str) else path_or_proto.SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logits", "probabilities"]
    logits, proba = session.run(None, {"pixels": pixels.astype(np.float32)})
    return logits, proba


def scaled(images: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
    """What ``bareprop train`` feeds the model: flattened, times 1/255 (as run.preprocess)."""
    return (np.arange(256) * (1 / 255)).astype(dtype)[images.reshape(len(images), -1)]


@pytest.fixture(scope="module")
def mnist_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A 784-32-10 MLP trained for one epoch on 6,000 images, saved as bareprop train saves."""
    (x_train, y_train), test = bp.datasets.load_mnist()
    rng = np.random.default_rng(0)
    model = bp.build_mlp(784, [32], 10, init="he_uniform", rng=rng)
    bp.fit(
        model, scaled(x_train[:6000]), y_train[:6000], loss=bp.SoftmaxCrossEntropy(),
        optimizer=bp.Adam(model.parameters(), lr=3e-3), epochs=1, batch_size=64, rng=rng,
        verbose=0,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("onnx") / "model.npz"
    bp.save(model, path, metadata={"preprocessing": PRE, "classes": [str(c) for c in range(10)]})
    return path, test


def test_cli_export_matches_bareprop_on_mnist_test_set(
    mnist_model: tuple[Path, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path, (images, labels) = mnist_model
    out = path.with_suffix(".onnx")
    assert main(["export", str(path), str(out)]) == 0
    assert "input pixels (N, 28, 28)" in capsys.readouterr().out
    logits, proba = run_onnx(str(out), images)  # raw pixels 0..255, shape (10000, 28, 28)
    model = bp.load(path)
    x = scaled(images)
    np.testing.assert_allclose(logits, model.forward(x), rtol=0, atol=1e-5)
    np.testing.assert_allclose(proba, bp.predict_proba(model, x), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(logits.argmax(axis=1), bp.predict(model, x))
    assert main(["evaluate", str(path)]) == 0
    printed = re.search(r"test accuracy: ([\d.]+)%", capsys.readouterr().out)
    assert printed is not None
    assert f"{100 * np.mean(logits.argmax(axis=1) == labels):.2f}" == printed.group(1)
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["classes"]) == [str(c) for c in range(10)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_bareprop_layer(dtype: Any) -> None:
    rng = np.random.default_rng(1)
    model = bp.Sequential([
        bp.Linear(784, 32, rng=rng, dtype=dtype), bp.LeakyReLU(0.1), bp.Dropout(0.3, rng=rng),
        bp.Sequential([bp.Linear(32, 16, rng=rng, dtype=dtype), bp.Tanh()]),
        bp.Linear(16, 16, rng=rng, dtype=dtype), bp.ReLU(),
        bp.Linear(16, 10, rng=rng, dtype=dtype), bp.Sigmoid(),
    ]).eval()  # fmt: skip
    model.metadata = {"preprocessing": PRE}
    images = rng.integers(0, 256, (64, 28, 28)).astype(np.uint8)
    logits, proba = run_onnx(to_onnx(model), images)
    x = scaled(images, dtype)
    np.testing.assert_allclose(logits, model.forward(x), rtol=0, atol=1e-5)
    np.testing.assert_allclose(proba, bp.predict_proba(model, x), rtol=0, atol=1e-5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_preprocessing_from_arguments_when_the_model_has_none() -> None:
    model = bp.build_mlp(6, [4], 3, rng=np.random.default_rng(0))
    with pytest.raises(ExportError, match="no preprocessing"):
        to_onnx(model)
    pixels = np.random.default_rng(0).uniform(0, 10, (5, 2, 3))
    logits, _ = run_onnx(to_onnx(model, image_shape=(2, 3), pixel_scale=0.5), pixels)
    x = (pixels.reshape(5, 6) * 0.5).astype(np.float32)
    np.testing.assert_allclose(logits, model.forward(x), rtol=0, atol=1e-6)
    with pytest.raises(ExportError, match=r"the model takes 6 features, images of \(5,\) have 5"):
        to_onnx(model, image_shape=(5,), pixel_scale=1.0)


class Swish(bp.Layer):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x / (1 + np.exp(-x))


def test_an_unknown_layer_is_refused_by_name_and_nothing_is_written(tmp_path: Path) -> None:
    model = bp.Sequential([bp.Linear(784, 8), bp.Sequential([Swish()]), bp.Linear(8, 10)])
    model.metadata = {"preprocessing": PRE}
    out = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match=r"model\.layers\[1\]\.layers\[0\].*Swish"):
        export_onnx(model, out)
    assert list(tmp_path.iterdir()) == []


def test_cli_refusal_is_one_line_exit_2_and_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = bp.build_mlp(784, [8], 10, activation="tanh", rng=np.random.default_rng(0))
    bp.save(model, tmp_path / "bare.npz")  # no preprocessing metadata
    out = tmp_path / "out.onnx"
    assert main(["export", str(tmp_path / "bare.npz"), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no preprocessing" in err and not out.exists()
    args = ["--image-shape", "28", "28", "--pixel-scale", str(1 / 255)]
    monkeypatch.delitem(CONVERTERS, "Tanh")
    assert main(["export", str(tmp_path / "bare.npz"), str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model.layers[1]" in err and "Tanh" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bare.npz"]
    monkeypatch.undo()
    assert main(["export", str(tmp_path / "bare.npz"), str(out), *args]) == 0
    assert out.is_file()


def test_bareprops_own_conv_pool_norm_layers_export() -> None:
    """The real layers: every image layer with its running statistics and norm parameters set
    away from 0 and 1, in eval mode, against bareprop's own forward pass."""
    rng = np.random.default_rng(3)
    model = bp.Sequential([
        bp.Conv2d(1, 4, 3, padding=1, rng=rng), bp.BatchNorm2d(4), bp.ReLU(), bp.MaxPool2d(2),
        bp.Conv2d(4, 6, (3, 2), stride=2, rng=rng), bp.AvgPool2d(2), bp.Flatten(),
        bp.LayerNorm(54), bp.Linear(54, 16, rng=rng), bp.BatchNorm1d(16), bp.Tanh(),
        bp.Linear(16, 10, rng=rng),
    ])  # fmt: skip
    for array in [*model.buffers(), *(p.data for p in model.parameters() if p.data.ndim == 1)]:
        array[...] = rng.uniform(0.5, 1.5, array.shape)
    model.eval().metadata = {"preprocessing": PRE}
    pixels = rng.integers(0, 256, (16, 28, 28)).astype(np.float32)
    logits, proba = run_onnx(to_onnx(model), pixels)
    ours = model.forward((pixels / np.float32(255)).reshape(16, 1, 28, 28))
    np.testing.assert_allclose(logits, ours, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(proba, softmax(ours), rtol=1e-5, atol=1e-6)
