"""The CNN layers, readable against fast against torch, on the reference CNN's shapes.

The reference CNN: conv 32 3x3, ReLU, max-pool 2, conv 64 3x3, ReLU, max-pool 2, flatten,
linear 128, ReLU, linear 10; batch 128, float32. For each of its conv and pool layers, the
forward and the backward of the readable layer (NCHW), of the fast path (channels-last, in
a workspace) and of torch's ``Conv2d``/``MaxPool2d`` (eager, NCHW), then one whole training
step (SGD) each way. Everything runs in this one process, taking turns round after round;
each figure is the best of the rounds. torch gets as many threads as NumPy's BLAS.

The first conv's input gradient is skipped where it can be, as in training: torch does not
compute it (the input does not require grad), the fast path is told ``need_dx=False``; the
readable layer always computes it.

    python benchmarks/cnn_layers.py [--rounds 15] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

import bareprop as bp
from bareprop.fast.cnn import fast_backward, fast_forward
from bareprop.fast.workspace import Workspace, to_channels_last
from bareprop.nn import Conv2d, Flatten, MaxPool2d

N = 128
LAYERS: list[tuple[str, Callable[[np.random.Generator], Any], tuple[int, ...]]] = [
    ("conv 1->32 3x3", lambda rng: Conv2d(1, 32, 3, rng=rng), (N, 1, 28, 28)),
    ("maxpool 2 (32ch)", lambda rng: MaxPool2d(2), (N, 32, 26, 26)),
    ("conv 32->64 3x3", lambda rng: Conv2d(32, 64, 3, rng=rng), (N, 32, 13, 13)),
    ("maxpool 2 (64ch)", lambda rng: MaxPool2d(2), (N, 64, 11, 11)),
]


def timed(f: Callable[[], Any]) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def layer_runners(name: str, layer: Any, x: np.ndarray) -> dict[str, Callable[[], float]]:
    """Six closures, each running one forward or backward and returning its seconds."""
    first = name.startswith("conv 1->")
    rng = np.random.default_rng(1)
    dy = rng.standard_normal(layer.forward(x).shape).astype(np.float32)
    x_last, dy_last, ws = to_channels_last(x), to_channels_last(dy), Workspace()
    twin = torch.nn.Conv2d(layer.in_channels, layer.out_channels, 3) if isinstance(
        layer, Conv2d) else torch.nn.MaxPool2d(2)  # fmt: skip
    xt = torch.from_numpy(x).requires_grad_(not first)
    dyt = torch.from_numpy(dy)
    state: dict[str, Any] = {}

    def torch_forward() -> float:
        state["yt"] = None
        t = time.perf_counter()
        state["yt"] = twin(xt)
        return time.perf_counter() - t

    def torch_backward() -> float:
        twin.zero_grad(set_to_none=True)
        xt.grad = None
        return timed(lambda: state["yt"].backward(dyt))

    return {
        "readable fwd": lambda: timed(lambda: layer.forward(x)),
        "readable bwd": lambda: timed(lambda: layer.backward(dy)),
        "fast fwd": lambda: timed(lambda: fast_forward(layer, x_last, ws)),
        "fast bwd": lambda: timed(lambda: fast_backward(layer, dy_last, ws, need_dx=not first)),
        "torch fwd": torch_forward,
        "torch bwd": torch_backward,
    }


def reference_cnn(rng: np.random.Generator) -> list[Any]:
    return [
        Conv2d(1, 32, 3, rng=rng), bp.ReLU(), MaxPool2d(2), Conv2d(32, 64, 3, rng=rng),
        bp.ReLU(), MaxPool2d(2), Flatten(), bp.Linear(1600, 128, rng=rng), bp.ReLU(),
        bp.Linear(128, 10, rng=rng),
    ]  # fmt: skip


def step_runners(x: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], float]]:
    """One SGD training step of the reference CNN: readable, fast, torch."""
    from bareprop.check.twins import torch_twin

    readable, fast = (
        reference_cnn(np.random.default_rng(0)),
        reference_cnn(np.random.default_rng(0)),
    )
    loss = bp.SoftmaxCrossEntropy()
    opt_r = bp.SGD([p for layer in readable for p in layer.parameters()], lr=0.01)
    opt_f = bp.SGD([p for layer in fast for p in layer.parameters()], lr=0.01)
    spaces = [Workspace() for _ in fast]
    x_last = to_channels_last(x)  # one input channel: a reshape
    tmodel = torch.nn.Sequential(*(torch_twin(layer, torch) for layer in readable))
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.01)
    tloss = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def readable_step() -> None:
        out = x
        for layer in readable:
            out = layer.forward(out)
        loss.forward(out, y)
        dy = loss.backward()
        for layer in reversed(readable):
            dy = layer.backward(dy)
        opt_r.step()

    def fast_step() -> None:
        out = x_last
        for layer, ws in zip(fast, spaces, strict=True):
            out = fast_forward(layer, out, ws)
        loss.forward(out, y)
        dy: np.ndarray | None = loss.backward()
        for i in reversed(range(len(fast))):
            assert dy is not None  # only the first layer's dx is skipped
            dy = fast_backward(fast[i], dy, spaces[i], need_dx=i > 0)
        opt_f.step()

    def torch_step() -> None:
        topt.zero_grad()
        tloss(tmodel(xt), yt).backward()
        topt.step()

    return {
        "readable": lambda: timed(readable_step),
        "fast": lambda: timed(fast_step),
        "torch": lambda: timed(torch_step),
    }


def best_of(runners: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Each runner once per round, in turns; the best time of each, in ms."""
    best = dict.fromkeys(runners, float("inf"))
    for _ in range(rounds):
        for key, run in runners.items():
            best[key] = min(best[key], run())
    return {k: v * 1e3 for k, v in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="default: NumPy BLAS's")
    args = parser.parse_args()
    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    threads = args.threads or max(blas or [1])
    threadpool_limits(threads, user_api="blas")
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    print(f"batch {N}, float32, best of {args.rounds}; BLAS and torch threads: {threads}\n")
    cols = ["readable fwd", "fast fwd", "torch fwd", "readable bwd", "fast bwd", "torch bwd"]
    print(f"{'layer (ms)':<18}" + "".join(f"{c:>13}" for c in cols) + f"{'fast/torch':>12}")
    for name, factory, shape in LAYERS:
        layer = factory(rng)
        x = np.maximum(rng.standard_normal(shape), 0).astype(np.float32)  # as after a ReLU
        ms = best_of(layer_runners(name, layer, x), args.rounds)
        ratio = (ms["fast fwd"] + ms["fast bwd"]) / (ms["torch fwd"] + ms["torch bwd"])
        print(f"{name:<18}" + "".join(f"{ms[c]:>13.2f}" for c in cols) + f"{ratio:>11.2f}x")
    x = rng.standard_normal((N, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, N)
    ms = best_of(step_runners(x, y), max(3, args.rounds // 2))
    print("\nreference CNN, one SGD step (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in ms.items()))
    print(f"fast / torch: {ms['fast'] / ms['torch']:.2f}x, readable / fast: "
          f"{ms['readable'] / ms['fast']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
