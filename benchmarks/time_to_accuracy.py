"""Time to 98.0% test accuracy: ``bareprop train``'s default recipe, and PyTorch on the same one.

Both get the same data split, the same initial weights (bareprop's, copied into torch), the
same shuffling order, Adam with the same cosine learning-rate decay per step, and validation
after every epoch. The clock counts training (with the validation pass); the test-set
evaluation after each epoch that says when 98.0% is reached is not counted. Each contender
runs in its own process; rounds alternate between them.

Also: the wall time and peak RSS of the real command ``bareprop train --quiet`` (default run,
plots included), from ``getrusage(RUSAGE_CHILDREN)``.

    python benchmarks/time_to_accuracy.py [--rounds 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

TARGET = 0.98


def run_bareprop() -> list[dict[str, float]]:
    import bareprop as bp
    from bareprop.train.config import TrainConfig
    from bareprop.train.run import build, fit_config, load_data, seeded_rngs

    config = TrainConfig()
    rngs = seeded_rngs(config.seed)
    data = load_data(config, rngs["split"])
    model, loss, optimizer = build(config, data.x_train.shape[1:], data.n_classes, rngs)
    return _epochs_with_test(
        lambda cb: fit_config(config, data, model, loss, optimizer, rngs, callbacks=[cb]),
        lambda: bp.evaluate(model, data.x_test, data.y_test)["accuracy"],
    )


def run_torch() -> list[dict[str, float]]:
    import torch

    from bareprop.optim.schedules import get_schedule
    from bareprop.train.config import TrainConfig
    from bareprop.train.run import build, load_data, seeded_rngs

    config = TrainConfig()
    rngs = seeded_rngs(config.seed)
    data = load_data(config, rngs["split"])
    bp_model, _, _ = build(config, data.x_train.shape[1:], data.n_classes, rngs)
    layers: list[Any] = []
    for lin in bp_model.linears:  # the same initial weights (torch keeps the transpose)
        t = torch.nn.Linear(lin.in_features, lin.out_features)
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(lin.weight.data.T.copy()))
            t.bias.copy_(torch.from_numpy(lin.bias.data))
        layers += [t, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    n, bs = len(data.x_train), config.batch_size
    total = config.epochs * -(-n // bs)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: get_schedule(config.lr_schedule)(s, total)
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    x_val, y_val = torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)
    x_test, y_test = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)

    def accuracy(xs: Any, ys: Any) -> float:
        with torch.inference_mode():
            return float((model(xs).argmax(1) == ys).float().mean())

    def train(callback: Any) -> None:
        for epoch in range(config.epochs):
            order = torch.from_numpy(rngs["shuffle"].permutation(n))
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                opt.zero_grad()
                loss = loss_fn(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
                sched.step()
            accuracy(x_val, y_val)  # as fit's validation pass
            callback.on_epoch_end(epoch, {})

    return _epochs_with_test(train, lambda: accuracy(x_test, y_test))


def _epochs_with_test(train: Any, test_accuracy: Any) -> list[dict[str, float]]:
    """Run ``train(callback)``; after each epoch, the training seconds so far and test accuracy."""
    records: list[dict[str, float]] = []
    excluded = 0.0

    class Probe:
        def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
            nonlocal excluded
            t = time.perf_counter()
            records.append({"seconds": t - start - excluded, "test_accuracy": test_accuracy()})
            excluded += time.perf_counter() - t

    start = time.perf_counter()
    train(Probe())
    return records


def default_train_command(env: dict[str, str]) -> dict[str, Any]:
    """Wall time and peak RSS of ``bareprop train --quiet`` (the default run) in a child.

    Run from a process of its own (``--measure-train``), so that ``RUSAGE_CHILDREN`` sees
    only that child.
    """
    cmd = [sys.executable, __file__, "--measure-train"]
    return dict(
        json.loads(subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout)
    )


def _measure_train() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "bareprop.cli", "train", "--quiet", "--out", f"{tmp}/run"],
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "wall_seconds": wall,
        "peak_rss_mb": rss_mb,
        "last_line": out.stdout.strip().splitlines()[-1],
    }


def _first_at_target(records: list[dict[str, float]]) -> tuple[float, int]:
    for i, r in enumerate(records):
        if r["test_accuracy"] >= TARGET:
            return r["seconds"], i + 1
    return float("nan"), 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", choices=["bareprop", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--measure-train", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_train:
        print(json.dumps(_measure_train()))
        return
    if args.worker:
        if args.worker == "torch":
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(run_bareprop() if args.worker == "bareprop" else run_torch()))
        return
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(args.threads),
        OPENBLAS_NUM_THREADS=str(args.threads),
        MKL_NUM_THREADS=str(args.threads),
    )
    results: dict[str, list[tuple[float, int, float]]] = {"bareprop": [], "torch": []}
    for r in range(args.rounds):
        for who in ("bareprop", "torch") if r % 2 == 0 else ("torch", "bareprop"):
            cmd = [sys.executable, __file__, "--worker", who, "--threads", str(args.threads)]
            records = json.loads(
                subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
            )
            seconds, epoch = _first_at_target(records)
            results[who].append((seconds, epoch, records[-1]["test_accuracy"]))
            print(
                f"round {r + 1}: {who:8s} "
                + "  ".join(
                    f"e{i + 1} {rec['seconds']:.1f}s {100 * rec['test_accuracy']:.2f}%"
                    for i, rec in enumerate(records)
                ),
                flush=True,
            )
    head = f"time to {100 * TARGET:.1f}% (median, min-max, s)"
    print(f"\n| contender | {head} | epoch reached | final test accuracy |")
    print("|---|---|---|---|")
    for who, rows in results.items():
        secs = [s for s, _, _ in rows]
        print(
            f"| {who} | {np.median(secs):.2f} ({min(secs):.2f}-{max(secs):.2f}) | {rows[0][1]} | "
            f"{100 * np.median([a for _, _, a in rows]):.2f}% |"
        )
    variants = {"as installed": env}
    if importlib.util.find_spec("numba") is not None:
        variants["NumPy only (BAREPROP_NUMBA=0)"] = dict(env, BAREPROP_NUMBA="0")
    for name, variant_env in variants.items():
        m = default_train_command(variant_env)
        print(
            f"`bareprop train --quiet` (default run, plots included), {name}: "
            f"{m['wall_seconds']:.1f} s wall, peak RSS {m['peak_rss_mb']:.0f} MB, {m['last_line']}"
        )
    if hasattr(os, "getloadavg"):
        print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
