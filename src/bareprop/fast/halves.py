"""A batch of images as two halves, one per core: data parallelism inside a plan's step.

OpenBLAS spreads a matrix product over the cores, but a CNN's step spends about half its time
outside them (im2col, col2im, pooling, the ReLUs), in loops one thread runs. So a plan whose
layers treat each image on its own (:data:`PER_IMAGE`: no batch norm, no dropout, no layer the
plan does not know) runs a batch as two halves, each through ops and workspaces of its own.
When OpenBLAS has two threads (two cores, as here and in ``bareprop bench``), the second half
runs on a worker thread while the first runs on the caller's, OpenBLAS held to one thread
meanwhile: a step of the reference CNN 1.36x faster (``benchmarks/cnn_step.py``). Forward
stitches the two outputs together; backward gives each half its rows of the loss gradient,
then adds the second half's parameter gradients to the first's (the model's own ``.grad``).

The second half's layers are shallow copies of the model's whose parameters are
:class:`SharedParameter`: the model's ``data``, read through, and a gradient of their own.

The floats do not depend on the threads: with one BLAS thread (a Dask worker, ``--jobs``), or
more than two, or without threadpoolctl to hold OpenBLAS to one thread, the halves run one
after the other, and the two gradients are added in one order either way: a run gives the
same weights on two cores as on a one-thread cluster worker. They differ from a whole batch's
only by rounding (a sum over the batch taken in two parts); ``tests/test_halves.py`` states it.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

import numpy as np

from bareprop.fast.workspace import Workspace
from bareprop.nn import AvgPool2d, Conv2d, Flatten, Layer, Linear, MaxPool2d, ReLU
from bareprop.nn.layer import Parameter

PER_IMAGE = (Conv2d, MaxPool2d, AvgPool2d, Flatten, Linear, ReLU)
"""Layers whose output for an image depends on that image alone, in either mode."""

MIN_ROWS = 16
"""A batch of fewer rows runs whole: handing half of it to another thread (about 15 us each
way) would cost more than it saves."""

T = TypeVar("T")
U = TypeVar("U")


class Op(Protocol):
    def forward(self, x: np.ndarray) -> np.ndarray: ...

    def backward(self, dy: np.ndarray) -> np.ndarray | None: ...


class SharedParameter:
    """A :class:`Parameter`'s ``data`` (read through: an optimiser's update or rebinding is
    seen) with a ``grad`` of its own, the second half's."""

    def __init__(self, param: Parameter) -> None:
        self.param = param
        self.grad = np.zeros_like(param.data)

    @property
    def data(self) -> np.ndarray:
        return self.param.data


def twin_layers(
    layers: Sequence[Layer],
) -> tuple[list[Layer], list[tuple[Parameter, SharedParameter]]]:
    """Copies of ``layers`` for the second half, and each parameter with its twin.

    Only for :data:`PER_IMAGE` layers, which keep no state between calls in themselves (their
    fast ops keep it in workspaces) and do not change with the train/eval mode. A parameter
    used twice has one twin, as it has one gradient.

    Returns:
        ``(twins, pairs)``: the copies, in order, and ``(parameter, SharedParameter)`` pairs.
    """
    twins: list[Layer] = []
    shared: dict[int, tuple[Parameter, SharedParameter]] = {}
    for layer in layers:
        if type(layer) not in PER_IMAGE:
            raise TypeError(f"{type(layer).__name__} does not run in halves")
        twin = copy.copy(layer)
        for name, value in vars(layer).items():
            if isinstance(value, Parameter):
                pair = shared.setdefault(id(value), (value, SharedParameter(value)))
                setattr(twin, name, pair[1])
        twins.append(twin)
    return twins, list(shared.values())


class Halves:
    """Ops of the two halves: ``first`` (the model's own parameters) and ``second`` (the twins'
    of :func:`twin_layers`, whose gradients ``pairs`` adds to the model's)."""

    def __init__(
        self,
        first: Sequence[Op],
        second: Sequence[Op],
        pairs: list[tuple[Parameter, SharedParameter]],
    ) -> None:
        self.first, self.second, self.pairs = first, second, pairs
        self.rows = 0  # how many rows the first half had in the last forward
        self.out = Workspace()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The ops' output for ``x``, its halves run by :func:`both`; an array kept across calls."""
        h = self.rows = len(x) // 2
        a, b = both(lambda: forward(self.first, x[:h]), lambda: forward(self.second, x[h:]))
        out = self.out.get("y", (len(x), *a.shape[1:]), np.result_type(a, b))
        out[:h], out[h:] = a, b
        return out

    def backward(self, dy: np.ndarray) -> None:
        """Backpropagate ``dy`` (the gradient of the last forward's output): ``.grad`` set."""
        h = self.rows
        both(lambda: backward(self.first, dy[:h]), lambda: backward(self.second, dy[h:]))
        for param, shared in self.pairs:
            param.grad += shared.grad


def forward(ops: Sequence[Op], x: np.ndarray) -> np.ndarray:
    """``x`` through ``ops``, first to last (a plan's whole batch, or one half)."""
    for op in ops:
        x = op.forward(x)
    return x


def backward(ops: Sequence[Op], dy: np.ndarray | None) -> None:
    """``dy`` back through ``ops``, last to first, each setting its ``.grad``s."""
    for op in reversed(ops):
        dy = op.backward(dy)  # type: ignore[arg-type]  # None only out of the first op


def both(first: Callable[[], T], second: Callable[[], U]) -> tuple[T, U]:
    """``(first(), second())``, at once when OpenBLAS has two threads to give them.

    Then ``second`` runs on the worker thread while ``first`` runs here, with OpenBLAS held to
    one thread. Else (one BLAS thread; more than two, which the GEMMs use better than the
    halves would, though that is not measured here; no threadpoolctl; another thread's halves
    running) one after the other, on this thread. An error in either is raised once both ended.
    """
    blas = _blas()
    threads = [lib.num_threads for lib in blas.lib_controllers] if blas is not None else []
    if max(threads, default=1) != 2 or not _busy.acquire(blocking=False):
        return first(), second()
    try:
        with blas.limit(limits=1):
            future = _worker().submit(second)
            try:
                a = first()
            finally:
                _wait(future)  # the other half writes into kept arrays too
            return a, future.result()
    finally:
        _busy.release()


_busy = threading.Lock()
"""Held while two halves run at once: the BLAS limit is the process's, so one user at a time."""


def _wait(future: Future[Any]) -> None:
    """Wait until ``future`` has ended, even through Ctrl-C (raised again once it has)."""
    interrupted: BaseException | None = None
    while not future.done():
        try:
            future.exception()  # waits; the task's own error stays in the future
        except BaseException as e:  # a KeyboardInterrupt while waiting
            interrupted = e
    if interrupted is not None:
        raise interrupted


@functools.cache
def _blas() -> Any:
    """threadpoolctl's controller of the process's BLAS (found once), or None without it."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController().select(user_api="blas")


@functools.cache
def _worker() -> ThreadPoolExecutor:
    """The one worker thread that runs second halves, started on first use."""
    return ThreadPoolExecutor(1, thread_name_prefix="bareprop-half")
