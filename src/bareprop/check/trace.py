"""One mini-batch walked through a network, as the notebooks do by hand.

For each layer, forward then backward: the formula in words (``z1 = x @ W1 + b1``,
``delta2 = (softmax(z2) - onehot(y)) / N``, ``dW1 = x.T @ delta1``), the shape, a few
values; then, for a few entries of every parameter, the numerical gradient (central
differences) beside the analytic one. The values are the layers' own: the trace calls each
layer's ``forward`` and ``backward`` in turn, on a float64 copy of the model.

NumPy only; :func:`to_markdown` renders a trace as Markdown, the CLI also as rich tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bareprop.check.gradcheck import as_float64, central_difference, freeze_randomness
from bareprop.nn import (
    AvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
)
from bareprop.nn.losses import Loss, SoftmaxCrossEntropy
from bareprop.nn.sequential import Sequential


@dataclass
class Step:
    """One line of the trace: ``name = formula``, its shape and a few of its values."""

    formula: str
    shape: tuple[int, ...]
    values: str


@dataclass
class GradProbe:
    """The analytic and the numerical gradient of one parameter entry."""

    name: str
    index: tuple[int, ...]
    analytic: float
    numerical: float


@dataclass
class Trace:
    forward: list[Step] = field(default_factory=list)
    backward: list[Step] = field(default_factory=list)
    probes: list[GradProbe] = field(default_factory=list)
    loss: float = float("nan")
    title: str = ""
    eps: float = 1e-6


def _values(a: np.ndarray, n: int = 4) -> str:
    """A few values: sample 0's first ``n`` (for a weight gradient, its busiest row; for an
    image, sample 0's first channel, from its centre row)."""
    if a.ndim == 0:
        return f"{float(a):.5g}"
    if a.ndim > 2:  # (N, C, H, W) activations or (O, C, kH, kW) kernels: one row of one map
        plane = a[0].reshape(-1, *a.shape[-2:])[0]
        r = len(plane) // 2
        return f"[0, 0, {r}, :]: " + _values(plane[r], n).removeprefix("row 0: ")
    row, label = (a, "") if a.ndim == 1 else (a[0], "row 0: ")
    if a.ndim == 2 and a.shape[0] > 1 and not np.any(a[0]):  # e.g. a black pixel's weights
        r = int(np.argmax(np.abs(a).sum(axis=1)))
        row, label = a[r], f"row {r}: "
    more = ", ..." if row.size > n else ""
    return label + "[" + ", ".join(f"{v + 0.0:.4g}" for v in row[:n]) + more + "]"  # no -0


@dataclass(frozen=True)
class Formula:
    """How the trace writes one layer type. Templates are ``str.format``-ed with ``var`` (the
    input's name), ``out`` (the output's), ``d`` and ``g`` (their gradients' names), ``k``
    (the number of the last layer with weights) and ``layer`` (the layer itself)."""

    out: str
    forward: str
    backward: str
    param_grads: tuple[tuple[str, str], ...] = ()  # (parameter attribute, formula)


