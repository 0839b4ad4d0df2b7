"""What ``bareprop experiment`` shows while it runs: which run of how many, its epochs, the ETA."""

from __future__ import annotations

import time
from typing import Any


class ExperimentProgress:
    """Which run of how many, its epochs, and the ETA, with rich; one printed line per run.

    The live bar is drawn only on an interactive terminal: elsewhere (a pipe, a file) rich would
    print its last frame when it stops, a stray half-finished bar before the results table.
    There a plain line says where the run is, at most every ``log_every`` seconds, at the end of
    an epoch: a long run (``--preset best-cnn``, 8 minutes) is otherwise silent until it ends.
    """

    def __init__(
        self,
        total_epochs: int,
        parallel: bool = False,
        console: Any = None,
        log_every: float = 30.0,
    ) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = console or Console(highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("epochs {task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.console.is_interactive,
        )
        self.task = self.progress.add_task("", total=total_epochs)
        self.started = self.logged = time.perf_counter()
        self.log_every = log_every
        self.run_epochs = 0
        self.done_epochs = 0
        self.finished = 0
        self.parallel = parallel  # runs elsewhere report no epochs, only their end
        self.total = total_epochs
        self.progress.start()

    def start(self, i: int, n: int, job: Any, seed: int) -> None:
        self.label = f"run {i + 1}/{n}: {job.config} seed {seed}"
        self.run_epochs = 0
        self.progress.update(self.task, description=self.label)

    def epoch(self) -> None:
        self.done_epochs += 1
        self.run_epochs += 1
        self.progress.advance(self.task)
        now = time.perf_counter()
        if not self.console.is_interactive and now - self.logged >= self.log_every:
            self.logged = now
            self.console.print(
                f"{self.label}: epoch {self.run_epochs} done; {self.done_epochs}/{self.total} "
                f"epochs in all, {self._times(now)}",
                soft_wrap=True,
            )

    def _times(self, now: float) -> str:
        elapsed = now - self.started
        eta = elapsed / max(self.done_epochs, 1) * max(self.total - self.done_epochs, 0)
        return f"elapsed {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min"

    def finish(self, record: Any, i: int, n: int) -> None:
        row = record.row
        self.label = f"run {i + 1}/{n}: {record.job.config} seed {record.seed}"
        self.finished += 1
        if self.parallel:  # runs in other processes report no epochs: count them when they end
            self.done_epochs += len(record.history["test_accuracy"])
            self.progress.update(self.task, completed=self.done_epochs)
            self.progress.update(self.task, description=f"{self.finished}/{n} runs done")
        self.console.print(
            f"{self.label}: test {100 * row['test_accuracy']:.2f}% "
            f"(best {100 * row['best_test_accuracy']:.2f}% at epoch {row['best_epoch']}), "
            f"{row['seconds_per_epoch']:.2f} s/epoch; {self._times(time.perf_counter())}",
            soft_wrap=True,
        )

    def close(self) -> None:
        self.progress.stop()
