"""A plan runs a CNN's batch as two halves on two threads (bareprop.fast.halves): the same
floats with one thread or two, and the whole batch's to rounding (float64: rtol 1e-12); layers
that mix the images of a batch (batch norm) or keep state (dropout) keep batches whole."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

import bareprop as bp
from bareprop.fast import halves
from bareprop.fast.plan import Plan

threadpool_limits = pytest.importorskip("threadpoolctl").threadpool_limits
needs_blas_control = pytest.mark.skipif(
    not halves._blas().lib_controllers, reason="threadpoolctl finds no BLAS it can limit here"
)

F64 = np.float64


def small_cnn(seed: int = 0, dtype: Any = F64) -> bp.Sequential:
    return bp.build_cnn((1, 12, 12), 4, rng=np.random.default_rng(seed), dtype=dtype)


def batch(n: int, dtype: Any = F64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n)
    return rng.uniform(0, 1, (n, 1, 12, 12)).astype(dtype), rng.integers(0, 4, n)


def train_plan(model: bp.Sequential, *, split: bool) -> Plan:
    plan = Plan(model, bp.SoftmaxCrossEntropy(), bp.Adam(model.parameters(), lr=0.01))
    if not split:
        plan.halves = None
    return plan


def steps(plan: Plan, x: np.ndarray, y: np.ndarray, k: int) -> list[float]:
    losses = []
    for _ in range(k):
        losses.append(plan.loss_forward(plan.forward(x), y))
        plan.backward()
        plan.step()
    return losses


def test_only_cnns_of_per_image_layers_run_in_halves() -> None:
    assert Plan(small_cnn()).halves is not None
    assert Plan(bp.build_mlp(8, [4], 2)).halves is None  # no convolution: OpenBLAS's threads
    assert Plan(bp.build_cnn((1, 12, 12), 4, batch_norm=True)).halves is None  # batch statistics
    with_dropout = bp.Sequential([*small_cnn().flat()[:-1], bp.Dropout(0.5), bp.Linear(128, 4)])
    assert Plan(with_dropout).halves is None  # its masks come from one generator, in order


@pytest.mark.parametrize("n", [16, 33, 64])
def test_halves_give_the_whole_batchs_output_and_gradients(n: int) -> None:
    """One step, halves against the whole batch at once (an odd batch splits 16 + 17)."""
    x, y = batch(n)
    results = []
    for split in (True, False):
        model = small_cnn()
        plan = train_plan(model, split=split)
        out = plan.forward(x).copy()
        loss = plan.loss_forward(out, y)
        plan.backward()
        assert (plan._halved is not None) is split
        results.append((out, loss, [p.grad.copy() for p in model.parameters()]))
    (out, loss, grads), (whole_out, whole_loss, whole_grads) = results
    np.testing.assert_allclose(out, whole_out, rtol=1e-12, atol=1e-15)
    assert loss == pytest.approx(whole_loss, rel=1e-12)
    for g, w in zip(grads, whole_grads, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


def test_training_in_halves_follows_the_whole_batch_trajectory() -> None:
    """Ten Adam steps: the second half reads the weights each step moves (through its shared
    parameters), so both runs stay together."""
    x, y = batch(32)
    split, whole = small_cnn(), small_cnn()
    split_losses = steps(train_plan(split, split=True), x, y, 10)
    whole_losses = steps(train_plan(whole, split=False), x, y, 10)
    np.testing.assert_allclose(split_losses, whole_losses, rtol=1e-11)
    assert split_losses[-1] < split_losses[0] / 2  # it learned
    for (name, a), b in zip(split.named_parameters(), whole.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, F64])
def test_the_floats_do_not_depend_on_the_threads(dtype: Any) -> None:
    """The halves one after the other (one BLAS thread) and at once (two): equal floats."""
    x, y = batch(48, dtype)
    runs = []
    for threads in (1, 2):
        model = small_cnn(dtype=dtype)
        with threadpool_limits(threads, user_api="blas"):
            losses = steps(train_plan(model, split=True), x, y, 3)
        runs.append((losses, [p.data.copy() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


@needs_blas_control
def test_the_second_half_runs_on_the_worker_thread_while_blas_has_one() -> None:
    seen: dict[str, Any] = {}

    def second() -> None:
        seen["thread"] = threading.current_thread().name
        seen["blas"] = [lib.num_threads for lib in halves._blas().lib_controllers]

    with threadpool_limits(2, user_api="blas"):
        assert halves.both(lambda: threading.current_thread().name, second)[0] == "MainThread"
        assert [lib.num_threads for lib in halves._blas().lib_controllers] == [2] * len(
            seen["blas"]
        )  # given back after
    assert seen["thread"].startswith("bareprop-half")
    assert set(seen["blas"]) == {1}
    for threads in (1, 3):  # one BLAS thread asked for, or more than the halves would use
        with threadpool_limits(threads, user_api="blas"):
            halves.both(lambda: None, second)
        assert seen["thread"] == "MainThread"


def test_without_threadpoolctl_the_halves_run_one_after_the_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(halves, "_blas", lambda: None)
    names = halves.both(*[lambda: threading.current_thread().name] * 2)
    assert names == ("MainThread", "MainThread")


@needs_blas_control
def test_another_threads_halves_wait_their_turn_for_the_blas_limit() -> None:
    """Two plans in two threads: only one holds OpenBLAS to one thread at a time, so neither
    restores the other's limit; the other runs its halves one after the other meanwhile."""
    inner: list[str] = []
    with threadpool_limits(2, user_api="blas"):
        outer = halves.both(
            lambda: halves.both(*[lambda: inner.append(threading.current_thread().name)] * 2),
            lambda: None,
        )
        assert outer == ((None, None), None)
        assert inner == ["MainThread", "MainThread"]  # the lock was taken: not at once
        assert {lib.num_threads for lib in halves._blas().lib_controllers} == {2}


