"""The layer contract that new layers plug into: nested Sequentials, buffers, inferred shapes,
the registry, and a layer object used once.

Each test goes through the public machinery (fit, predict, save/load, checkpoints, the doctor,
gradcheck, the torch twins) rather than the layers alone.
"""

from __future__ import annotations

import numpy as np
import pytest

import bareprop as bp
from bareprop.check.gradcheck import check_model
from bareprop.train.checkpoint import load_checkpoint, restore, save_checkpoint
from bareprop.train.state import FitState


def _nested(rng: np.random.Generator, dtype: type = np.float32) -> bp.Sequential:
    """Linear -> [Linear -> ReLU -> [BatchNorm1d]] -> Linear: two levels of nesting."""
    inner = bp.Sequential([bp.Linear(12, 10, rng=rng, dtype=dtype), bp.ReLU(),
                           bp.Sequential([bp.BatchNorm1d(10, dtype=dtype)])])  # fmt: skip
    return bp.Sequential([bp.Linear(8, 12, rng=rng, dtype=dtype), bp.Tanh(), inner,
                          bp.Linear(10, 3, rng=rng, dtype=dtype)])  # fmt: skip


def _data(n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)


def _fit(model: bp.Sequential, epochs: int = 2, state: FitState | None = None) -> dict:
    x, y = _data()
    opt = bp.Adam(model.parameters(), lr=1e-2)
    return bp.fit(model, x, y, loss=bp.SoftmaxCrossEntropy(), optimizer=opt, epochs=epochs,
                  batch_size=16, rng=np.random.default_rng(2), verbose=0, state=state)  # fmt: skip


def test_parameters_buffers_and_names_are_found_at_any_depth() -> None:
    model = _nested(np.random.default_rng(0))
    names = [name for name, _ in model.named_parameters()]
    bn = "layers.2.layers.2.layers.0"
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.layers.0.weight",
                     "layers.2.layers.0.bias", f"{bn}.weight", f"{bn}.bias", "layers.3.weight",
                     "layers.3.bias"]  # fmt: skip
    assert [n for n, _ in model.named_buffers()] == [f"{bn}.running_mean", f"{bn}.running_var"]
    assert [type(layer).__name__ for layer in model.flat()] == [
        "Linear", "Tanh", "Linear", "ReLU", "BatchNorm1d", "Linear"]  # fmt: skip


def test_shapes_are_inferred_through_nesting_and_mismatches_are_named() -> None:
    model = _nested(np.random.default_rng(0))
    assert model.input_shape() == (8,) and model.output_shape((8,)) == (3,)
    assert (model.in_features, model.out_features) == (8, 3)
    with pytest.raises(ValueError, match=r"Linear\(8, 12\) takes inputs of 8 features"):
        model.output_shape((9,))
    cnn = bp.build_cnn(rng=np.random.default_rng(0))
    assert cnn.input_shape() is None and cnn.output_shape((1, 28, 28)) == (10,)
    with pytest.raises(ValueError, match="larger than"):
        cnn.output_shape((1, 6, 6))


def test_a_nested_model_trains_predicts_and_is_diagnosed() -> None:
    model = _nested(np.random.default_rng(0))
    state = FitState()
    history = _fit(model, state=state)
    assert history["loss"][-1] < history["loss"][0]
    x, y = _data()
    assert bp.predict(model, x).shape == (96,)
    assert bp.evaluate(model, x, y)["accuracy"] > 0.6
    assert {"layer1_grad_norm", "layer4_grad_norm", "layer2_dead"} <= set(state.diagnostics)
    assert model.buffers()[0].any()  # the running mean moved during training


def test_a_nested_model_passes_gradcheck() -> None:
    model = _nested(np.random.default_rng(0), np.float64)
    x, y = _data(12)
    report = check_model(model, bp.SoftmaxCrossEntropy(), x, y, atol=1e-6, rtol=1e-5)
    assert report.passed, report.summary()
    assert "layers.2.layers.2.layers.0.weight" in [c.name for c in report.checks]


