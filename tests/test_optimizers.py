"""Optimisers: steps worked out by hand from torch.optim's documented update rules.

One parameter p = [1, -2] with gradient g = [0.5, 0.25] (the same gradient at every step).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import bareprop as bp
from bareprop.lab.notebook004 import ScalarMomentAdam
from bareprop.train.checkpoint import _join_optimizer, _split_optimizer


def _param() -> bp.Parameter:
    p = bp.Parameter(np.array([1.0, -2.0]))
    p.grad[:] = [0.5, 0.25]
    return p


def _steps(opt: bp.Optimizer, p: bp.Parameter, n: int) -> np.ndarray:
    for _ in range(n):
        opt.step()
    return p.data


def test_sgd_plain() -> None:
    p = _param()
    # p - lr * g = [1 - 0.05, -2 - 0.025]
    np.testing.assert_allclose(_steps(bp.SGD([p], lr=0.1), p, 1), [0.95, -2.025], rtol=1e-15)


def test_sgd_momentum_two_steps() -> None:
    p = _param()
    # step 1: b = g = [0.5, 0.25];        p = [1, -2] - 0.1 * b           = [0.95, -2.025]
    # step 2: b = 0.9 b + g = [0.95, 0.475]; p = [0.95, -2.025] - 0.1 * b = [0.855, -2.0725]
    np.testing.assert_allclose(
        _steps(bp.SGD([p], lr=0.1, momentum=0.9), p, 2), [0.855, -2.0725], rtol=1e-15
    )


def test_sgd_nesterov_two_steps() -> None:
    p = _param()
    # step 1: b = g; update g + 0.9 b = [0.95, 0.475];       p = [0.905, -2.0475]
    # step 2: b = [0.95, 0.475]; update g + 0.9 b = [1.355, 0.6775]; p = [0.7695, -2.11525]
    opt = bp.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(_steps(opt, p, 2), [0.7695, -2.11525], rtol=1e-14)


def test_sgd_weight_decay() -> None:
    p = _param()
    # g + wd * p = [0.5 + 0.01, 0.25 - 0.02] = [0.51, 0.23]; p = [1 - 0.051, -2 - 0.023]
    np.testing.assert_allclose(
        _steps(bp.SGD([p], lr=0.1, weight_decay=0.01), p, 1), [0.949, -2.023], rtol=1e-15
    )


def test_adam_first_steps() -> None:
    p = _param()
    # With a constant gradient, bias-corrected m_hat = g and v_hat = g^2 at every step, so
    # each step moves p by lr * g / (|g| + eps) = lr * sign(g) (up to eps).
    lr, eps = 0.01, 1e-8
    out = _steps(bp.Adam([p], lr=lr, eps=eps), p, 3)
    expected = np.array([1.0, -2.0]) - 3 * lr * np.array([0.5 / (0.5 + eps), 0.25 / (0.25 + eps)])
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_adam_l2_weight_decay_enters_the_gradient() -> None:
    p = _param()
    # g' = g + 0.1 p = [0.6, 0.05]; first step moves by lr * g' / (|g'| + eps)
    out = _steps(bp.Adam([p], lr=0.01, weight_decay=0.1), p, 1)
    np.testing.assert_allclose(
        out, [1 - 0.01 * 0.6 / (0.6 + 1e-8), -2 - 0.01 * 0.05 / (0.05 + 1e-8)], rtol=1e-12
    )


def test_adamw_decays_decoupled() -> None:
    p = _param()
    # p <- p (1 - lr wd) = [0.999, -1.998], then the Adam step on the raw gradient: -lr sign(g)
    out = _steps(bp.AdamW([p], lr=0.01, weight_decay=0.1), p, 1)
    np.testing.assert_allclose(
        out, [0.999 - 0.01 * 0.5 / (0.5 + 1e-8), -1.998 - 0.01 * 0.25 / (0.25 + 1e-8)], rtol=1e-12
    )


def test_rmsprop_two_steps() -> None:
    p = _param()
    g = np.array([0.5, 0.25])
    v1 = 0.01 * g**2  # (1 - alpha) g^2
    p1 = np.array([1.0, -2.0]) - 0.01 * g / (np.sqrt(v1) + 1e-8)
    v2 = 0.99 * v1 + 0.01 * g**2
    p2 = p1 - 0.01 * g / (np.sqrt(v2) + 1e-8)
    np.testing.assert_allclose(_steps(bp.RMSprop([p], lr=0.01), p, 2), p2, rtol=1e-14)


def test_rmsprop_momentum() -> None:
    p = _param()
    g = np.array([0.5, 0.25])
    v1 = 0.01 * g**2
    b1 = g / (np.sqrt(v1) + 1e-8)  # = 10 * sign(g), nearly
    v2 = 0.99 * v1 + 0.01 * g**2
    b2 = 0.5 * b1 + g / (np.sqrt(v2) + 1e-8)
    expected = np.array([1.0, -2.0]) - 0.01 * b1 - 0.01 * b2
    np.testing.assert_allclose(
        _steps(bp.RMSprop([p], lr=0.01, momentum=0.5), p, 2), expected, rtol=1e-14
    )
    assert math.isclose(b1[0], 10.0, rel_tol=1e-6)


def test_float32_parameters_stay_float32() -> None:
    p = bp.Parameter(np.ones(3, dtype=np.float32))
    p.grad[:] = 0.5
    for opt in (
        bp.SGD([p], lr=0.1, momentum=0.9),
        bp.Adam([p]),
        bp.AdamW([p]),
        bp.RMSprop([p], momentum=0.1),
    ):
        opt.step()
        assert p.data.dtype == np.float32


def test_state_dict_round_trip_continues_identically() -> None:
    a, b = _param(), _param()
    opt_a = bp.Adam([a], lr=0.1)
    _steps(opt_a, a, 2)
    b.data[:] = a.data
    opt_b = bp.Adam([b], lr=0.5)
    opt_b.load_state_dict(opt_a.state_dict())
    np.testing.assert_array_equal(_steps(opt_a, a, 3), _steps(opt_b, b, 3))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: bp.SGD(p, lr=0), "lr must be a finite positive number, got 0"),
        (lambda p: bp.SGD(p, lr=-1.0), "lr must be a finite positive number, got -1.0"),
        (lambda p: bp.SGD(p, lr=0.1, momentum=1.5), "momentum"),
        (lambda p: bp.SGD(p, lr=0.1, nesterov=True), "nesterov"),
        (lambda p: bp.Adam(p, betas=(0.9, 1.0)), "betas\\[1\\]"),
        (lambda p: bp.Adam(p, lr=float("nan")), "lr"),
        (lambda p: bp.RMSprop(p, alpha=-0.1), "alpha"),
        (lambda p: bp.AdamW([], lr=0.1), "params is empty"),
    ],
)
def test_bad_hyper_parameters_are_named(make: object, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        make([_param()])  # type: ignore[operator]


# -- state: one dict per parameter, saved and restored whole ----------------------------------

FACTORIES = {
    "sgd": lambda p: bp.SGD(p, lr=0.1),
    "sgd-momentum": lambda p: bp.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    "sgd-nesterov": lambda p: bp.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda p: bp.Adam(p, lr=0.01, weight_decay=0.1),
    "adamw": lambda p: bp.AdamW(p, lr=0.01, betas=(0.8, 0.99)),
    "rmsprop": lambda p: bp.RMSprop(p, lr=0.01),
    "rmsprop-momentum": lambda p: bp.RMSprop(p, lr=0.01, momentum=0.5, weight_decay=0.1),
    "scalar-moment-adam": lambda p: ScalarMomentAdam(p, p[::2], lr=0.01),
}


def _params(seed: int = 0) -> list[bp.Parameter]:
    rng = np.random.default_rng(seed)
    return [bp.Parameter(rng.standard_normal(shape).astype(np.float32)) for shape in SHAPES]


SHAPES = [(3, 2), (2,), (2, 4), (4,)]


def _random_steps(opt: bp.Optimizer, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(n):
        for p in opt.params:
            p.grad[...] = rng.standard_normal(p.grad.shape)
        opt.step()


def _through_a_checkpoint(state: dict[str, object]) -> dict[str, object]:
    """The state as a checkpoint stores it: a JSON part and named arrays, then joined again."""
    plain, arrays = _split_optimizer(state)
    return _join_optimizer(json.loads(json.dumps(plain)), arrays)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_state_round_trips_and_the_restored_optimizer_steps_identically(name: str) -> None:
    original = FACTORIES[name](_params())
    _random_steps(original, 3, seed=1)
    saved = _through_a_checkpoint(original.state_dict())
    restored = FACTORIES[name](_params())
    for p, q in zip(original.params, restored.params, strict=True):
        q.data[...] = p.data
    restored.load_state_dict(saved)
    again = restored.state_dict()
    assert again.keys() == original.state_dict().keys()
    for key, value in original.state_dict().items():
        if isinstance(value, list):
            for a, b in zip(value, again[key], strict=True):
                np.testing.assert_array_equal(a, b)
        else:
            assert again[key] == value
    _random_steps(original, 2, seed=2)
    _random_steps(restored, 2, seed=2)
    for p, q in zip(original.params, restored.params, strict=True):
        np.testing.assert_array_equal(p.data, q.data)


def test_scalar_moment_adam_restores_m_and_v() -> None:
    """Notebook 004's optimiser keeps a scalar ``v`` beside the per-parameter ``m``: a restored
    one must step exactly as the original (it did not while its state dropped both)."""
    original = FACTORIES["scalar-moment-adam"](_params())
    _random_steps(original, 3, seed=1)
    saved = original.state_dict()
    assert saved["v"] == original.v != 0 and len(saved["m"]) == len(SHAPES)
    restored = FACTORIES["scalar-moment-adam"](_params())
    for p, q in zip(original.params, restored.params, strict=True):
        q.data[...] = p.data
    restored.load_state_dict(_through_a_checkpoint(saved))
    _random_steps(original, 1, seed=2)
    _random_steps(restored, 1, seed=2)
    for p, q in zip(original.params, restored.params, strict=True):
        assert p.data.tobytes() == q.data.tobytes()


def _old_layout(opt: bp.Optimizer) -> dict[str, object]:
    """What ``state_dict()`` returned before per-parameter state: a list per name, ``buffers``
    for the momentum buffer (``None`` before SGD's first step; always there for RMSprop)."""
    old: dict[str, object] = {"steps": opt.steps, "lr": opt.lr}
    if isinstance(opt, bp.SGD):  # None before the first step
        old["buffers"] = [s["momentum_buffer"].copy() if s else None for s in opt.state]
        return old

    def get(key: str) -> list[np.ndarray]:  # zeros before the first step
        pairs = zip(opt.params, opt.state, strict=True)
        return [s[key].copy() if key in s else np.zeros_like(p.data) for p, s in pairs]

    if isinstance(opt, bp.Adam):
        old["m"], old["v"] = get("m"), get("v")
    elif isinstance(opt, bp.RMSprop):
        old["v"], old["buffers"] = get("v"), get("momentum_buffer")
    return old


@pytest.mark.parametrize("name", [n for n in FACTORIES if n != "scalar-moment-adam"])
@pytest.mark.parametrize("steps", [0, 3])
def test_checkpoints_of_the_old_layout_load_and_resume_identically(name: str, steps: int) -> None:
    original = FACTORIES[name](_params())
    _random_steps(original, steps, seed=1)
    old = _old_layout(original)
    if name.startswith("sgd-") and steps == 0:
        assert old["buffers"] == [None] * len(SHAPES)  # saved before the first step
    plain, arrays = _split_optimizer(old)
    restored = FACTORIES[name](_params())
    for p, q in zip(original.params, restored.params, strict=True):
        q.data[...] = p.data
    restored.load_state_dict(_join_optimizer(json.loads(json.dumps(plain)), arrays))
    _random_steps(original, 2, seed=2)
    _random_steps(restored, 2, seed=2)
    for p, q in zip(original.params, restored.params, strict=True):
        assert p.data.tobytes() == q.data.tobytes()


def test_load_state_dict_names_a_list_of_the_wrong_length() -> None:
    opt = bp.Adam(_params())
    with pytest.raises(ValueError, match="optimizer state 'm' must be a list of 4 arrays"):
        opt.load_state_dict({"steps": 1, "lr": 0.1, "m": [np.zeros(2)]})
