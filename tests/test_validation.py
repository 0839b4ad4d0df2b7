"""Bad input at every public boundary: an error that names the argument and the value.

The library raises ``ValueError``/``TypeError`` (bareprop's own errors are ``ValueError``s);
the CLI turns each into one line on stderr, exit status 2, no traceback and no output folder.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bareprop as bp
from bareprop.cli import main
from bareprop.train.config import TrainConfig


def _model() -> bp.Sequential:
    return bp.build_mlp(4, [3], 2, rng=np.random.default_rng(0))


X = np.zeros((5, 4), np.float32)
Y = np.zeros(5, np.int64)


def _fit(**kwargs: Any) -> None:
    model = kwargs.pop("model", _model())
    args = {"loss": bp.SoftmaxCrossEntropy(), "optimizer": bp.SGD(model.parameters(), lr=0.1),
            "verbose": 0, "x": X, "y": Y, **kwargs}  # fmt: skip
    x, y = args.pop("x"), args.pop("y")
    bp.fit(model, x, y, **args)


def _with(a: np.ndarray, index: tuple[int, int], value: float) -> np.ndarray:
    a = a.copy()
    a[index] = value
    return a


# (call, the words the message must contain: the argument's name and the value received)
LIBRARY_CASES: dict[str, tuple[Callable[[], Any], list[str]]] = {
    "fit epochs 0": (lambda: _fit(epochs=0), ["epochs", "0"]),
    "fit epochs float": (lambda: _fit(epochs=2.5), ["epochs", "2.5"]),
    "fit batch_size 0": (lambda: _fit(batch_size=0), ["batch_size", "0"]),
    "fit x NaN": (lambda: _fit(x=_with(X, (1, 2), np.nan)), ["x", "NaN"]),
    "fit x inf": (lambda: _fit(x=_with(X, (0, 0), np.inf)), ["x", "infinite"]),
    "fit x strings": (lambda: _fit(x=np.full((5, 4), "a")), ["x", "<U1"]),
    "fit x 1-D": (lambda: _fit(x=np.zeros(5)), ["x", "(5,)"]),
    "fit features": (lambda: _fit(x=np.zeros((5, 7))), ["x", "7 features", "expects 4"]),
    "fit label 2 of 2": (lambda: _fit(y=np.array([0, 1, 2, 0, 1])), ["y", "label 2", "0..1"]),
    "fit label -1": (lambda: _fit(y=np.array([0, -1, 0, 0, 1])), ["y", "label -1"]),
    "fit label 0.5": (lambda: _fit(y=np.full(5, 0.5)), ["y", "non-integer"]),
    "fit y one-hot": (lambda: _fit(y=np.eye(5, 2)), ["y", "(5, 2)"]),
    "fit y length": (lambda: _fit(y=np.zeros(4, int)), ["y", "4 labels", "5 samples"]),
    "fit empty": (lambda: _fit(x=X[:0], y=Y[:0]), ["x", "empty"]),
    "fit rng int": (lambda: _fit(rng=3), ["rng", "int 3"]),
    "fit loss class": (lambda: _fit(loss=bp.SoftmaxCrossEntropy), ["loss", "SoftmaxCrossEntropy"]),
    "fit optimizer None": (lambda: _fit(optimizer=None), ["optimizer", "None"]),
    "fit optimizer of another model": (
        lambda: _fit(optimizer=bp.SGD(_model().parameters(), lr=0.1)),
        ["optimizer", "4 of the model's 4 parameters"],
    ),
    "fit validation_data": (lambda: _fit(validation_data=(X,)), ["validation_data", "tuple"]),
    "fit validation labels": (
        lambda: _fit(validation_data=(X, np.full(5, 9))),
        ["validation y", "label 9"],
    ),
    "fit schedule": (lambda: _fit(lr_schedule="exp"), ["lr_schedule", "'exp'"]),
    "predict features": (lambda: bp.predict(_model(), np.zeros((2, 5))), ["x", "5 features"]),
    "predict NaN": (lambda: bp.predict(_model(), np.full((1, 4), np.nan)), ["x", "NaN"]),
    "predict_proba 3-D": (
        lambda: bp.predict_proba(_model(), np.zeros((2, 2, 2))),
        ["x", "(2, 2, 2)"],
    ),
    "evaluate labels": (lambda: bp.evaluate(_model(), X, np.full(5, 7)), ["y", "label 7"]),
    "evaluate batch_size": (
        lambda: bp.evaluate(_model(), X, Y, batch_size=-1),
        ["batch_size", "-1"],
    ),
    "SGD lr 0": (lambda: bp.SGD(_model().parameters(), lr=0), ["lr", "0"]),
    "SGD lr -1": (lambda: bp.SGD(_model().parameters(), lr=-1.0), ["lr", "-1.0"]),
    "SGD lr nan": (lambda: bp.SGD(_model().parameters(), lr=float("nan")), ["lr", "nan"]),
    "SGD momentum": (
        lambda: bp.SGD(_model().parameters(), lr=0.1, momentum=1.5),
        ["momentum", "1.5"],
    ),
    "SGD nesterov": (lambda: bp.SGD(_model().parameters(), lr=0.1, nesterov=True), ["nesterov"]),
    "Adam betas": (lambda: bp.Adam(_model().parameters(), betas=(0.9, 1.0)), ["betas[1]", "1.0"]),
    "Adam eps": (lambda: bp.Adam(_model().parameters(), eps=-1e-8), ["eps", "-1e-08"]),
    "AdamW decay": (
        lambda: bp.AdamW(_model().parameters(), weight_decay=-1),
        ["weight_decay", "-1"],
    ),
    "RMSprop alpha": (lambda: bp.RMSprop(_model().parameters(), alpha=2.0), ["alpha", "2.0"]),
    "optimizer no params": (lambda: bp.SGD([], lr=0.1), ["params", "empty"]),
    "Dropout p 1": (lambda: bp.Dropout(1.0), ["p", "1.0"]),
    "Dropout p -0.1": (lambda: bp.Dropout(-0.1), ["p", "-0.1"]),
    "Dropout rng": (lambda: bp.Dropout(0.5, rng=5), ["rng", "int 5"]),
    "Linear size 0": (lambda: bp.Linear(0, 3), ["in_features", "0"]),
    "Linear dtype": (lambda: bp.Linear(2, 3, dtype=np.int32), ["dtype", "int32"]),
    "Linear init": (lambda: bp.Linear(2, 3, init="foo"), ["init", "'foo'"]),
    "Linear rng": (lambda: bp.Linear(2, 3, rng=42), ["rng", "int 42"]),
    "build_mlp hidden": (lambda: bp.build_mlp(4, [3, 0], 2), ["hidden[1]", "0"]),
    "build_mlp activation": (
        lambda: bp.build_mlp(4, [3], 2, activation="elu"),
        ["activation", "'elu'"],
    ),
    "build_mlp dropout": (lambda: bp.build_mlp(4, [3], 2, dropout=1.0), ["dropout", "1.0"]),
    "LeakyReLU slope": (lambda: bp.LeakyReLU(-0.5), ["negative_slope", "-0.5"]),
    "loss reduction": (lambda: bp.MSELoss(reduction="avg"), ["reduction", "'avg'"]),
    "MSE shapes": (lambda: bp.MSELoss()(np.zeros((2, 3)), np.zeros((2, 4))), ["target", "(2, 4)"]),
    "CE 1-D logits": (
        lambda: bp.SoftmaxCrossEntropy()(np.zeros(3), np.zeros(3, int)),
        ["pred", "(3,)"],
    ),
    "Sequential item": (lambda: bp.Sequential([bp.ReLU(), 3]), ["layers[1]", "int"]),
    "config lr": (lambda: TrainConfig(lr=0.0).validate(), ["lr", "0.0"]),
    "config batch": (lambda: TrainConfig(batch_size=0).validate(), ["batch_size", "0"]),
    "config hidden []": (lambda: TrainConfig(hidden=[]).validate(), ["hidden", "[]"]),
    "config dropout": (lambda: TrainConfig(dropout=1.0).validate(), ["dropout", "1.0"]),
    "config seed": (lambda: TrainConfig(seed=-3).validate(), ["seed", "-3"]),
    "config val_fraction": (
        lambda: TrainConfig(val_fraction=1.0).validate(),
        ["val_fraction", "1.0"],
    ),
    "config unknown": (lambda: TrainConfig.from_dict({"lrate": 1}), ["lrate"]),
    "config momentum adam": (lambda: TrainConfig(momentum=0.9).validate(), ["momentum", "adam"]),
    "config dtype": (lambda: TrainConfig(dtype="float16").validate(), ["dtype", "float16"]),
}


@pytest.mark.parametrize("case", list(LIBRARY_CASES))
def test_library_errors_name_the_argument_and_the_value(case: str) -> None:
    call, words = LIBRARY_CASES[case]
    with pytest.raises((ValueError, TypeError)) as caught:
        call()
    assert type(caught.value) in (ValueError, TypeError) or isinstance(
        caught.value, bp.BarepropError
    )
    for word in words:
        assert word in str(caught.value), f"{word!r} not in {caught.value}"


def test_save_into_a_missing_folder_names_it(tmp_path: Path) -> None:
    with pytest.raises(
        OSError, match=re.escape(f"the folder {tmp_path / 'absent'} does not exist")
    ):
        bp.save(_model(), tmp_path / "absent" / "m.npz")


# (argv after "train", the words the one line must contain)
CLI_CASES: list[tuple[list[str], list[str]]] = [
    (["--lr", "0"], ["lr", "0"]),
    (["--lr", "-0.5"], ["lr", "-0.5"]),
    (["--lr", "nan"], ["lr", "nan"]),
    (["--lr", "fast"], ["--lr", "'fast'"]),
    (["--batch-size", "0"], ["batch_size", "0"]),
    (["--epochs", "0"], ["epochs", "0"]),
    (["--epochs", "1.5"], ["--epochs", "'1.5'"]),
    (["--dropout", "1"], ["dropout", "1.0"]),
    (["--dropout", "-0.1"], ["dropout", "-0.1"]),
    (["--hidden"], ["--hidden"]),
    (["--hidden", "64", "0"], ["hidden", "0"]),
    (["--seed", "-1"], ["seed", "-1"]),
    (["--val-fraction", "1"], ["val_fraction", "1.0"]),
    (["--momentum", "0.9"], ["momentum", "adam"]),
    (["--activation", "softmax"], ["--activation", "'softmax'"]),
    (["--dtype", "float16"], ["--dtype", "'float16'"]),
    (["--init-std", "0"], ["init_std", "0"]),
    (["--weight-decay", "-1"], ["weight_decay", "-1"]),
    (["--data-dir", "/nonexistent/bareprop-data"], ["/nonexistent/bareprop-data"]),
]


@pytest.mark.parametrize(("argv", "words"), CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_cli_bad_option_is_one_line_exit_2_and_writes_nothing(
    argv: list[str], words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", *argv, "--out", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    for word in words:
        assert word in captured.err, f"{word!r} not in {captured.err!r}"
    assert not out.exists()


def test_cli_model_and_data_that_do_not_fit(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "small.npz"
    bp.save(bp.build_mlp(12, [3], 10, rng=np.random.default_rng(0)), small)
    assert main(["evaluate", str(small), "--data-dir", str(tiny_data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "12" in err and "784" in err
    assert main(["predict", str(small), str(tmp_path / "absent.png")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_error_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    argv = ["train", "--dropout", "1.5", "--out", str(tmp_path / "r")]
    done = subprocess.run(
        [sys.executable, "-m", "bareprop.cli", *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "dropout" in done.stderr and "1.5" in done.stderr
    assert not (tmp_path / "r").exists()