FORMULAS: dict[type[Layer], Formula] = {
    Linear: Formula(
        "z{k}", "{out} = {var} @ W{k} + b{k}", "{g} = {d} @ W{k}.T",
        (("weight", "dW{k} = {var}.T @ {d}"), ("bias", "db{k} = sum({d}, axis=0)")),
    ),
    ReLU: Formula("a{k}", "{out} = relu({var})", "{g} = {d} * ({var} > 0)"),
    LeakyReLU: Formula(
        "a{k}", "{out} = leaky_relu({var})",
        "{g} = {d} * where({var} > 0, 1, {layer.negative_slope:g})",
    ),
    Sigmoid: Formula("a{k}", "{out} = sigmoid({var})", "{g} = {d} * {out} * (1 - {out})"),
    Tanh: Formula("a{k}", "{out} = tanh({var})", "{g} = {d} * (1 - {out}^2)"),
    Dropout: Formula(
        "h{k}", "{out} = {var} * m{k} / (1 - {layer.p:g})   (m{k}: the kept units)",
        "{g} = {d} * m{k} / (1 - {layer.p:g})",
    ),
    Conv2d: Formula(
        "z{k}", "{out} = conv({var}, W{k}) + b{k}   (W{k}: {layer.out_channels}x"
        "{layer.in_channels}x{layer.kernel_size[0]}x{layer.kernel_size[1]}, stride "
        "{layer.stride[0]}, padding {layer.padding[0]})",
        "{g} = conv_transpose({d}, W{k})",
        (("weight", "dW{k} = correlate({var}, {d})"), ("bias", "db{k} = sum({d}, axis=(0, 2, 3))")),
    ),
    MaxPool2d: Formula(
        "p{k}", "{out} = max over {layer.kernel_size[0]}x{layer.kernel_size[1]} windows of {var}",
        "{g} = {d} routed to each window's max",
    ),
    AvgPool2d: Formula(
        "p{k}", "{out} = mean over {layer.kernel_size[0]}x{layer.kernel_size[1]} windows of {var}",
        "{g} = {d} spread evenly over each window",
    ),
    Flatten: Formula("f{k}", "{out} = {var}.reshape(N, -1)", "{g} = {d}.reshape({var}.shape)"),
}  # fmt: skip
"""The formulas the trace prints, per layer type; a layer type without one is shown by name."""


def _formula(layer: Layer, i: int) -> Formula:
    name = type(layer).__name__
    default = Formula(f"y{i}", f"{{out}} = {name}({{var}})", f"{{g}} = backward of {name}")
    return FORMULAS.get(type(layer), default)


def _grad_name(var: str) -> str:
    if var == "x":
        return "dx"
    return "delta" + var[1:] if var.startswith("z") else "d_" + var


@dataclass
class _Named:
    """A layer of the trace, with the names of its input and output and its number ``k``."""

    layer: Layer
    var: str
    out: str
    k: int

    def fill(self, template: str) -> str:
        d, g = _grad_name(self.out), _grad_name(self.var)
        return template.format(var=self.var, out=self.out, d=d, g=g, k=self.k, layer=self.layer)


def _forward(model: Sequential, x: np.ndarray, trace: Trace) -> tuple[list[_Named], np.ndarray]:
    """Run the layers one by one, naming each input and output; returns them and the output."""
    names: list[_Named] = []
    var, k = "x", 0
    for layer in model.flat():
        k += bool(layer.parameters())
        formula = _formula(layer, len(names))
        named = _Named(layer, var, formula.out.format(k=k), k)
        x = layer.forward(x)
        trace.forward.append(Step(named.fill(formula.forward), x.shape, _values(x)))
        names.append(named)
        var = named.out
    return names, x


def _loss_formulas(loss: Loss, var: str, n: int, c: int) -> tuple[str, str]:
    mean = loss.reduction == "mean"
    if isinstance(loss, SoftmaxCrossEntropy):
        fwd = f"loss = {'mean' if mean else 'sum'}_i(logsumexp({var}_i) - {var}_i[y_i])"
        div = f" / N   (N = {n})" if mean else ""
        return fwd, f"{_grad_name(var)} = (softmax({var}) - onehot(y)){div}"
    fwd = f"loss = {'mean' if mean else 'sum'}(({var} - onehot(y))^2)"
    div = f" / (N * C)   (N * C = {n * c})" if mean else ""
    return fwd, f"{_grad_name(var)} = 2 * ({var} - onehot(y)){div}"


def _backward(names: list[_Named], d: np.ndarray, trace: Trace) -> None:
    for i, named in reversed(list(enumerate(names))):
        formula = _formula(named.layer, i)
        d = named.layer.backward(d)
        for attr, template in formula.param_grads:
            grad = getattr(named.layer, attr).grad
            trace.backward.append(Step(named.fill(template), grad.shape, _values(grad)))
        trace.backward.append(Step(named.fill(formula.backward), d.shape, _values(d)))


def _probe_name(param: str, k: int) -> str:
    return {"weight": "W", "bias": "b"}.get(param, param) + str(k)


