"""Optimisers: steps worked out by hand from torch.optim's documented update rules.

One parameter p = [1, -2] with gradient g = [0.5, 0.25] (the same gradient at every step).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import bareprop as bp


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
