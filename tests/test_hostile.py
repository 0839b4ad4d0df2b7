"""The library API under hostile input (issue 13): each kind of case, parametrized.

Every call below is what a careless or hostile user might write. Each either gives the right
answer or raises ``ValueError``/``TypeError`` (or a ``BarepropError``) whose message names the
argument; never a NumPy or Python internals message (``AttributeError``, ``gufunc``,
``ufunc 'isfinite'``, ...), and never a silently wrong number.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bareprop as bp
from bareprop.check import gradcheck as gc
from bareprop.files.model_file import header_sha256

X = np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32)
Y = np.arange(40) % 3
RAW = ("gufunc", "ufunc", "object has no attribute", "not iterable", "not subscriptable")


def _model(**kwargs: Any) -> bp.Sequential:
    return bp.build_mlp(4, [8], 3, rng=np.random.default_rng(0), **kwargs)


def _fit(model: bp.Sequential | None = None, **kwargs: Any) -> dict[str, list[float]]:
    model = _model() if model is None else model
    args = {"loss": bp.SoftmaxCrossEntropy(), "optimizer": bp.SGD(model.parameters(), lr=0.1),
            "verbose": 0, "batch_size": 8, "rng": np.random.default_rng(1), **kwargs}  # fmt: skip
    x, y = args.pop("x", X), args.pop("y", Y)
    return bp.fit(model, x, y, **args)


def _named(call: Callable[[], Any], *words: str) -> str:
    """``call()`` raises a ValueError/TypeError naming ``words``, with no internals message."""
    with pytest.raises((ValueError, TypeError)) as caught:
        call()
    message = str(caught.value)
    assert type(caught.value) in (ValueError, TypeError) or isinstance(
        caught.value, bp.BarepropError
    ), f"{type(caught.value).__name__}: {message}"
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    for raw in RAW:
        assert raw not in message, f"internals in {message!r}"
    return message


def _weights(model: bp.Layer) -> list[np.ndarray]:
    return [p.data.copy() for p in model.parameters()]


# --- scalar hyper-parameters: a finite number in range, huge ints included ---------------------

_P = _model().parameters


def _opt(cls: type, **kw: Any) -> Callable[[], Any]:
    return lambda: cls(_P(), **({"lr": 0.1} if cls is bp.SGD else {}), **kw)


SCALARS: dict[str, tuple[Callable[[Any], Any], str, list[Any]]] = {
    # name: (call with the value, the argument's name, hostile values)
    "SGD lr": (lambda v: bp.SGD(_P(), lr=v), "lr", [0, -1.0, np.nan, np.inf, 10**400, "0.1",
                                                   None, True, [0.1]]),
    "SGD momentum": (lambda v: _opt(bp.SGD, momentum=v)(), "momentum", [-0.1, 1.5, np.nan,
                                                                       10**400, "0.9", None]),
    "SGD weight_decay": (lambda v: _opt(bp.SGD, weight_decay=v)(), "weight_decay",
                         [-1, np.inf, 10**400, "0"]),
    "SGD nesterov": (lambda v: _opt(bp.SGD, momentum=0.9, nesterov=v)(), "nesterov", ["yes", 2]),
    "Adam lr": (lambda v: bp.Adam(_P(), lr=v), "lr", [0, np.nan, -np.inf, 10**400, "1e-3"]),
    "Adam eps": (lambda v: bp.Adam(_P(), eps=v), "eps", [-1e-8, np.nan, 10**400, None]),
    "Adam betas": (lambda v: bp.Adam(_P(), betas=v), "betas", [0.9, (0.9,), (0.9, 1.0),
                                                             (np.nan, 0.9), None, "ab"]),
    "RMSprop alpha": (lambda v: bp.RMSprop(_P(), alpha=v), "alpha", [1.5, np.nan, 10**400]),
    "AdamW weight_decay": (lambda v: bp.AdamW(_P(), weight_decay=v), "weight_decay",
                           [-1.0, np.inf, "0.01"]),
    "Linear in_features": (lambda v: bp.Linear(v, 3), "in_features", [0, -2, 2.5, 10**400,
                                                                      "4", None, True]),
    "Conv2d kernel_size": (lambda v: bp.Conv2d(1, 2, v), "kernel_size", [0, 2.5, (3,), "3",
                                                                         None, (3, -1)]),
    "Conv2d stride": (lambda v: bp.Conv2d(1, 2, 3, stride=v), "stride", [0, np.nan, "1"]),
    "MaxPool2d kernel_size": (lambda v: bp.MaxPool2d(v), "kernel_size", [0, 1.5, None, "2"]),
    "Dropout p": (lambda v: bp.Dropout(v), "p", [1.0, -0.1, np.nan, 10**400, "0.5", None, True]),
    "LeakyReLU negative_slope": (lambda v: bp.LeakyReLU(v), "negative_slope",
                                 [-0.5, np.nan, np.inf, "0.1", None]),
    "BatchNorm1d momentum": (lambda v: bp.BatchNorm1d(3, momentum=v), "momentum",
                             [1.5, np.nan, "0.1"]),
    "BatchNorm1d eps": (lambda v: bp.BatchNorm1d(3, eps=v), "eps", [0, -1e-5, np.inf, "1e-5"]),
    "LayerNorm eps": (lambda v: bp.LayerNorm(3, eps=v), "eps", [0, np.nan, 10**400]),
    "build_mlp dropout": (lambda v: _model(dropout=v), "dropout", [1.0, np.nan, "0.5"]),
    "build_mlp hidden": (lambda v: bp.build_mlp(4, v, 3), "hidden", [8, None, "8", [8, 0],
                                                                     [8, 2.5]]),
    "fit epochs": (lambda v: _fit(epochs=v), "epochs", [0, -1, 2.5, np.nan, 10**30,
                                                        np.int64(2**62), "1", None, True]),
    "fit batch_size": (lambda v: _fit(batch_size=v), "batch_size", [0, 2.5, 10**400, None]),
    "predict batch_size": (lambda v: bp.predict(_model(), X, batch_size=v), "batch_size",
                           [0, -5, 1.5, 10**400, None]),
    "evaluate batch_size": (lambda v: bp.evaluate(_model(), X, Y, batch_size=v), "batch_size",
                            [0, np.inf]),
    "gradcheck max_entries": (
        lambda v: gc.check_model(_model(), bp.SoftmaxCrossEntropy(), X[:3], Y[:3], max_entries=v),
        "max_entries", [2.5, 0, -1, "3", 10**400]),
    "gradcheck eps": (
        lambda v: gc.check_layer(bp.Linear(4, 2), X[:2], eps=v), "eps", [0, -1e-6, np.nan]),
    "gradcheck rtol": (
        lambda v: gc.check_layer(bp.Linear(4, 2), X[:2], rtol=v), "rtol", [-1, np.inf, "1e-3"]),
}  # fmt: skip
SCALAR_CASES = [
    (case, value) for case, (_, _, values) in SCALARS.items() for value in values
]  # fmt: skip


@pytest.mark.parametrize(("case", "value"), SCALAR_CASES, ids=[f"{c}={v!r}"[:60] for c, v in
                                                                 SCALAR_CASES])  # fmt: skip
def test_a_scalar_hyper_parameter_is_a_finite_number_in_range(case: str, value: Any) -> None:
    call, name, _ = SCALARS[case]
    message = _named(lambda: call(value), name)
    assert len(message) < 400  # a 400-digit int is not printed whole


# --- a model's input: numbers, its input shape, finite after the cast to its dtype ------------


def _big(value: float = 1e39) -> np.ndarray:
    x = X.astype(np.float64)
    x[3, 1] = value
    return x


def _with_nan() -> np.ndarray:
    x = X.copy()
    x[0, 0] = np.nan
    return x


INPUTS: dict[str, tuple[Any, list[str]]] = {
    "overflows float32": (_big(), ["x", "too large", "float32"]),
    "overflows float32, negative": (_big(-3.5e38), ["x", "too large"]),
    "NaN": (_with_nan(), ["x", "NaN"]),
    "inf": (_big(np.inf), ["x", "infinite"]),
    "features": (np.zeros((5, 7)), ["x", "7 features", "expects 4"]),
    "1-D": (np.zeros(4), ["x", "(4,)"]),
    "3-D": (np.zeros((2, 4, 1)), ["x", "(2, 4, 1)"]),
    "strings": (np.full((2, 4), "a"), ["x", "<U1"]),
    "ragged list": ([[1.0, 2.0, 3.0, 4.0], [1.0]], ["x", "list"]),
    "objects": (np.array([[None] * 4]), ["x", "object"]),
    "complex": (np.zeros((2, 4), complex), ["x", "complex"]),
    "None": (None, ["x"]),
}
ENTRY_POINTS: dict[str, Callable[[Any], Any]] = {
    "fit": lambda x: _fit(x=x, y=np.zeros(2, int)),  # x is checked first
    "evaluate": lambda x: bp.evaluate(_model(), x, np.zeros(2, int)),
    "predict": lambda x: bp.predict(_model(), x),
    "predict_proba": lambda x: bp.predict_proba(_model(), x),
    "gradcheck": lambda x: gc.check_model(_model(), bp.SoftmaxCrossEntropy(), x, Y[:1]),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("case", list(INPUTS))
def test_a_bad_input_array_is_named_at_every_entry_point(entry: str, case: str) -> None:
    x, words = INPUTS[case]
    if entry == "gradcheck" and case.startswith("overflows"):
        pytest.skip("gradcheck computes in float64: 1e39 is a fine float64")
    _named(lambda: ENTRY_POINTS[entry](x), *words)


def test_a_value_that_fits_float32_is_accepted_and_a_float64_model_takes_1e39() -> None:
    assert bp.predict(_model(), _big(3e38)).shape == (40,)
    model64 = _model(dtype=np.float64)
    assert np.isfinite(bp.predict_proba(model64, _big(1e39)[:, :]).sum())


def test_a_cnn_names_an_image_of_the_wrong_size() -> None:
    cnn = bp.build_cnn(rng=np.random.default_rng(0))
    _named(lambda: bp.predict(cnn, np.zeros((2, 1, 6, 6))), "x", "(2, 1, 6, 6)", "larger than")
    _named(lambda: bp.predict(cnn, np.zeros((2, 3, 28, 28))), "x", "Conv2d")


@pytest.mark.parametrize("model", [None, "model.npz", bp.SoftmaxCrossEntropy(), [bp.ReLU()]])
def test_something_that_is_not_a_model_is_named(model: Any) -> None:
    _named(lambda: bp.predict(model, X), "model")
    _named(lambda: bp.evaluate(model, X, Y), "model")
    _named(lambda: bp.fit(model, X, Y, loss=bp.SoftmaxCrossEntropy(),
                          optimizer=bp.SGD(_P(), lr=0.1)), "model")  # fmt: skip


# --- the layers' dtype rule, shape check and backward-after-forward ---------------------------

_IMAGE = (2, 2, 4, 4)
LAYERS: dict[str, tuple[Callable[[], bp.Layer], tuple[int, ...]]] = {
    "Linear": (lambda: bp.Linear(4, 3, rng=np.random.default_rng(0)), (3, 4)),
    "ReLU": (bp.ReLU, (3, 4)),
    "LeakyReLU": (lambda: bp.LeakyReLU(0.1), (3, 4)),
    "Sigmoid": (bp.Sigmoid, (3, 4)),
    "Tanh": (bp.Tanh, (3, 4)),
    "Dropout": (lambda: bp.Dropout(0.5, rng=np.random.default_rng(0)), (3, 4)),
    "Flatten": (bp.Flatten, _IMAGE),
    "Conv2d": (lambda: bp.Conv2d(2, 3, 3, rng=np.random.default_rng(0)), _IMAGE),
    "MaxPool2d": (lambda: bp.MaxPool2d(2), _IMAGE),
    "AvgPool2d": (lambda: bp.AvgPool2d(2), _IMAGE),
    "BatchNorm1d": (lambda: bp.BatchNorm1d(4), (3, 4)),
    "BatchNorm2d": (lambda: bp.BatchNorm2d(2), _IMAGE),
    "LayerNorm": (lambda: bp.LayerNorm(4), (3, 4)),
}
OWN_DTYPE = {"Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm"}


@pytest.mark.parametrize("name", list(LAYERS))
def test_a_layer_computes_in_its_own_dtype_or_the_inputs_float(name: str) -> None:
    make, shape = LAYERS[name]
    x = np.random.default_rng(1).standard_normal(shape)
    layer = make()
    y = layer.forward(x)  # float64 input
    assert y.dtype == (np.float32 if name in OWN_DTYPE else np.float64)
    assert layer.backward(np.ones(y.shape)).dtype == y.dtype  # float64 dy: cast alike
    assert make().forward(x.astype(np.float32)).dtype == np.float32
    ints = make().forward(np.round(x * 10).astype(np.int64))
    assert ints.dtype.kind == "f"
    assert make().forward((np.round(x * 10)).tolist()).dtype.kind == "f"  # a list, too
    if name in OWN_DTYPE:  # the same numbers as a float32 input: computed in float32
        same = make().forward(np.round(x * 10).astype(np.float32))
        np.testing.assert_array_equal(ints, same)


def test_leaky_relu_keeps_its_slope_on_integers() -> None:
    np.testing.assert_array_equal(bp.LeakyReLU(0.1).forward(np.array([[-100, 5]])),
                                  [[-10.0, 5.0]])  # fmt: skip


@pytest.mark.parametrize("name", list(LAYERS))
def test_a_layer_names_its_misuse(name: str) -> None:
    make, shape = LAYERS[name]
    layer = make()
    _named(lambda: layer.backward(np.ones(shape)), name, "before", "forward")
    _named(lambda: layer.forward(np.full(shape, "a")), "x", "<U1")
    _named(lambda: layer.forward(np.zeros(shape, complex)), "x", "complex")
    y = layer.forward(np.ones(shape))
    wrong = np.ones((y.shape[0] + 1, *y.shape[1:]))
    _named(lambda: layer.backward(wrong), name, "dy", str(wrong.shape), str(y.shape))
    if name not in ("ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "Flatten"):  # any shape
        _named(lambda: make().forward(np.ones((2, 5, 5, 5, 5))), name)


def test_layers_that_cannot_follow_each_other_are_refused_when_built() -> None:
    _named(lambda: bp.Sequential([bp.Linear(4, 8), bp.ReLU(), bp.Linear(5, 3)]),
           "layers[2]", "Linear(5, 3)", "(8,)")  # fmt: skip
    _named(lambda: bp.Linear(4, 3).forward(np.ones((2, 5))), "Linear(4, 3)", "(5,)")
    shared = bp.Linear(4, 4)
    _named(lambda: bp.Sequential([shared, bp.ReLU(), shared]), "same Linear object")
    _named(lambda: bp.Sequential(None), "layers", "NoneType")


# --- losses: the same rule; MSE targets are never guessed ---------------------------------------

LOGITS = np.array([[1, 2, 0], [3, -1, 2]])


@pytest.mark.parametrize(
    "logits", [LOGITS, LOGITS.astype(np.float16), LOGITS.tolist(), LOGITS.astype(np.uint8)]
)
def test_cross_entropy_takes_any_real_logits(logits: Any) -> None:
    loss = bp.SoftmaxCrossEntropy()
    expected = bp.SoftmaxCrossEntropy().forward(np.asarray(logits, np.float64), [0, 2])
    assert loss.forward(logits, [0, 2]) == pytest.approx(expected, rel=1e-3)
    assert loss.backward().dtype == np.float64


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: bp.MSELoss().forward(np.zeros((3, 1)), np.zeros(3)), ["target", "(3,)"]),
        (lambda: bp.MSELoss().forward(np.zeros((2, 2)), "ab"), ["target", "<U2"]),
        (lambda: bp.MSELoss().forward(np.zeros((2, 2)), [[0, 1], [1]]), ["target"]),
        (lambda: bp.MSELoss().forward("ab", np.zeros(2)), ["pred", "<U2"]),
        (lambda: bp.SoftmaxCrossEntropy().forward(np.full((2, 2), "a"), [0, 1]), ["pred"]),
        (lambda: bp.SoftmaxCrossEntropy().forward(np.zeros((2, 2)), [0.5, 1]), ["target"]),
        (lambda: bp.SoftmaxCrossEntropy().backward(), ["SoftmaxCrossEntropy", "before"]),
        (lambda: bp.MSELoss().backward(), ["MSELoss", "before"]),
    ],
)
def test_a_loss_names_what_is_wrong(call: Callable[[], Any], words: list[str]) -> None:
    _named(call, *words)


def test_mse_keeps_a_float32_network_float32() -> None:
    loss = bp.MSELoss()
    loss.forward(np.zeros((5, 3), np.float32), np.eye(3)[[0, 1, 2, 0, 1]])  # float64 target
    assert loss.backward().dtype == np.float32
    assert loss.forward(np.zeros((3, 1)), np.array([0, 0, 0])) == 1.0  # integer labels: one-hot


# --- one per-sample loss: the sum over a sample's outputs, the mean over samples ---------------


@pytest.mark.parametrize("loss_cls", [bp.MSELoss, bp.SoftmaxCrossEntropy])
def test_per_sample_loss_is_one_definition_in_fit_and_evaluate(loss_cls: type) -> None:
    model = _model(output_activation="sigmoid" if loss_cls is bp.MSELoss else None)
    out = model.forward(X).astype(np.float64)
    if loss_cls is bp.MSELoss:
        expected = float(np.mean(np.sum((out - np.eye(3)[Y]) ** 2, axis=1)))
    else:
        expected = float(np.mean(np.log(np.exp(out).sum(axis=1)) - out[np.arange(40), Y]))
    for reduction in ("mean", "sum"):
        assert bp.evaluate(model, X, Y, loss=loss_cls(reduction))["loss"] == pytest.approx(
            expected, rel=1e-5
        )
        first = _model(output_activation="sigmoid" if loss_cls is bp.MSELoss else None)
        history = _fit(first, loss=loss_cls(reduction), batch_size=40,
                       optimizer=bp.SGD(first.parameters(), lr=1e-9))  # fmt: skip
        assert history["loss"][0] == pytest.approx(expected, rel=1e-5)  # one step, before it


# --- fit: every argument checked before the first step; the mode it found kept on failure ------


def _not_a_callback(epoch: int, logs: dict[str, float]) -> None: ...


class _NoHook:
    pass


BEFORE_FIRST_STEP: dict[str, tuple[dict[str, Any], list[str]]] = {
    "callbacks None": ({"callbacks": None}, ["callbacks", "NoneType"]),
    "callbacks function": ({"callbacks": [_not_a_callback]}, ["callbacks[0]", "on_epoch_end"]),
    "callbacks object": ({"callbacks": [_NoHook()]}, ["callbacks[0]", "_NoHook"]),
    "callbacks string": ({"callbacks": "log"}, ["callbacks", "str"]),
    "state dict": ({"state": {}}, ["state", "dict"]),
    "state epoch -2": ({"state": bp.FitState(epoch=-2)}, ["state.epoch", "-2"]),
    "state epoch 1.5": ({"state": bp.FitState(epoch=1.5)}, ["state.epoch", "1.5"]),  # type: ignore[arg-type]
    "state epoch past": ({"state": bp.FitState(epoch=5)}, ["state.epoch", "5"]),
    "state batch 2": ({"state": bp.FitState(batch=2)}, ["state.batch", "shuffle_state"]),
    "state batch past": ({"state": bp.FitState(batch=9, shuffle_state={})}, ["state.batch"]),
    "state step -1": ({"state": bp.FitState(step=-1)}, ["state.step", "-1"]),
    "state loss_sum nan": ({"state": bp.FitState(loss_sum=np.nan)}, ["state.loss_sum", "nan"]),
    "state base_lr 0": ({"state": bp.FitState(base_lr=0.0)}, ["state.base_lr", "0.0"]),
    "validation empty": ({"validation_data": (X[:0], Y[:0])}, ["validation_data", "empty"]),
    "validation NaN": ({"validation_data": (_with_nan(), Y)}, ["validation x", "NaN"]),
    "schedule list": ({"lr_schedule": [1.0]}, ["lr_schedule", "[1.0]"]),
    "schedule unknown": ({"lr_schedule": "exp"}, ["lr_schedule", "'exp'"]),
    "loss string": ({"loss": "ce"}, ["loss", "'ce'"]),
    "epochs too many steps": ({"epochs": 2**52}, ["epochs", "2**53"]),
    "x too large": ({"x": _big()}, ["x", "too large"]),
}


@pytest.mark.parametrize("case", list(BEFORE_FIRST_STEP))
def test_fit_refuses_before_the_first_step(case: str) -> None:
    kwargs, words = BEFORE_FIRST_STEP[case]
    model = _model()
    before = _weights(model)
    _named(lambda: _fit(model, **kwargs), *words)
    for a, b in zip(before, _weights(model), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("factor", [float("nan"), float("inf"), -1.0, "1", None, 10**400])
def test_a_schedule_factor_that_is_not_a_finite_number_is_named_with_its_step(
    factor: Any,
) -> None:
    def schedule(step: int, total: int) -> Any:
        return 1.0 if step < 3 else factor

    model = _model()
    _named(lambda: _fit(model, lr_schedule=schedule), "lr_schedule", "step 3", "of 5")
    assert all(np.isfinite(w).all() for w in _weights(model))


@pytest.mark.parametrize("mode", ["train", "eval", "mixed"])
def test_a_failed_fit_leaves_the_mode_it_found(mode: str) -> None:
    model = _model(dropout=0.5)
    model.train() if mode == "train" else model.eval()
    if mode == "mixed":
        model.layers[2].train()  # only the Dropout
    found = [layer.training for layer in model.flat()]

    def fails(step: int, total: int) -> float:
        if step == 2:
            raise RuntimeError("the schedule's own bug")
        return 1.0

    with pytest.raises(RuntimeError):
        _fit(model, lr_schedule=fails)
    assert [layer.training for layer in model.flat()] == found
    _fit(model)
    assert not any(layer.training for layer in model.flat())  # a normal end: eval mode


def test_empty_data_is_an_error_not_nan() -> None:
    _named(lambda: bp.evaluate(_model(), X[:0], Y[:0]), "x", "empty")
    _named(lambda: bp.evaluate(_model(), X[:0], Y[:0], loss=bp.MSELoss()), "x", "empty")
    assert bp.predict(_model(), X[:0]).shape == (0,)  # no samples: no predictions, not NaN


def test_a_resumed_state_from_a_checkpoint_is_still_accepted() -> None:
    model, state = _model(), bp.FitState()
    rng = np.random.default_rng(1)
    state.shuffle_state = dict(rng.bit_generator.state)
    state.batch, state.step, state.loss_sum, state.correct = 2, 2, 2.0, 5
    assert len(_fit(model, state=state, epochs=1, rng=rng)["loss"]) == 1


# --- model files: the header is covered too; save refuses what load refuses --------------------


def _entries(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def _rewrite(path: Path, edit: Callable[[dict[str, Any]], None], out: Path) -> Path:
    entries = _entries(path)
    header = json.loads(entries["config"].tobytes())
    edit(header)
    entries["config"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(out, **entries)
    return out


def _relu_to_tanh(header: dict[str, Any]) -> None:
    header["architecture"]["layers"][1]["type"] = "Tanh"


@pytest.mark.parametrize(
    "edit",
    [
        _relu_to_tanh,
        lambda h: h["metadata"].update(classes=["x", "y", "z"]),
        lambda h: h["metadata"].update(note="edited"),
        lambda h: h["architecture"]["layers"][0].update(dtype="float64"),
    ],
)
def test_an_edited_header_in_a_new_file_is_refused(tmp_path: Path, edit: Callable) -> None:
    path = tmp_path / "m.npz"
    bp.save(_model(), path, metadata={"classes": ["a", "b", "c"]})
    bad = _rewrite(path, edit, tmp_path / "edited.npz")
    with pytest.raises(bp.ModelFileError, match="header .* does not match its SHA-256"):
        bp.load(bad)


def test_a_file_from_before_the_header_digest_still_loads(tmp_path: Path) -> None:
    """Old files have no header_sha256: they load, checked for their weights as before."""
    model, path = _model(), tmp_path / "m.npz"
    bp.save(model, path)
    old = _rewrite(path, lambda h: h.pop("header_sha256"), tmp_path / "old.npz")
    np.testing.assert_array_equal(bp.predict_proba(bp.load(old), X), bp.predict_proba(model, X))
    assert "header_sha256" not in json.loads(_entries(old)["config"].tobytes())


def test_the_header_digest_is_over_the_header_read_back() -> None:
    header = {"b": [1, 2.5], "a": {"z": None, "y": "é"}}
    assert header_sha256(header) == header_sha256(json.loads(json.dumps(header)))
    assert header_sha256({**header, "header_sha256": "x"}) == header_sha256(header)


class _Unregistered(bp.Layer):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x


SAVE_REFUSALS: dict[str, tuple[Callable[[], bp.Sequential], Any, list[str]]] = {
    "classes": (_model, {"classes": ["a"]}, ["class names", "3 outputs"]),
    "empty model": (lambda: bp.Sequential([]), None, ["layers"]),
    "custom layer": (lambda: bp.Sequential([_Unregistered()]), None, ["register_layer"]),
    "metadata numpy": (_model, {"seed": np.int64(3)}, ["metadata", "JSON"]),
    "metadata list": (_model, [1, 2], ["metadata", "list"]),
    "preprocessing": (_model, {"preprocessing": {"pixel_scale": -1, "image_shape": [4]}},
                      ["preprocessing"]),
    "model None": (lambda: None, None, ["model", "NoneType"]),  # type: ignore[return-value]
}  # fmt: skip


@pytest.mark.parametrize("case", list(SAVE_REFUSALS))
def test_save_refuses_what_load_would_refuse_and_writes_nothing(tmp_path: Path, case: str) -> None:
    make, metadata, words = SAVE_REFUSALS[case]
    path = tmp_path / "m.npz"
    _named(lambda: bp.save(make(), path, metadata=metadata), *words)
    assert not path.exists()


def test_a_nested_model_round_trips(tmp_path: Path) -> None:
    inner = bp.Sequential([bp.Linear(8, 3, rng=np.random.default_rng(1)), bp.Tanh()])
    model = bp.Sequential([bp.Linear(4, 8, rng=np.random.default_rng(0)), bp.ReLU(), inner])
    bp.save(model, tmp_path / "n.npz", metadata={"classes": ["a", "b", "c"]})
    np.testing.assert_array_equal(bp.predict(bp.load(tmp_path / "n.npz"), X), bp.predict(model, X))


# --- the Mul/Add nodes: numbers in, numbers out -------------------------------------------------


def test_nodes_take_lists_as_arrays() -> None:
    np.testing.assert_array_equal(bp.Add().forward([1, 2], [3, 4]), [4, 6])
    np.testing.assert_array_equal(bp.Mul().forward([1, 2], 3), [3, 6])
    node = bp.Mul()
    node.forward((1.0, 2.0), [[3.0], [4.0]])
    dx, dy = node.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(dx, [7.0, 7.0])
    np.testing.assert_array_equal(dy, [[3.0], [3.0]])


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: bp.Mul().backward(1.0), ["Mul", "before"]),
        (lambda: bp.Add().backward(np.ones(3)), ["Add", "before"]),
        (lambda: _ran(bp.Add()).backward(np.ones(4)), ["dout", "(4,)", "(3,)"]),
        (lambda: _ran(bp.Mul()).backward("1"), ["dout", "<U1"]),
        (lambda: bp.Add().forward("ab", 1), ["x", "<U2"]),
        (lambda: bp.Mul().forward(1.0, None), ["y", "object"]),
    ],
)
def test_nodes_name_their_misuse(call: Callable[[], Any], words: list[str]) -> None:
    _named(call, *words)


def _ran(node: Any) -> Any:
    node.forward(np.ones(3), np.ones(3))
    return node


# --- gradcheck: its input named, not every gradient failed --------------------------------------


def test_gradcheck_names_its_input_and_checks_nested_models() -> None:
    loss = bp.SoftmaxCrossEntropy()
    _named(lambda: gc.check_model(_model(), loss, _with_nan()[:3], Y[:3]), "x", "NaN")
    _named(lambda: gc.check_model(_model(), loss, X[:3, :3], Y[:3]), "x", "3 features")
    _named(lambda: gc.check_model(_model(), "ce", X[:3], Y[:3]), "loss")  # type: ignore[arg-type]
    _named(lambda: gc.check_layer(bp.ReLU(), X[:3], rng=7), "rng", "int")
    _named(lambda: gc.check_loss(loss, np.full((2, 3), np.nan), [0, 1]), "pred", "NaN")
    nested = bp.Sequential([_model(dtype=np.float64), bp.Tanh()])
    assert gc.check_model(nested, loss, X[:3], Y[:3]).passed


# --- further cases of the same kinds -----------------------------------------------------------


def _lr_set_to(value: float) -> Callable[[], Any]:
    model = _model()
    optimizer = bp.SGD(model.parameters(), lr=0.1)
    optimizer.lr = value
    return lambda: _fit(model, optimizer=optimizer)


FURTHER: dict[str, tuple[Callable[[], Any], list[str]]] = {
    "init an int": (lambda: bp.Linear(4, 3, init=5), ["init", "5"]),  # type: ignore[arg-type]
    "init a list": (lambda: bp.Conv2d(1, 2, 3, init=[1]), ["init"]),  # type: ignore[arg-type]
    "init wrong shape": (lambda: bp.Linear(4, 3, init=lambda s, r, d: np.zeros(3)),
                         ["init", "(4, 3)"]),
    "init NaN": (lambda: bp.Linear(4, 3, init=lambda s, r, d: np.full(s, np.nan)),
                 ["init", "NaN"]),
    "build_cnn image too small": (lambda: bp.build_cnn((1, 5, 5)), ["image_shape", "(1, 5, 5)"]),
    "build_cnn image 2-D": (lambda: bp.build_cnn((28, 28)), ["image_shape"]),
    "optimizer over a model": (lambda: bp.SGD(_model(), lr=0.1), ["params", "Sequential"]),
    "optimizer a param twice": (lambda: bp.SGD(_P() + _P()[:1], lr=0.1), ["params[4]", "twice"]),
    "optimizer.lr set to NaN": (_lr_set_to(float("nan")), ["optimizer.lr", "nan"]),
    "fit verbose": (lambda: _fit(verbose="loud"), ["verbose", "'loud'"]),
    "fit y None": (lambda: _fit(y=None), ["y", "NoneType"]),
    "fit y strings": (lambda: _fit(y=np.array(["a"] * 40)), ["y", "<U1"]),
    "fit y ragged": (lambda: _fit(y=[[0], [1, 2]]), ["y", "ragged"]),
    "a loss of no samples": (lambda: bp.SoftmaxCrossEntropy().forward(np.zeros((0, 3)), []),
                             ["pred", "no samples"]),
    "an MSE target with NaN": (lambda: bp.MSELoss().forward(np.zeros((1, 2)), [[0, np.nan]]),
                               ["target", "NaN"]),
    "load None": (lambda: bp.load(None), ["path", "NoneType"]),  # type: ignore[arg-type]
    "save to an int": (lambda: bp.save(_model(), 3), ["path", "int"]),  # type: ignore[arg-type]
    "gradcheck layer None": (lambda: gc.check_layer(None, X[:2]), ["layer", "NoneType"]),  # type: ignore[arg-type]
    "gradcheck upstream": (lambda: gc.check_layer(bp.ReLU(), X[:2], upstream="u"), ["upstream"]),
    "gradcheck analytic keys": (
        lambda: gc.check_function(lambda: 0.0, {"a": np.zeros(2)}, {}), ["analytic", "'a'"]),
    "gradcheck arrays": (lambda: gc.check_function(lambda: 0.0, [1], {}), ["arrays", "list"]),  # type: ignore[arg-type]
    "schedule total 0": (lambda: bp.schedules.linear(1, 0), ["total_steps", "0"]),
    "schedule past the end": (lambda: bp.schedules.cosine(5, 3), ["step", "5"]),
    "schedule string step": (lambda: bp.schedules.linear("1", 3), ["step", "'1'"]),
    "initializer shape 0": (lambda: bp.initializers.glorot_uniform((0, 3), np.random.default_rng()),
                            ["shape", "(0, 3)"]),
    "initializer rng": (lambda: bp.initializers.he_normal((3, 4), 5), ["rng", "int 5"]),  # type: ignore[arg-type]
    "initializer std": (lambda: bp.initializers.normal((3, 4), np.random.default_rng(), std=-1),
                        ["std", "-1"]),
    "initializer dtype": (lambda: bp.initializers.zeros((3,), dtype=np.int8), ["dtype", "int8"]),
    "Parameter of strings": (lambda: bp.Parameter("abc"), ["data", "<U3"]),  # type: ignore[arg-type]
    "Parameter of ints": (lambda: bp.Parameter(np.ones(3, int)), ["Parameter", "int64"]),
    "Layer.to int32": (lambda: _model().to(np.int32), ["dtype", "int32"]),
    "a scalar to a layer": (lambda: bp.ReLU().forward(3.0), ["ReLU", "scalar"]),
    "None to a layer": (lambda: bp.Tanh().forward(None), ["x", "object"]),  # type: ignore[arg-type]
}  # fmt: skip


@pytest.mark.parametrize("case", list(FURTHER))
def test_further_cases_are_named(case: str) -> None:
    call, words = FURTHER[case]
    _named(call, *words)
