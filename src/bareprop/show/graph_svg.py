"""The computation drawn as a graph, each value with its gradient, as micrograd's ``draw_dot``.

Two sources: the :class:`~bareprop.nn.graph.Mul` / :class:`~bareprop.nn.graph.Add` nodes of a
hand-chained expression (:func:`draw_dot`), and one mini-batch through a network and its loss
(:func:`draw_network`, what ``bareprop trace --svg`` writes). Values are boxes
``name | value | grad``; operations are ovals between them. Both return a
``graphviz.Digraph``, which a notebook shows inline as SVG; :func:`write_svg` saves it.

An edge module: it needs the ``graphviz`` package (``pip install 'bareprop[graph]'``) and
Graphviz's ``dot`` program (Debian: ``apt-get install graphviz``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bareprop.nn.graph import Node, links
from bareprop.nn.sequential import Sequential


@dataclass
class Picture:
    """What is drawn: value boxes ``key -> (name, value, grad)``, operations ``key -> label``
    and edges ``(from key, to key)``."""

    values: dict[str, tuple[str, Any, Any]] = field(default_factory=dict)
    ops: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    stacked: bool = False  # name, value and grad one above the other (long array values)


def short(a: Any, n: int = 3) -> str:
    """A value as a line: a scalar, or the shape and the first ``n`` values of an array."""
    if a is None:
        return "?"
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        return f"{float(arr):.4g}"
    head = ", ".join(f"{v + 0.0:.3g}" for v in arr.reshape(-1)[:n])
    return f"{'x'.join(map(str, arr.shape))} [{head}{', ...' if arr.size > n else ''}]"


def picture_of_nodes(nodes: Mapping[str, Node], inputs: Mapping[str, Any] | None = None) -> Picture:
    """The picture of Mul/Add nodes that ran forward (and backward, for the gradients).

    Args:
        nodes: output name -> node, in the order they ran forward.
        inputs: leaf name -> the value object given to a node (matched by identity); an
            unnamed leaf is called by its position, e.g. ``price.x``.
    """
    pic = Picture()
    names, order = list(nodes), list(nodes.values())
    leaf_names = {id(v): k for k, v in (inputs or {}).items()}
    leaf_grads: dict[int, Any] = {}
    for i, (node, sources) in enumerate(zip(order, links(order), strict=True)):
        op_key = f"op{i}"
        pic.ops[op_key] = node.op
        pic.values[names[i]] = (names[i], node.out, node.dout)
        pic.edges.append((op_key, names[i]))
        for slot, (value, source) in enumerate(zip(node.inputs or (), sources, strict=True)):
            grad = node.grads[slot] if node.grads is not None else None
            if source is not None:
                pic.edges.append((names[source], op_key))
                continue
            key = f"leaf{id(value)}"
            if key not in pic.values:
                name = leaf_names.get(id(value), f"{names[i]}.{'xy'[slot]}")
                pic.values[key] = (name, value, None)
            if grad is not None:  # a leaf used twice collects both gradients, as in micrograd
                leaf_grads[id(value)] = leaf_grads.get(id(value), 0) + np.asarray(grad)
                pic.values[key] = (*pic.values[key][:2], leaf_grads[id(value)])
            pic.edges.append((key, op_key))
    return pic


def picture_of_network(model: Any, loss: Any, x: np.ndarray, y: np.ndarray) -> Picture:
    """One batch through ``model`` (on a float64 copy) and ``loss``, layer by layer: each
    layer's output with its gradient, each parameter with its gradient, and the loss (whose
    gradient is 1). Operations are labelled with the formulas ``bareprop trace`` prints."""
    from bareprop.check.gradcheck import as_float64
    from bareprop.check.trace import FORMULAS

    net = as_float64(model)
    layers = net.flat() if isinstance(net, Sequential) else [net]
    pic, names, acts, k = Picture(stacked=True), ["x"], [np.asarray(x, dtype=np.float64)], 0
    params: dict[str, Any] = {}
    for i, layer in enumerate(layers):
        k += bool(layer.parameters())
        formula = FORMULAS.get(type(layer))
        out = formula.out.format(k=k) if formula is not None else f"y{i}"
        out = "logits" if i == len(layers) - 1 else out
        label = type(layer).__name__
        if formula is not None:
            text = formula.forward.format(var=names[-1], out=out, k=k, layer=layer)
            label += "\\n" + text.split(" = ", 1)[-1].split("   (")[0]
        pic.ops[f"op{i}"] = label
        pic.edges.append((names[-1], f"op{i}"))
        for pname, p in layer.named_parameters():
            key = {"weight": "W", "bias": "b"}.get(pname, pname) + str(k)
            params[key] = p
            pic.edges.append((key, f"op{i}"))
        pic.edges.append((f"op{i}", out))
        acts.append(layer.forward(acts[-1]))
        names.append(out)
    value = float(loss.forward(acts[-1], y))
    pic.ops["oploss"] = f"{type(loss).__name__} ({loss.reduction})\\ny = {list(map(int, y))}"
    pic.edges += [(names[-1], "oploss"), ("oploss", "loss")]
    grads: list[Any] = [None] * len(acts)
    grads[-1] = loss.backward()
    for i in range(len(layers) - 1, -1, -1):
        grads[i] = layers[i].backward(grads[i + 1])
    for name, a, g in zip(names, acts, grads, strict=True):
        pic.values[name] = (name, a, g)
    for key, p in params.items():
        pic.values[key] = (key, p.data, p.grad.copy())
    pic.values["loss"] = ("loss", value, 1.0)
    return pic


def _esc(text: str) -> str:
    """A graphviz record label escapes ``{ } | < >`` (and quotes)."""
    for c in '\\{}|<>"':
        text = text.replace(c, "\\" + c)
    return text


def to_digraph(pic: Picture) -> Any:
    """A ``graphviz.Digraph``, left to right: records ``{ name | value | grad }``, ovals for
    operations."""
    try:
        import graphviz
    except ImportError:
        raise ValueError(
            "drawing the graph needs the graphviz package: pip install 'bareprop[graph]'"
        ) from None
    dot = graphviz.Digraph(format="svg", graph_attr={"rankdir": "LR"})
    for key, (name, value, grad) in pic.values.items():
        label = f"{_esc(name)} | value {_esc(short(value))} | grad {_esc(short(grad))}"
        label = label if pic.stacked else f"{{ {label} }}"
        dot.node(key, label=label, shape="record", fontname="monospace", fontsize="10")
    for key, label in pic.ops.items():
        dot.node(key, label=label, shape="oval", fontsize="10", style="filled",
                 fillcolor="#eef3ff")  # fmt: skip
    for a, b in pic.edges:
        dot.edge(a, b)
    return dot


def draw_dot(nodes: Mapping[str, Node], inputs: Mapping[str, Any] | None = None) -> Any:
    """Mul/Add nodes drawn as micrograd's ``draw_dot`` does; see :func:`picture_of_nodes`."""
    return to_digraph(picture_of_nodes(nodes, inputs))


def draw_network(model: Any, loss: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """One batch through a network and its loss; see :func:`picture_of_network`."""
    return to_digraph(picture_of_network(model, loss, x, y))


def write_svg(digraph: Any, path: str | Path) -> Path:
    """Render ``digraph`` with Graphviz's ``dot`` and write the SVG atomically."""
    import graphviz

    from bareprop.files.atomic import write_text

    try:
        svg = digraph.pipe(format="svg").decode("utf-8")
    except graphviz.ExecutableNotFound:
        raise ValueError(
            "drawing the graph needs Graphviz's dot program (Debian: apt-get install graphviz)"
        ) from None
    write_text(Path(path), svg)
    return Path(path)


__all__ = [
    "Picture",
    "draw_dot",
    "draw_network",
    "picture_of_network",
    "picture_of_nodes",
    "short",
    "to_digraph",
    "write_svg",
]
