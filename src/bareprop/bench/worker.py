"""One benchmark measurement in a process of its own: ``python -m bareprop.bench.worker JOB``.

``JOB`` is a JSON object ``{"task", "config", "steps", "threads", "n_train", "synthetic"}``
(the last two optional: a subset of MNIST, or random data of its shape); the answer is
one JSON line on stdout. The caller fixes the thread count through the environment
(:data:`THREAD_VARIABLES`; NumPy reads it when first imported), and torch is told again.
"""

from __future__ import annotations

import json
import sys
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one task and return what it measured (``seconds``, ``steps``, ...)."""
    from bareprop.bench import contenders as c
    from bareprop.bench.parts import step_parts

    cfg = c.BenchConfig(**{**job["config"], "hidden": tuple(job["config"]["hidden"])})
    task, steps = job["task"], int(job["steps"])
    if task.startswith("torch"):
        import torch

        torch.set_num_threads(int(job["threads"]))
    x, y, x_test, _ = c.load_data(job.get("n_train"), synthetic=bool(job.get("synthetic")))
    tasks: dict[str, Any] = {
        "bareprop": lambda: c.bareprop_train(cfg, x, y, steps),
        "bareprop-numpy": lambda: _numpy_only(c.bareprop_train, cfg, x, y, steps),
        "torch": lambda: c.torch_train(cfg, x, y, steps),
        "torch-fused": lambda: c.torch_train(cfg, x, y, steps, fused=True),
        "sklearn": lambda: c.sklearn_train(cfg, x, y, steps),
        "gemms": lambda: c.gemms_alone(cfg, x, y, steps),
        "parts": lambda: {"parts": step_parts(cfg, x, y, steps)},
        "bareprop-predict": lambda: c.bareprop_predict(cfg, x_test, steps),
        "torch-predict": lambda: c.torch_predict(cfg, x_test, steps),
    }
    if task not in tasks:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(tasks)}")
    return dict(tasks[task]())


def _numpy_only(train: Any, *args: Any) -> dict[str, Any]:
    """``train(*args)`` with the compiled kernels off (see :mod:`bareprop.fast.kernels`)."""
    from bareprop.fast import kernels as _kernels

    _kernels.use(False)
    return dict(train(*args))


def main() -> None:
    job = json.loads(sys.argv[1])
    print(json.dumps(run_job(job)))


if __name__ == "__main__":
    main()
