"""Experiments on a Dask distributed cluster: each run of the plan is one Dask task.

Needs the ``distributed`` extra (``pip install 'bareprop[distributed]'``), imported only when a
:class:`DaskCluster` runs. Start a scheduler and workers with Dask's own commands
(``dask scheduler``, ``dask worker tcp://HOST:8786 --nthreads 1``) and give the scheduler's
address; every worker needs the same bareprop installed, and the data where the grid says.

What happens to a run: the client sends ``(token, rebuild, task)`` (plain data: the grid or
the preset's options, never a closure); the worker builds the jobs once, trains, writes the
run's folder *on its own file system* (the client's absolute ``--out`` path) and returns the
per-epoch history, from which the client writes ``results.csv``. A worker that dies mid-run
loses the run to the scheduler, which gives it to another worker (up to Dask's
``distributed.scheduler.allowed-failures`` times, 3 by default); the client keeps exactly one
result per run and releases it at once (so a run already finished is not run again when its
worker dies later), so nothing is lost and no row is duplicated.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bareprop.lab.runners import History, Plan, Rebuild, Task, run_task, tasks

CONNECT_TIMEOUT = 10.0  # seconds to wait for the scheduler before giving up


def _connect(address: str, timeout: float) -> Any:
    """A ``distributed.Client`` on ``address``; one clear error if Dask is missing or the
    scheduler does not answer."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError(
            "--scheduler needs Dask's distributed scheduler: pip install 'bareprop[distributed]'"
        ) from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        reason = "" if "timed out" in first.lower() else f" ({first})"
        raise ValueError(
            f"no Dask scheduler answered at {address} within {timeout:g} s{reason}; "
            f"start one with `dask scheduler` and give its tcp://HOST:PORT"
        ) from None


def _run_on_worker(token: str, rebuild: Rebuild, task: Task) -> tuple[int, History]:
    """The Dask task: runs where the scheduler puts it, says so in ``run.json``."""
    import socket

    from distributed import get_worker

    return run_task(token, rebuild, task, f"{socket.gethostname()} {get_worker().address}")


class DaskCluster:
    """Runs a plan on the Dask cluster whose scheduler is at ``address`` (``tcp://HOST:PORT``).

    Args:
        rebuild: a picklable function returning the jobs (see :mod:`bareprop.lab.runners`).
        timeout: seconds to wait for the scheduler.
    """

    def __init__(self, address: str, rebuild: Rebuild, timeout: float = CONNECT_TIMEOUT) -> None:
        if "://" not in address:
            address = f"tcp://{address}"  # as Dask reads HOST:PORT
        if not re.fullmatch(r"[a-z]+://\[?[\w.:-]*\]?:\d+", address):
            raise ValueError(f"--scheduler takes tcp://HOST:PORT, got {address!r}")
        if not timeout > 0:
            raise ValueError(f"--connect-timeout must be positive, got {timeout}")
        self.address, self.rebuild, self.timeout = address, rebuild, timeout
        self.client: Any = None

    def connect(self) -> None:
        """Reach the scheduler now (a ValueError in one line if it does not answer); else
        :meth:`histories` connects."""
        if self.client is None:
            self.client = _connect(self.address, self.timeout)

    def histories(
        self, plan: Plan, show: Any, out_dir: Path | None
    ) -> Iterator[tuple[int, History]]:
        from distributed import KilledWorker, as_completed

        self.connect()
        client, self.client = self.client, None  # closed below: one plan per connection
        token = uuid.uuid4().hex[:12]
        try:
            if show is not None:
                show.start(0, len(plan), plan[0][1], plan[0][2])
            futures = {}
            for task in tasks(plan, out_dir):
                key = f"bareprop-{task.config}-seed{task.seed}-{token}"
                future = client.submit(
                    _run_on_worker, token, self.rebuild, task, key=key, pure=False
                )
                futures[future] = task
            for future in as_completed(futures, loop=client.loop):
                task = futures.pop(future)
                try:
                    result = future.result()
                except (KilledWorker, OSError, ValueError, TypeError) as e:
                    raise ValueError(
                        f"run {task.config} seed {task.seed} failed on the cluster: {e}"
                    ) from None
                # Let the scheduler forget a finished run: a result still wanted when its
                # worker dies would be computed again.
                future.release()
                yield result
        finally:
            client.close()
