"""The training doctor: catches divergence at the step it happens and explains the run.

``fit`` asks it three things, kept cheap so that they cost next to nothing per step:

* every step, after ``backward`` and before ``optimizer.step()``, whether the bias gradients
  are finite (a few hundred numbers). A NaN or infinity anywhere upstream reaches every bias
  gradient below it, so this sees a bad gradient before it can touch a weight; when it fires,
  a full check names the layer and the parameter;
* when the loss or a gradient is not finite: which layer and which step. A bad gradient is
  caught before the update, so the weights stay those that gave the last finite loss; a bad
  loss means the current weights are bad, so the copy taken at the start of the epoch (the
  last under which every loss was finite) is put back;
* once per epoch, per layer ``k`` with parameters (counted from the input: a Linear, a
  convolution, a batch norm): ``layer{k}_grad_norm`` (L2 norm of all its gradients at the
  epoch's last step), ``layer{k}_update_ratio`` (``||ΔW|| / ||W||`` of that step, for its first
  parameter, the weight) and, for an activation after it, what :data:`UNIT_STATS` measures on
  a fixed probe batch: ``layer{k}_dead`` (fraction of ReLU units that output 0 for every
  sample) or ``layer{k}_saturated`` (fraction of sigmoid/tanh outputs within 1% of their
  bounds), the places where that activation's derivative is zero or nearly so. A LeakyReLU's
  derivative is never zero, so it has no such statistic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bareprop.errors import BarepropError
from bareprop.fast.cnn import fast_forward
from bareprop.fast.image_ops import IMAGE_LAYERS
from bareprop.fast.workspace import Workspace, to_channels_first, to_channels_last
from bareprop.nn import Layer, Linear, ReLU, Sequential, Sigmoid, Tanh

PROBE_SIZE = 256  # samples used for the activation statistics, always the first ones of x


class TrainingDiverged(BarepropError):
    """The loss or a gradient stopped being finite. The model keeps its last good weights."""


HINT = "try a lower learning rate (a tenth of it, say) or --dtype float64"


def _probe_forward(layer: Layer, h: np.ndarray, ws: Workspace) -> np.ndarray:
    """``layer.forward(h)`` in eval mode; an image layer's by its fast version in ``ws``, the
    same values to rounding (the readable convolution, loops over the kernel, took a tenth of
    a CNN's epoch on the 256 probe images)."""
    if isinstance(layer, IMAGE_LAYERS) and h.ndim == 4:
        return to_channels_first(fast_forward(layer, to_channels_last(h), ws))
    return layer.forward(h)


def _layers(model: Layer) -> list[Layer]:
    """The layers in the order they run (nested Sequentials opened up)."""
    return model.flat() if isinstance(model, Sequential) else [model]


def _dead(y: np.ndarray) -> dict[str, float]:
    """ReLU: a unit whose output is 0 for every probe sample passes no gradient at all."""
    return {"dead": float(np.mean(np.all(y.reshape(len(y), -1) <= 0, axis=0)))}


UNIT_STATS: dict[type[Layer], Callable[[np.ndarray], dict[str, float]]] = {
    ReLU: _dead,
    Sigmoid: lambda y: {"saturated": float(np.mean((y < 0.01) | (y > 0.99)))},
    Tanh: lambda y: {"saturated": float(np.mean(np.abs(y) > 0.99))},
}
"""Per activation type: statistics of its output on the probe batch that say where its
derivative vanishes. A new activation adds its own entry."""


def _norm(a: np.ndarray) -> float:
    """L2 norm in float64, so a large float32 gradient does not overflow its own norm."""
    return float(np.linalg.norm(a.ravel().astype(np.float64, copy=False)))


class Doctor:
    """Watches ``model`` (a :class:`~bareprop.nn.sequential.Sequential`) while ``fit`` trains it.

    Args:
        model: the model being trained.
        x: the training features ``(N, in_features)``; the first :data:`PROBE_SIZE` rows
            are the probe batch for the activation statistics.
        all_finite: ``a -> bool``, whether an array is all finite (``fit`` passes its plan's
            compiled one).
    """

    def __init__(
        self,
        model: Layer,
        x: np.ndarray,
        *,
        all_finite: Callable[[np.ndarray], bool] = lambda a: bool(np.isfinite(a).all()),
    ) -> None:
        self.model = model
        self.all_finite = all_finite
        self.layers = _layers(model)
        self.weighted = [(i, m) for i, m in enumerate(self.layers) if m.parameters()]
        self.probe = x[:PROBE_SIZE]
        self._workspaces = [Workspace() for _ in self.layers]  # kept: allocated once per fit
        self._epoch_start: list[np.ndarray] = []
        self._before_step: list[np.ndarray] = []

    # -- every step -------------------------------------------------------------------------
    def check_loss(self, value: float, epoch: int, step: int, xb: np.ndarray) -> None:
        """Raise :class:`TrainingDiverged` if the loss of this step (on batch ``xb``) is not finite.

        The weights that gave this loss are not good ones: the model gets back those of the
        start of the epoch, the last under which every loss was finite (and the last checkpoint).
        """
        if not np.isfinite(value):
            where = self._first_bad_layer(xb)
            self._restore_epoch_start()
            raise TrainingDiverged(
                f"the loss became {value} at epoch {epoch + 1}, step {step + 1}{where}; "
                f"the weights are back to those of the start of epoch {epoch + 1}; {HINT}"
            )

    def check_gradients(self, epoch: int, step: int) -> None:
        """Raise :class:`TrainingDiverged` if a gradient of this step is not finite.

        Called before ``optimizer.step()``, so the weights have not seen the bad gradient.
        """
        for _, layer in self.weighted:  # the last parameter: a bias, small and downstream
            if not self.all_finite(layer.parameters()[-1].grad):
                break
        else:
            return
        where = self._first_bad_gradient()
        raise TrainingDiverged(
            f"a gradient became non-finite at epoch {epoch + 1}, step {step + 1}, in {where}; "
            f"the weights are those before this step; {HINT}"
        )

    # -- once per epoch ---------------------------------------------------------------------
    def start_epoch(self) -> None:
        """Keep a copy of the weights: the fallback if an update makes them non-finite."""
        self._epoch_start = [p.data.copy() for p in self.model.parameters()]

    def before_last_step(self) -> None:
        """Copy the weights before the epoch's last update, for the update-to-weight ratio."""
        self._before_step = [layer.parameters()[0].data.copy() for _, layer in self.weighted]

    def epoch_stats(self) -> dict[str, float]:
        """Per-layer statistics of the epoch (see the module docstring for each key)."""
        stats: dict[str, float] = {}
        for k, (_, layer) in enumerate(self.weighted, start=1):
            params = layer.parameters()
            g = np.sqrt(sum(_norm(p.grad) ** 2 for p in params))
            stats[f"layer{k}_grad_norm"] = float(g)
            if self._before_step:
                before = self._before_step[k - 1]
                delta = _norm(params[0].data - before)
                stats[f"layer{k}_update_ratio"] = delta / max(_norm(before), 1e-30)
        stats.update(self._activation_stats())
        return stats

    def _activation_stats(self) -> dict[str, float]:
        """Dead ReLUs and saturated sigmoid/tanh units on the probe batch, in eval mode."""
        stats: dict[str, float] = {}
        if not len(self.probe) or not self.weighted:
            return stats
        was_training = self.model.training
        self.model.eval()
        try:
            h = self.probe.astype(self.weighted[0][1].parameters()[0].data.dtype, copy=False)
            k = 0
            for layer, ws in zip(self.layers, self._workspaces, strict=True):
                h = _probe_forward(layer, h, ws)
                if layer.parameters():
                    k += 1
                measure = UNIT_STATS.get(type(layer))
                if measure is not None:
                    stats.update({f"layer{k}_{name}": v for name, v in measure(h).items()})
        finally:
            if was_training:
                self.model.train()
        return stats

    # -- the rare path: something is already wrong ------------------------------------------
    def _first_bad_gradient(self) -> str:
        """The layer (counted from the input) whose gradient is not finite, deepest first."""
        for k, (i, layer) in reversed(list(enumerate(self.weighted, start=1))):
            for name, p in layer.named_parameters():
                if not np.isfinite(p.grad).all():
                    bad = int(p.grad.size - np.count_nonzero(np.isfinite(p.grad)))
                    return (
                        f"layer {k} (layers[{i}] {_describe(layer)}), {name} gradient: "
                        f"{bad} of {p.grad.size} values"
                    )
        return "a gradient"  # pragma: no cover - check_gradients found one

    def _first_bad_layer(self, xb: np.ndarray) -> str:
        """Which layer's output first stopped being finite on the batch (dropout off)."""
        was_training = self.model.training
        self.model.eval()
        try:
            h = xb
            with np.errstate(all="ignore"):
                for i, layer in enumerate(self.layers):
                    h = layer.forward(h)
                    if not np.isfinite(h).all():
                        return f" (the output of layers[{i}] {type(layer).__name__} is not finite)"
                    biggest = float(np.abs(h).max()) if h.size else 0.0
            return f" (every layer's output is finite; the largest final output is {biggest:.3g})"
        finally:
            if was_training:
                self.model.train()

    def _restore_epoch_start(self) -> None:
        for p, saved in zip(self.model.parameters(), self._epoch_start, strict=True):
            p.data[...] = saved


def _describe(layer: Layer) -> str:
    """``Linear 784->512``; other layers by their type and config."""
    if isinstance(layer, Linear):
        return f"Linear {layer.in_features}->{layer.out_features}"
    return repr(layer)
