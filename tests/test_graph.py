"""Mul and Add nodes: known values, gradient checks, broadcasting, and the example script."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

import bareprop as bp
from bareprop.check import gradcheck as gc


def test_apple_price_by_hand() -> None:
    """The notebooks' example: 2 apples at 100 each, 10% tax."""
    apple, tax = bp.Mul(), bp.Mul()
    price = tax.forward(apple.forward(100.0, 2.0), 1.1)
    assert price == pytest.approx(220.0)
    d_apples_total, d_tax = tax.backward(1.0)
    d_apple, d_count = apple.backward(d_apples_total)
    assert (d_apple, d_count, d_tax) == pytest.approx((2.2, 110.0, 200.0))


def test_add_passes_the_gradient_through() -> None:
    add = bp.Add()
    assert add.forward(3.0, 4.0) == 7.0
    assert add.backward(1.5) == (1.5, 1.5)


@pytest.mark.parametrize("node_cls", [bp.Mul, bp.Add])
@pytest.mark.parametrize(
    ("x_shape", "y_shape"), [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3), ())]
)
def test_nodes_pass_gradcheck(node_cls: type, x_shape: tuple, y_shape: tuple) -> None:
    rng = np.random.default_rng(0)
    x = np.array(rng.standard_normal(x_shape), dtype=np.float64, ndmin=1).reshape(x_shape)
    y = np.array(rng.standard_normal(y_shape), dtype=np.float64).reshape(y_shape)
    node = node_cls()
    out = node.forward(x, y)
    u = rng.standard_normal(np.shape(out))
    dx, dy = node.backward(u)
    assert np.shape(dx) == x_shape and np.shape(dy) == y_shape
    arrays = {"x": x, "y": y}
    report = gc.check_function(
        lambda: float(np.sum(node_cls().forward(x, y) * u)), arrays, {"x": dx, "y": dy}
    )
    assert report.passed, report.summary()


def test_gradcheck_fails_on_a_wrong_node() -> None:
    class SwappedMul(bp.Mul):
        def backward(self, dout):  # type: ignore[no-untyped-def]
            dx, dy = super().backward(dout)
            return dy, dx  # bug: each input gets the other's gradient

    x, y = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 4.0])
    node = SwappedMul()
    node.forward(x, y)
    dx, dy = node.backward(np.ones(3))
    f = lambda: float(np.sum(x * y))  # noqa: E731
    assert not gc.check_function(f, {"x": x, "y": y}, {"x": dx, "y": dy}).passed


def test_example_script_runs(capsys: pytest.CaptureFixture[str]) -> None:
    script = Path(__file__).resolve().parents[1] / "examples" / "graph_expression.py"
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "price: 715" in out
    assert "gradient check: PASS" in out
