"""The fast path gives the same numbers as the textbook one, bit for bit.

``fit``, ``evaluate`` and ``predict`` run through a :class:`~bareprop.fast.plan.Plan`: fused
Linear+ReLU, reused buffers, no input gradient for the first layer, parameters and optimiser
state packed into flat buffers and, when numba is installed, compiled loops. Each is compared
here with the textbook path (the layers' own ``forward``/``backward``, the loss's, the
optimiser's ``step()``), bit for bit (``assert_array_equal``, ``==`` on floats): they do the
same float operations in the same order, only with other destinations and fewer passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

import bareprop as bp
from bareprop.fast import kernels as _kernels
from bareprop.fast.flat import flat_step
from bareprop.fast.plan import LayerOp, LinearOp, Plan, ReLUOp
from bareprop.lab.notebook004 import ScalarMomentAdam

OPTIMIZERS: dict[str, Callable[[list[bp.Parameter]], bp.Optimizer]] = {
    "sgd": lambda p: bp.SGD(p, lr=0.1),
    "sgd-momentum-wd": lambda p: bp.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2),
    "sgd-nesterov": lambda p: bp.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda p: bp.Adam(p, lr=1e-2),
    "adam-l2": lambda p: bp.Adam(p, lr=1e-2, weight_decay=0.1),
    "adamw": lambda p: bp.AdamW(p, lr=1e-2),
    "adamw-options": lambda p: bp.AdamW(p, lr=2e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.5),
    "rmsprop": lambda p: bp.RMSprop(p, lr=1e-2),
    "rmsprop-momentum": lambda p: bp.RMSprop(p, lr=1e-2, momentum=0.5, weight_decay=1e-3),
}


@pytest.fixture
def kernels_off() -> Iterator[None]:
    _kernels.use(False)
    yield
    _kernels.use(True)


def _data(n: int = 96, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, 12)).astype(dtype), rng.integers(0, 4, n)


def _model(dtype: type = np.float32) -> bp.Sequential:
    return bp.build_mlp(12, [16, 8], 4, rng=np.random.default_rng(0), dtype=dtype)


class Scale(bp.Layer):
    """A layer the plan does not know: ``y = 2 x``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * x.dtype.type(2)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy * dy.dtype.type(2)


def _lin(n_in: int, n_out: int, seed: int, dtype: type) -> bp.Linear:
    return bp.Linear(n_in, n_out, rng=np.random.default_rng(seed), dtype=dtype)


# Every pattern the plan treats differently: fused pairs, a Linear or a ReLU alone, layers it
# runs through their own forward/backward between them, nesting, and a layer it does not know.
PATTERNS: dict[str, Callable[[type], bp.Sequential]] = {
    "linear-relu": _model,
    "linear-alone": lambda dt: bp.Sequential([_lin(12, 4, 0, dt)]),
    "relu-first-and-after-tanh": lambda dt: bp.Sequential(
        [bp.ReLU(), _lin(12, 16, 0, dt), bp.Tanh(), bp.ReLU(), _lin(16, 4, 1, dt)]
    ),
    "leaky-sigmoid-dropout": lambda dt: bp.Sequential(
        [
            _lin(12, 16, 0, dt),
            bp.LeakyReLU(0.1),
            bp.Dropout(0.3, rng=np.random.default_rng(5)),
            _lin(16, 8, 1, dt),
            bp.Sigmoid(),
            _lin(8, 4, 2, dt),
        ]
    ),
    "relu-dropout-tanh": lambda dt: bp.Sequential(
        [
            _lin(12, 16, 0, dt),
            bp.ReLU(),
            bp.Dropout(0.2, rng=np.random.default_rng(6)),
            _lin(16, 8, 1, dt),
            bp.Tanh(),
            _lin(8, 4, 2, dt),
            bp.ReLU(),
        ]
    ),
    "nested": lambda dt: bp.Sequential(
        [bp.Sequential([_lin(12, 16, 0, dt)]), bp.Sequential([bp.ReLU(), _lin(16, 4, 1, dt)])]
    ),
    "user-layer": lambda dt: bp.Sequential(
        [Scale(), _lin(12, 16, 0, dt), Scale(), bp.ReLU(), _lin(16, 4, 1, dt)]
    ),
}


