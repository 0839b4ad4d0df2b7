"""What ``bareprop experiment`` shows while it runs: which run of how many, its epochs, the ETA."""

from __future__ import annotations

import time
from typing import Any


class ExperimentProgress:
    """Which run of how many, its epochs, and the ETA, with rich; one printed line per run.

    The live bar is drawn only on an interactive terminal: elsewhere (a pipe, a file) rich would
    print its last frame when it stops, a stray half-finished bar before the results table.
    """

    def __init__(self, total_epochs: int, parallel: bool = False, console: Any = None) -> None:
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
        self.started = time.perf_counter()
        self.done_epochs = 0
        self.finished = 0
        self.parallel = parallel  # runs elsewhere report no epochs, only their end
        self.total = total_epochs
        self.progress.start()

    def start(self, i: int, n: int, job: Any, seed: int) -> None:
        self.label = f"run {i + 1}/{n}: {job.config} seed {seed}"
        self.progress.update(self.task, description=self.label)

    def epoch(self) -> None:
        self.done_epochs += 1
        self.progress.advance(self.task)

    def finish(self, record: Any, i: int, n: int) -> None:
        row = record.row
        self.label = f"run {i + 1}/{n}: {record.job.config} seed {record.seed}"
        self.finished += 1
        if self.parallel:  # runs in other processes report no epochs: count them when they end
            self.done_epochs += len(record.history["test_accuracy"])
            self.progress.update(self.task, completed=self.done_epochs)
            self.progress.update(self.task, description=f"{self.finished}/{n} runs done")
        elapsed = time.perf_counter() - self.started
        eta = elapsed / max(self.done_epochs, 1) * max(self.total - self.done_epochs, 0)
        self.console.print(
            f"{self.label}: test {100 * row['test_accuracy']:.2f}% "
            f"(best {100 * row['best_test_accuracy']:.2f}% at epoch {row['best_epoch']}), "
            f"{row['seconds_per_epoch']:.2f} s/epoch; "
            f"elapsed {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min",
            soft_wrap=True,
        )

    def close(self) -> None:
        self.progress.stop()
