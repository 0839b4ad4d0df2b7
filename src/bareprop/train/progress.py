"""What ``fit(verbose=1)`` shows: a progress bar within each epoch, then one line per epoch.

An edge module: it imports rich, which the core never does.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)


def format_epoch(epoch: int, epochs: int, logs: dict[str, float]) -> str:
    """``epoch  3/10  loss 0.1234  acc 96.12%  val_loss 0.1100  val_acc 96.80%  1.2s``."""
    width = len(str(epochs))
    parts = [
        f"epoch {epoch + 1:>{width}}/{epochs}",
        f"loss {logs['loss']:.4f}",
        f"acc {100 * logs['accuracy']:.2f}%",
    ]
    if "val_loss" in logs:
        parts += [f"val_loss {logs['val_loss']:.4f}", f"val_acc {100 * logs['val_accuracy']:.2f}%"]
    parts.append(f"{logs['seconds']:.1f}s")
    return "  ".join(parts)


class EpochReporter:
    """A transient rich progress bar per epoch (only on a terminal) and a printed line after it."""

    def __init__(self, epochs: int, steps_per_epoch: int, console: Console | None = None) -> None:
        self.epochs = epochs
        self.steps = steps_per_epoch
        self.console = console or Console(highlight=False)
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        # Refreshing a bar costs time; advance it in chunks of about 1% of an epoch.
        self._every = max(1, steps_per_epoch // 100)
        self._pending = 0

    def start_epoch(self, epoch: int, completed: int = 0) -> None:
        """Show the bar of ``epoch``, ``completed`` of its batches already done (a resumed run)."""
        if not self.console.is_terminal:
            return
        self._progress = Progress(
            TextColumn(f"epoch {epoch + 1}/{self.epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=self.steps, completed=completed)
        self._pending = 0

    def advance(self) -> None:
        if self._progress is None:
            return
        self._pending += 1
        if self._pending >= self._every:
            self._progress.advance(self._task, self._pending)  # type: ignore[arg-type]
            self._pending = 0

    def end_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self.console.print(format_epoch(epoch, self.epochs, logs))

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