def test_buffers_round_trip_through_a_model_file(tmp_path) -> None:
    model = _nested(np.random.default_rng(0))
    _fit(model)
    bp.save(model, tmp_path / "m.npz")
    loaded = bp.load(tmp_path / "m.npz")
    for ours, theirs in zip(model.buffers(), loaded.buffers(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    x, _ = _data()
    model.eval()
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))  # eval: running stats


def test_buffers_round_trip_through_a_checkpoint_and_resume_bit_identical(tmp_path) -> None:
    """Two epochs straight, against one epoch, a checkpoint, a restore into a fresh model and
    its optimiser, then the second epoch: the same weights and running statistics."""
    straight = _nested(np.random.default_rng(0))
    _fit(straight, epochs=2)

    first = _nested(np.random.default_rng(0))
    opt, rng, state = bp.Adam(first.parameters(), lr=1e-2), np.random.default_rng(2), FitState()
    x, y = _data()
    kwargs = dict(loss=bp.SoftmaxCrossEntropy(), optimizer=opt, batch_size=16, verbose=0)
    bp.fit(first, x, y, epochs=1, rng=rng, state=state, **kwargs)
    save_checkpoint(tmp_path / "c.npz", model=first, optimizer=opt, rngs={"s": rng}, state=state)

    again = _nested(np.random.default_rng(5))  # other weights: all must come from the file
    opt2, rng2 = bp.Adam(again.parameters(), lr=1e-2), np.random.default_rng(99)
    resumed = restore(load_checkpoint(tmp_path / "c.npz"), model=again, optimizer=opt2,
                      rngs={"s": rng2})  # fmt: skip
    bp.fit(again, x, y, epochs=2, rng=rng2, state=resumed,
           **{**kwargs, "optimizer": opt2})  # fmt: skip
    for a, b in zip(straight.parameters(), again.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    for a, b in zip(straight.buffers(), again.buffers(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_layer_object_cannot_be_used_twice() -> None:
    shared = bp.Linear(4, 4)
    with pytest.raises(ValueError, match="same Linear object"):
        bp.Sequential([shared, bp.ReLU(), shared])
    with pytest.raises(ValueError, match="same Linear object"):
        bp.Sequential([shared, bp.Sequential([bp.ReLU(), shared])])


class Scale(bp.Layer):
    """A user-written layer: y = s * x with a trainable scalar s."""

    def __init__(self) -> None:
        self.s = bp.Parameter(np.ones(1, dtype=np.float32))

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        return x * self.s.data

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.s.grad[...] = (dy * self._x).sum()
        return dy * self.s.data

    def parameters(self) -> list[bp.Parameter]:
        return [self.s]


def test_a_user_layer_trains_but_save_asks_for_it_to_be_registered(tmp_path) -> None:
    rng = np.random.default_rng(0)
    model = bp.Sequential([bp.Linear(8, 6, rng=rng), Scale(), bp.ReLU(), bp.Linear(6, 3, rng=rng)])
    before = model[1].s.data.copy()
    _fit(model)
    assert not np.array_equal(model[1].s.data, before)
    with pytest.raises(ValueError, match="layers.1 is a Scale.*register_layer"):
        bp.save(model, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    bp.nn.register_layer(Scale)
    try:
        bp.save(model, tmp_path / "m.npz")
        loaded = bp.load(tmp_path / "m.npz")
        assert isinstance(loaded[1], Scale) and loaded[1].s.data == model[1].s.data
    finally:
        del bp.nn.LAYERS["Scale"]


def test_the_torch_twin_of_a_nested_model_matches() -> None:
    torch = pytest.importorskip("torch")
    from bareprop.check.torch_side import to_torch

    model = _nested(np.random.default_rng(0), np.float64).eval()
    x, _ = _data(5)
    x = x.astype(np.float64)
    twin = to_torch(model).eval()
    out = twin(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, model.forward(x), rtol=1e-12, atol=1e-14)