def _probes(model: Sequential, f: Any, n: int, eps: float) -> list[GradProbe]:
    """For each parameter of each layer with weights: the ``n`` entries of largest analytic
    gradient, analytic and numerical."""
    probes = []
    weighted = [layer for layer in model.flat() if layer.parameters()]
    for k, layer in enumerate(weighted, start=1):
        for param, p in layer.named_parameters():
            grad = p.grad.copy()
            flat = p.data.reshape(-1)
            for i in np.argsort(-np.abs(grad).reshape(-1), kind="stable")[:n]:
                plus, minus = central_difference(f, flat, i, eps)
                index = tuple(int(j) for j in np.unravel_index(i, p.shape))
                numerical = (plus - minus) / (2 * eps)
                probes.append(
                    GradProbe(_probe_name(param, k), index, float(grad.reshape(-1)[i]), numerical)
                )
    return probes


def trace_batch(
    model: Sequential, loss: Loss, x: np.ndarray, y: np.ndarray, *, probes: int = 2,
    eps: float = 1e-6,
) -> Trace:  # fmt: skip
    """Walk one batch forward and backward through ``model`` and ``loss``, layer by layer.

    Args:
        model: the network (traced on a float64 copy; the original is untouched).
        loss: its loss; ``loss.backward()`` starts the backward pass.
        x: the batch, ``(N, in_features)``. y: its integer labels, ``(N,)``.
        probes: how many entries of each parameter get a numerical gradient.
        eps: the central-difference step.

    Returns:
        A :class:`Trace`: forward steps, backward steps, gradient probes and the loss.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a Sequential, got {type(model).__name__}")
    net = as_float64(model)
    assert isinstance(net, Sequential)
    x = np.asarray(x, dtype=np.float64)
    restore = freeze_randomness(net)
    restore()
    trace = Trace(eps=eps)
    names, out = _forward(net, x, trace)
    fwd, bwd = _loss_formulas(loss, names[-1].out, len(x), out.shape[1])
    trace.loss = loss.forward(out, y)
    trace.forward.append(Step(fwd, (), f"{trace.loss:.6g}"))
    d = loss.backward()
    trace.backward.append(Step(bwd, d.shape, _values(d)))
    _backward(names, d, trace)

    def f() -> float:
        restore()
        return float(loss.forward(net.forward(x), y))

    trace.probes = _probes(net, f, probes, eps)
    return trace


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def step_rows(steps: list[Step]) -> list[list[str]]:
    """``[formula, shape, values]`` per step, for a table."""
    return [[s.formula, "x".join(map(str, s.shape)) or "scalar", s.values] for s in steps]


def probe_rows(trace: Trace) -> list[list[str]]:
    """``[entry, analytic, numerical, |difference|]`` per probe, for a table."""
    return [
        [f"{p.name}{list(p.index)}", f"{p.analytic:.10g}", f"{p.numerical:.10g}",
         f"{abs(p.analytic - p.numerical):.1e}"]
        for p in trace.probes
    ]  # fmt: skip


STEP_HEADER = ["formula", "shape", "values"]
PROBE_HEADER = ["entry", "analytic", "numerical", "abs difference"]


def to_markdown(trace: Trace) -> str:
    """The trace as a Markdown document: forward, backward, gradient check."""
    parts = [
        f"# One mini-batch, forward and backward\n\n{trace.title}\n",
        "## Forward\n\n" + _md_table(STEP_HEADER, step_rows(trace.forward)),
        "## Backward\n\n" + _md_table(STEP_HEADER, step_rows(trace.backward)),
        f"## Numerical gradient beside the analytic one\n\nCentral differences, eps = "
        f"{trace.eps:g}, in float64; for each parameter the entries of largest gradient.\n\n"
        + _md_table(PROBE_HEADER, probe_rows(trace)),
    ]
    return "\n\n".join(parts) + "\n"


__all__ = ["GradProbe", "Step", "Trace", "to_markdown", "trace_batch"]
