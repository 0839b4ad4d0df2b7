"""The computation drawn as a graph: Mul/Add expressions and one batch through a network."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import bareprop as bp
from bareprop.cli import main
from bareprop.nn.graph import links
from bareprop.show import graph_svg

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


def apple_graph() -> tuple[dict[str, bp.Mul | bp.Add], dict[str, float]]:
    leaves = {"apple": 100.0, "n_apple": 2.0, "orange": 150.0, "n_orange": 3.0, "tax": 1.1}
    m1, m2, add, tax = bp.Mul(), bp.Mul(), bp.Add(), bp.Mul()
    fruit = add(m1(leaves["apple"], leaves["n_apple"]), m2(leaves["orange"], leaves["n_orange"]))
    tax(fruit, leaves["tax"])
    d_fruit, _ = tax.backward(1.0)
    d_apples, d_oranges = add.backward(d_fruit)
    m1.backward(d_apples)
    m2.backward(d_oranges)
    return {"apple_total": m1, "orange_total": m2, "fruit": add, "price": tax}, leaves


def test_links_follow_the_output_objects() -> None:
    nodes, _ = apple_graph()
    assert links(list(nodes.values())) == [(None, None), (None, None), (0, 1), (2, None)]
    with pytest.raises(ValueError, match="has not run forward"):
        links([bp.Mul()])


def test_picture_of_nodes_has_every_value_and_gradient() -> None:
    nodes, leaves = apple_graph()
    pic = graph_svg.picture_of_nodes(nodes, leaves)
    by_name = {name: (value, grad) for name, value, grad in pic.values.values()}
    assert by_name["price"] == pytest.approx((715.0, 1.0))
    assert by_name["fruit"] == pytest.approx((650.0, 1.1))
    expected = {"apple": 2.2, "n_apple": 110.0, "orange": 3.3, "n_orange": 165.0, "tax": 650.0}
    for name, grad in expected.items():
        assert by_name[name] == pytest.approx((leaves[name], grad))
    assert ("apple_total", "op2") in pic.edges and ("op3", "price") in pic.edges
    assert sorted(pic.ops.values()) == ["*", "*", "*", "+"]


def test_a_leaf_used_twice_collects_both_gradients() -> None:
    x = 3.0
    square = bp.Mul()
    square(x, x)
    square.backward(1.0)
    pic = graph_svg.picture_of_nodes({"x2": square}, {"x": x})
    (leaf,) = [v for k, v in pic.values.items() if k.startswith("leaf")]
    assert leaf == ("x", 3.0, pytest.approx(6.0))  # d(x*x)/dx = 2x


def test_picture_of_network_matches_backprop() -> None:
    rng = np.random.default_rng(0)
    model = bp.build_mlp(5, [4], 3, activation="tanh", rng=rng, dtype=np.float64)
    x, y = rng.random((2, 5)), np.array([0, 2])
    loss = bp.SoftmaxCrossEntropy()
    pic = graph_svg.picture_of_network(model, loss, x, y)
    value = loss.forward(model.forward(x), y)
    dx = model.backward(loss.backward())
    assert pic.values["loss"][1] == pytest.approx(value)
    np.testing.assert_allclose(pic.values["x"][2], dx, rtol=1e-12)
    np.testing.assert_allclose(pic.values["W1"][2], model.layers[0].weight.grad, rtol=1e-12)
    assert set(pic.values) == {"x", "z1", "a1", "logits", "W1", "b1", "W2", "b2", "loss"}
    assert "x @ W1 + b1" in pic.ops["op0"]


@needs_dot
def test_draw_dot_writes_an_svg(tmp_path: Path) -> None:
    pytest.importorskip("graphviz")
    nodes, leaves = apple_graph()
    out = graph_svg.write_svg(graph_svg.draw_dot(nodes, leaves), tmp_path / "apple.svg")
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    for text in ("price", "value 715", "grad 650", "grad 2.2", "n_orange"):
        assert text in svg


@needs_dot
def test_trace_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("graphviz")
    out = tmp_path / "trace.svg"
    assert main(["trace", "--hidden", "4", "--batch-size", "2", "--svg", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    svg = out.read_text()
    for text in ("logits", "W1", "grad 784x4", "SoftmaxCrossEntropy", "x @ W1 + b1"):
        assert text in svg


def test_without_the_graphviz_package_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now fails
    out = tmp_path / "t.svg"
    assert main(["trace", "--hidden", "4", "--batch-size", "2", "--svg", str(out)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'bareprop[graph]'" in err and err.count("\n") == 1
    assert not out.exists()