def _plain_fit(
    model: bp.Sequential, opt: bp.Optimizer, x: np.ndarray, y: np.ndarray, epochs: int
) -> dict[str, list[float]]:
    """The textbook loop in fit's order: the layers', the loss's and the optimiser's own code."""
    rng, loss = np.random.default_rng(2), bp.SoftmaxCrossEntropy()
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    for _ in range(epochs):
        model.train()
        order = rng.permutation(len(x))
        loss_sum, correct = 0.0, 0
        for start in range(0, len(x), 32):
            idx = order[start : start + 32]
            out = model.forward(x[idx])
            loss_sum += loss.forward(out, y[idx]) * len(idx)
            correct += int(np.count_nonzero(out.argmax(axis=1) == y[idx]))
            model.backward(loss.backward())
            opt.step()
        history["loss"].append(loss_sum / len(x))
        history["accuracy"].append(correct / len(x))
    return history


def _fast_fit(
    model: bp.Sequential, opt: bp.Optimizer, x: np.ndarray, y: np.ndarray, epochs: int
) -> dict[str, list[float]]:
    return bp.fit(model, x, y, loss=bp.SoftmaxCrossEntropy(), optimizer=opt, epochs=epochs,
                  batch_size=32, rng=np.random.default_rng(2), verbose=0)  # fmt: skip


def _weights(model: bp.Layer) -> list[np.ndarray]:
    return [p.data.copy() for p in model.parameters()]


