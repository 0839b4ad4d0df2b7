"""The fast paths of training give the same numbers as the plain ones.

``fit`` runs its steps with reused buffers, no input gradient for the first layer, packed
(flat) parameters and, when numba is installed, compiled loops for the optimiser and ReLU.
Each is compared here with the straightforward path, bit for bit (``assert_array_equal``):
they do the same float operations in the same order, only with other destinations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

import bareprop as bp
from bareprop.fast import kernels as _kernels
from bareprop.fast.plan import fast_training

OPTIMIZERS: dict[str, Callable[[list[bp.Parameter]], bp.Optimizer]] = {
    "sgd": lambda p: bp.SGD(p, lr=0.1),
    "sgd-momentum-wd": lambda p: bp.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2),
    "sgd-nesterov": lambda p: bp.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda p: bp.Adam(p, lr=1e-2),
    "adam-l2": lambda p: bp.Adam(p, lr=1e-2, weight_decay=0.1),
    "adamw": lambda p: bp.AdamW(p, lr=1e-2),
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


def _plain_fit(
    model: bp.Sequential, opt: bp.Optimizer, x: np.ndarray, y: np.ndarray, epochs: int
) -> None:
    """The textbook loop: new arrays every step, every gradient computed, as fit's order."""
    rng, loss = np.random.default_rng(2), bp.SoftmaxCrossEntropy()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 32):
            idx = order[start : start + 32]
            loss.forward(model.forward(x[idx]), y[idx])
            model.backward(loss.backward())
            opt.step()


def _weights(model: bp.Sequential) -> list[np.ndarray]:
    return [p.data.copy() for p in model.parameters()]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
def test_fit_equals_the_plain_loop_bit_for_bit(
    name: str, dtype: type, compiled: bool, kernels_off: None
) -> None:
    x, y = _data(dtype=dtype)
    plain = _model(dtype)
    _plain_fit(plain, OPTIMIZERS[name](plain.parameters()), x, y, epochs=2)
    # fit with everything fast: buffers, fused Linear+ReLU, packed parameters, compiled loops
    _kernels.use(compiled)
    fast = _model(dtype)
    opt = OPTIMIZERS[name](fast.parameters())
    bp.fit(fast, x, y, loss=bp.SoftmaxCrossEntropy(), optimizer=opt, epochs=2, batch_size=32,
           rng=np.random.default_rng(2), verbose=0)  # fmt: skip
    for a, b in zip(_weights(plain), _weights(fast), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_compiled_optimizer_step_equals_numpy(name: str) -> None:
    pytest.importorskip("numba")
    results = []
    for on in (False, True):
        _kernels.use(on)
        model = _model()
        opt = OPTIMIZERS[name](model.parameters())
        rng = np.random.default_rng(3)
        for _ in range(3):
            for p in model.parameters():
                p.grad[...] = rng.standard_normal(p.grad.shape)
            opt.step()
        state = [a.copy() for n in opt._state_names for a in getattr(opt, n) if a is not None]
        results.append(_weights(model) + state)
    _kernels.use(True)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


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
    ))  # fmt: skip


def test_all_finite_matches_numpy() -> None:
    arrays = [np.ones(500, np.float32), SPECIAL, np.array([3e38, -3e38], np.float32)]
    arrays += [np.r_[np.ones(99), bad] for bad in (np.nan, np.inf, -np.inf)]
    _both(lambda: tuple(np.array(_kernels.all_finite(a)) for a in arrays))
    assert [_kernels.all_finite(a) for a in arrays] == [True, False, True, False, False, False]


def test_softmax_cross_entropy_kernels_match_numpy() -> None:
    rng = np.random.default_rng(6)
    z = rng.standard_normal((64, 10)).astype(np.float32) * 30
    z[3, 4] = np.nan  # a NaN row: its max, and so the whole row, is NaN
    z[5] = z[5, 0]  # a row of ties
    labels = rng.integers(0, 10, 64)
    loss = bp.SoftmaxCrossEntropy()

    def run() -> tuple[np.ndarray, ...]:
        shifted, picked = _kernels.shift_rows(z, labels)
        value = loss.forward(z, labels)
        return shifted, picked, np.array(value), loss.backward()

    _both(run)


def test_fast_training_reuses_buffers_and_skips_only_the_unused_gradient() -> None:
    x, y = _data(32)
    model = _model()
    loss = bp.SoftmaxCrossEntropy()
    loss.forward(model.forward(x), y)
    dx = model.backward(loss.backward())
    grads = [p.grad.copy() for p in model.parameters()]
    with fast_training(model):
        out = model.forward(x)
        assert np.shares_memory(model.forward(x), out)  # the same buffer, step after step
        loss.forward(out, y)
        assert model.backward(loss.backward()) is None  # the first layer's dx: nobody reads it
        for p, g in zip(model.parameters(), grads, strict=True):
            np.testing.assert_array_equal(p.grad, g)
    assert model.layers[0].input_grad  # restored
    loss.forward(model.forward(x), y)
    np.testing.assert_array_equal(model.backward(loss.backward()), dx)


def test_packed_and_unpacked_optimizer_agree() -> None:
    """A p.data replaced after the optimiser was built makes it fall back, with equal results."""
    x, y = _data()
    a, b = _model(), _model()
    opt_a, opt_b = bp.Adam(a.parameters()), bp.Adam(b.parameters())
    first = b.parameters()[0]
    first.data = first.data.copy()  # no longer a view of the optimiser's flat buffer
    for model, opt in ((a, opt_a), (b, opt_b)):
        bp.fit(model, x, y, loss=bp.SoftmaxCrossEntropy(), optimizer=opt, epochs=2,
               batch_size=32, rng=np.random.default_rng(0), verbose=0)  # fmt: skip
    for wa, wb in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("name", ["sgd-momentum-wd", "adam", "rmsprop-momentum"])
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
    for key in opt_a._state_names:
        for sa, sb in zip(state[key], again[key], strict=True):
            np.testing.assert_array_equal(sa, sb)
    train(a, opt_a, 1)
    train(b, opt_b, 1)
    for wa, wb in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(wa, wb)


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