def test_a_parameter_used_twice_has_one_twin() -> None:
    conv = bp.Conv2d(1, 1, 3, dtype=F64)
    twins, pairs = halves.twin_layers([conv, bp.ReLU(), conv])
    assert len(pairs) == 2  # weight and bias, once each
    assert twins[0].weight is twins[2].weight is pairs[0][1]


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
@pytest.mark.parametrize("threads", [1, 2])
def test_an_error_in_either_half_is_raised_after_both_ended(
    threads: int, error: type[BaseException]
) -> None:
    ended: list[str] = []

    def fails(name: str) -> None:
        ended.append(name)
        raise error(f"{name} failed")

    def slow() -> None:
        threading.Event().wait(0.05)
        ended.append("second")

    with threadpool_limits(threads, user_api="blas"):
        with pytest.raises(error, match="first failed"):
            halves.both(lambda: fails("first"), slow)
        # at once: the worker's half ended before the error left; one after the other: the
        # second never started
        assert ended == (["first", "second"] if threads == 2 else ["first"])
        with pytest.raises(error, match="second failed"):
            halves.both(lambda: None, lambda: fails("second"))


def test_a_small_batch_runs_whole() -> None:
    plan = train_plan(small_cnn(), split=True)
    x, y = batch(halves.MIN_ROWS - 1)
    plan.loss_forward(plan.forward(x), y)
    plan.backward()
    assert plan._halved is None


def test_fit_trains_a_cnn_in_halves_as_whole_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """``fit`` (batch 32, the last batch 16): halves or whole, the same history to rounding."""
    x, y = batch(80)

    def history() -> dict[str, list[float]]:
        model = small_cnn()
        return bp.fit(model, x, y, loss=bp.SoftmaxCrossEntropy(),
                      optimizer=bp.SGD(model.parameters(), lr=0.1, momentum=0.9), epochs=3,
                      batch_size=32, rng=np.random.default_rng(0), verbose=0)  # fmt: skip

    rows: list[int] = []
    forward = halves.Halves.forward
    monkeypatch.setattr(halves.Halves, "forward", lambda h, x: rows.append(len(x)) or forward(h, x))
    split = history()
    assert {32, 16} <= set(rows)  # the batches ran in halves
    monkeypatch.setattr("bareprop.fast.plan.MIN_ROWS", 10**9)  # every batch whole
    rows.clear()
    whole = history()
    assert not rows
    np.testing.assert_allclose(split["loss"], whole["loss"], rtol=1e-11)
    assert split["accuracy"] == whole["accuracy"]