def _assert_same(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


def _textbook_and_fast(
    make_model: Callable[[], bp.Sequential],
    make_opt: Callable[[list[bp.Parameter]], bp.Optimizer],
    compiled: bool,
    x: np.ndarray,
    y: np.ndarray,
) -> tuple[bp.Sequential, bp.Sequential, dict[str, list[float]], dict[str, list[float]]]:
    """Train one model with the textbook loop (NumPy), one with ``fit`` (``compiled`` or not)."""
    _kernels.use(False)
    plain = make_model()
    plain_history = _plain_fit(plain, make_opt(plain.parameters()), x, y, epochs=2)
    _kernels.use(compiled)
    fast = make_model()
    history = _fast_fit(fast, make_opt(fast.parameters()), x, y, epochs=2)
    return plain, fast, plain_history, history


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
def test_fit_equals_the_plain_loop_bit_for_bit(
    name: str, dtype: type, compiled: bool, kernels_off: None
) -> None:
    x, y = _data(dtype=dtype)
    plain, fast, plain_history, history = _textbook_and_fast(
        lambda: _model(dtype), OPTIMIZERS[name], compiled, x, y
    )
    _assert_same(_weights(plain), _weights(fast))
    assert history["loss"] == plain_history["loss"]
    assert history["accuracy"] == plain_history["accuracy"]


@pytest.mark.parametrize("pattern", list(PATTERNS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
@pytest.mark.parametrize("opt", ["sgd-nesterov", "adamw"])
def test_every_layer_pattern_trains_and_predicts_bit_for_bit(
    pattern: str, dtype: type, compiled: bool, opt: str, kernels_off: None
) -> None:
    x, y = _data(dtype=dtype)
    plain, fast, plain_history, history = _textbook_and_fast(
        lambda: PATTERNS[pattern](dtype), OPTIMIZERS[opt], compiled, x, y
    )
    _assert_same(_weights(plain), _weights(fast))
    assert history["loss"] == plain_history["loss"]
    assert history["accuracy"] == plain_history["accuracy"]
    # predict and evaluate (through a plan, in eval mode) against the model's own forward
    plain.eval()
    logits = plain.forward(x)
    np.testing.assert_array_equal(bp.predict(fast, x, batch_size=40), logits.argmax(axis=1))
    loss = bp.SoftmaxCrossEntropy()
    result = bp.evaluate(fast, x, y, loss=loss, batch_size=40)
    assert result["loss"] == loss.forward(logits, y)
    np.testing.assert_array_equal(bp.predict_proba(fast, x), bp.nn.losses.softmax(logits))


def test_the_plan_fuses_what_it_knows_and_runs_the_rest_as_they_are() -> None:
    ops = Plan(PATTERNS["user-layer"](np.float32)).ops
    assert [type(op) for op in ops] == [LayerOp, LinearOp, LayerOp, ReLUOp, LinearOp]
    assert [op.name for op in Plan(_model()).ops] == ["Linear+ReLU", "Linear+ReLU", "Linear"]
    assert [op.name for op in Plan(_model(), fuse=False).ops] == ["Linear", "ReLU"] * 2 + ["Linear"]
    nested = Plan(PATTERNS["nested"](np.float32)).ops
    assert [op.name for op in nested] == ["Linear+ReLU", "Linear"]  # across the nesting
    assert not nested[0].input_grad  # type: ignore[union-attr]  # the first layer's dx: unread


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
def test_flat_optimizer_step_equals_the_textbook_step(
    name: str, dtype: type, compiled: bool, kernels_off: None
) -> None:
    """Weights and every state array, after steps on random gradients."""
    results = []
    for fast in (False, True):
        _kernels.use(compiled)
        model = _model(dtype)
        opt = OPTIMIZERS[name](model.parameters())
        step = flat_step(opt) if fast else opt.step
        rng = np.random.default_rng(3)
        for _ in range(3):
            for p in model.parameters():
                p.grad[...] = rng.standard_normal(p.grad.shape)
            step()
        state = opt.state_dict()
        assert state["steps"] == 3
        arrays = [a for key, v in sorted(state.items()) if isinstance(v, list) for a in v]
        results.append(_weights(model) + [a.copy() for a in arrays])
    _assert_same(*results)


def test_an_optimizer_the_plan_does_not_know_runs_its_own_step() -> None:
    model = _model()
    user = ScalarMomentAdam(model.parameters(), [lin.weight for lin in model.linears], lr=0.1)
    assert flat_step(user) == user.step
    patched = bp.SGD(model.parameters(), lr=0.1)
    patched.step = lambda: None  # type: ignore[method-assign]
    assert flat_step(patched) is patched.step
    x, y = _data()
    plain, fast = _model(), _model()
    make = lambda m: ScalarMomentAdam(m.parameters(), [w.weight for w in m.linears], lr=0.01)  # noqa: E731
    plain_history = _plain_fit(plain, make(plain), x, y, epochs=2)
    history = _fast_fit(fast, make(fast), x, y, epochs=2)
    _assert_same(_weights(plain), _weights(fast))
    assert history["loss"] == plain_history["loss"]


def test_compiled_relu_matches_numpy_on_special_values() -> None:
    pytest.importorskip("numba")
    x = np.array([-0.0, 0.0, np.nan, np.inf, -np.inf, -1.5, 2.5, 1e-40], np.float32)
    dy = np.array([1.0, -2.0, 3.0, -np.inf, 5.0, -6.0, np.nan, -0.0], np.float32)
    y, dx = np.empty_like(x), np.empty_like(x)
    with np.errstate(invalid="ignore"):
        _kernels.relu(x, y)
        _kernels.relu_backward(dy, y, None, dx)
        ref_y, ref_dx = np.maximum(x, 0), dy * (np.maximum(x, 0) > 0)
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_array_equal(np.signbit(y), np.signbit(ref_y))
    np.testing.assert_array_equal(dx, ref_dx)
    np.testing.assert_array_equal(np.signbit(dx), np.signbit(ref_dx))


SPECIAL = np.array([-0.0, 0.0, np.nan, np.inf, -np.inf, -1.5, 2.5, 1e-40, -3e38, 3e38], np.float32)


def _both(fn: Callable[[], tuple[np.ndarray, ...]]) -> None:
    """``fn`` with the compiled kernels and with NumPy: the same values, signs of zero included.

    (Not the sign of a NaN: which operand's NaN an addition passes on is the CPU's choice.)
    """
    pytest.importorskip("numba")
    results = []
    for on in (False, True):
        _kernels.use(on)
        with np.errstate(all="ignore"):
            results.append([np.array(a, copy=True) for a in fn()])
    _kernels.use(True)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(np.signbit(a) & ~np.isnan(a), np.signbit(b) & ~np.isnan(b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_linear_relu_kernels_match_numpy(dtype: type) -> None:
    rng = np.random.default_rng(4)
    rows = [rng.permutation(SPECIAL) for _ in range(7)] + [-np.zeros(10)]  # a -0.0 column
    y0 = np.array(rows, dtype)
    dy = np.array([rng.permutation(SPECIAL) for _ in range(len(rows))], dtype)
    b = rng.permutation(SPECIAL).astype(dtype)

    def run() -> tuple[np.ndarray, ...]:
        y = _kernels.bias_relu(y0.copy(), b)
        bias_grad, sums = np.empty(10, dtype), np.empty(10, dtype)
        dz = _kernels.relu_bias_backward(dy, y, None, np.empty_like(dy), bias_grad)
        return y, dz, bias_grad, _kernels.column_sums(dy, sums)

    _both(run)


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (64, 10), (300, 257)])
def test_bias_gradient_sums_match_numpy_on_random_shapes(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(5)
    dy = (rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 4, shape)).astype(np.float32)
    y = rng.standard_normal(shape).astype(np.float32)
    _both(lambda: (
        _kernels.column_sums(dy, np.empty(shape[1], np.float32)),
        _kernels.relu_bias_backward(dy, y, None, None, np.empty(shape[1], np.float32)),
        dy.sum(axis=0),  # what the textbook Linear computes
    ))  # fmt: skip
    np.testing.assert_array_equal(_kernels.column_sums(dy, np.empty(shape[1], np.float32)),
                                  dy.sum(axis=0))  # fmt: skip


def test_all_finite_matches_numpy() -> None:
    arrays = [np.ones(500, np.float32), SPECIAL, np.array([3e38, -3e38], np.float32)]
    arrays += [np.r_[np.ones(99), bad] for bad in (np.nan, np.inf, -np.inf)]
    _both(lambda: tuple(np.array(_kernels.all_finite(a)) for a in arrays))
    assert [_kernels.all_finite(a) for a in arrays] == [True, False, True, False, False, False]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_softmax_cross_entropy_kernels_match_the_textbook_loss(reduction: str) -> None:
    rng = np.random.default_rng(6)
    z = rng.standard_normal((64, 10)).astype(np.float32) * 30
    z[3, 4] = np.nan  # a NaN row: its max, and so the whole row, is NaN
    z[5] = z[5, 0]  # a row of ties
    labels = rng.integers(0, 10, 64)
    loss = bp.SoftmaxCrossEntropy(reduction)
    plan = Plan(_model(), loss, None)

    def run() -> tuple[np.ndarray, ...]:
        shifted, picked = _kernels.shift_rows(z, labels)
        value = plan.loss_forward(z, labels)
        return shifted, picked, np.array(value), plan.loss_backward()

    _both(run)
    for on in (False, True):
        _kernels.use(on)
        with np.errstate(all="ignore"):
            fast_value, fast_grad = plan.loss_forward(z, labels), plan.loss_backward().copy()
            value, grad = loss.forward(z, labels), loss.backward()
        _kernels.use(True)
        np.testing.assert_array_equal(np.array(fast_value), np.array(value))
        np.testing.assert_array_equal(fast_grad, grad)


def test_the_plan_reuses_buffers_and_skips_only_the_unused_gradient() -> None:
    x, y = _data(32)
    model = _model()
    loss = bp.SoftmaxCrossEntropy()
    loss.forward(model.forward(x), y)
    dx = model.backward(loss.backward())
    grads = [p.grad.copy() for p in model.parameters()]
    plan = Plan(model, loss, bp.SGD(model.parameters(), lr=0.1))
    out = plan.forward(x)
    assert np.shares_memory(plan.forward(x), out)  # the same buffer, step after step
    assert np.shares_memory(plan.forward(x[:5]), out)  # a short batch: its first rows
    plan.forward(x)
    plan.loss_forward(out, y)
    plan.backward()
    for p, g in zip(model.parameters(), grads, strict=True):
        np.testing.assert_array_equal(p.grad, g)
    first = plan.ops[0]
    assert isinstance(first, LinearOp) and not first.input_grad
    assert first.backward(np.ones((32, 16), np.float32)) is None  # the dx nobody reads
    loss.forward(model.forward(x), y)  # the model itself is untouched: it still gives dx
    np.testing.assert_array_equal(model.backward(loss.backward()), dx)


def test_a_parameter_rebound_between_fits_is_packed_again_with_equal_results() -> None:
    x, y = _data()
    a, b = _model(), _model()
    opt_a, opt_b = bp.Adam(a.parameters()), bp.Adam(b.parameters())
    for model, opt in ((a, opt_a), (b, opt_b)):
        _fast_fit(model, opt, x, y, epochs=1)
    first = b.parameters()[0]
    first.data = first.data.copy()  # no longer a view of the flat buffer
    opt_b.state[1]["m"] = opt_b.state[1]["m"].copy()  # nor this moment
    for model, opt in ((a, opt_a), (b, opt_b)):
        _fast_fit(model, opt, x, y, epochs=1)
    _assert_same(_weights(a), _weights(b))
    first, second = (p.data for p in b.parameters()[:2])
    assert first.base is not None and first.base is second.base  # packed again


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_state_dict_round_trips_and_training_continues_identically(name: str) -> None:
    x, y = _data()
    loss = bp.SoftmaxCrossEntropy()

    def train(model: bp.Sequential, opt: bp.Optimizer, seed: int) -> None:
        bp.fit(model, x, y, loss=loss, optimizer=opt, batch_size=32,
               rng=np.random.default_rng(seed), verbose=0)  # fmt: skip

    a = _model()
    opt_a = OPTIMIZERS[name](a.parameters())
    train(a, opt_a, 0)
    state = opt_a.state_dict()
    b = _model()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        pb.data[...] = pa.data
    opt_b = OPTIMIZERS[name](b.parameters())
    opt_b.load_state_dict(state)
    again = opt_b.state_dict()
    assert again.keys() == state.keys() and again["steps"] == state["steps"] == 3
    lists = [key for key, value in state.items() if isinstance(value, list)]
    assert bool(lists) == (name != "sgd")  # plain SGD keeps no state; the others do
    for key in lists:
        assert len(state[key]) == len(a.parameters())
        _assert_same(state[key], again[key])
    train(a, opt_a, 1)
    train(b, opt_b, 1)
    _assert_same(_weights(a), _weights(b))


def test_training_loads_one_blas_only() -> None:
    """numba imports a little of SciPy; SciPy's own BLAS beside NumPy's would thrash the cores."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, bareprop as bp\n"
        "m = bp.build_mlp(4, [3], 2, rng=np.random.default_rng(0))\n"
        "x, y = np.ones((8, 4)), np.arange(8) % 2\n"
        "opt = bp.Adam(m.parameters())\n"
        "bp.fit(m, x, y, loss=bp.SoftmaxCrossEntropy(), optimizer=opt, verbose=0)\n"
        "maps = open('/proc/self/maps').read().lower().split('\\n')\n"
        "blas = {line.split('/')[-1] for line in maps if 'blas' in line or 'mkl' in line}\n"
        "print(len(blas), 'scipy.linalg' in sys.modules, 'torch' in sys.modules)\n"
    )
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/maps")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False", "False"]
