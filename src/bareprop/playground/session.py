"""The training thread behind the page, and the frames it publishes.

One worker thread owns the model: it trains, and between steps it runs what the page asks
for (play, pause, step, reset, a new setting, a drawing to classify) from a queue. Every
1/15 s of training it publishes a frame, the page's whole live view as one JSON text. The
web server only reads the latest frame, so a slow browser misses frames and never slows the
training down.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

from bareprop.nn.sequential import Sequential
from bareprop.playground import data as datasets
from bareprop.playground import views
from bareprop.playground.settings import Settings, apply_changes, family
from bareprop.playground.trainer import Trainer
from bareprop.train.doctor import TrainingDiverged
from bareprop.train.fit import predict
from bareprop.train.run import seeded_rngs

MAX_POINTS = 4000  # curve points kept; past that, every other one is dropped
MAX_PERIOD = 0.25  # seconds of training between two frames, at most
CURVES = ("loss", "accuracy", "test_loss", "test_accuracy")


class Session:
    """The playground's state and its worker thread.

    Args:
        settings: the initial controls (defaults: a spiral).
        file_model: a model read from MODEL.npz, for the drawing panel; ``file_label`` names it.
        data_dir: where MNIST is read from (None: ``$BAREPROP_DATA`` or the bundled copy).
        hz: frames per second while training runs.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        file_model: Sequential | None = None,
        file_label: str = "",
        data_dir: str | None = None,
        hz: float = 15.0,
    ) -> None:
        self.settings = settings or Settings()
        self.file_model, self.file_label, self.data_dir = file_model, file_label, data_dir
        self.period = 1.0 / hz
        self._min_period = self.period
        self._cost = 0.0  # seconds a frame takes, averaged
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future]] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._frame_lock = threading.Lock()
        self._frame: tuple[int, str] = (0, "{}")
        self._mnist: datasets.PlayData | None = None
        self.running = False
        self.error: str | None = None
        self.notice: str | None = None
        self.data_id = 0
        self._rebuild()
        self._thread = threading.Thread(target=self._loop, name="bareprop-playground", daemon=True)

    # -- called from the server's threads -------------------------------------------------
    def start(self) -> Session:
        """Start the worker; it publishes the first frame at once."""
        self._thread.start()
        self.submit(lambda: None)
        return self

    def close(self, timeout: float = 5.0) -> None:
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def latest(self) -> tuple[int, str]:
        """``(version, JSON text)`` of the newest frame."""
        with self._frame_lock:
            return self._frame

    def submit(self, fn: Callable[[], Any]) -> Future:
        """Run ``fn`` on the worker thread between two steps; its result or error in a Future."""
        future: Future = Future()
        if self._closed.is_set():
            future.set_exception(RuntimeError("the playground is shutting down"))
        else:
            self._jobs.put((fn, future))
        return future

    def play(self) -> Future:
        return self.submit(self._play)

    def pause(self) -> Future:
        return self.submit(self._pause)

    def step(self) -> Future:
        return self.submit(self._step)

    def reset(self) -> Future:
        return self.submit(self._reset)

    def update(self, changes: Any) -> Future:
        return self.submit(lambda: self._update(changes))

    def state(self) -> Future:
        return self.submit(self._state)

    def draw(self, png: bytes, which: str) -> Future:
        return self.submit(lambda: self._draw(png, which))

    # -- the worker thread ----------------------------------------------------------------
    def _loop(self) -> None:
        # Overflow is no error here: the doctor looks at every loss and gradient itself.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            while not self._closed.is_set():
                self._run_jobs(wait=0.0 if self.running else 0.1)
                if self.running:
                    try:
                        self._train_for(self.period)
                        self._publish()
                    except Exception as e:  # a bug: stop training, say so, keep serving
                        self.running, self.error = False, f"internal error: {e!r}"
                        self._publish()

    def _run_jobs(self, wait: float) -> None:
        try:
            job = self._jobs.get(timeout=wait) if wait else self._jobs.get_nowait()
        except queue.Empty:
            return
        while True:
            fn, future = job
            if future.set_running_or_notify_cancel():
                result, error = None, None
                try:
                    result = fn()
                except Exception as e:  # the page shows it; the thread goes on
                    self.error, error = str(e), e
                self._publish()  # first, so that whoever waits on the job sees its frame
                if error is None:
                    future.set_result(result)
                else:
                    future.set_exception(error)
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return

    def _train_for(self, seconds: float) -> None:
        """Steps until ``seconds`` have passed or a job waits; the last one measures updates."""
        t, deadline = self.trainer, time.perf_counter() + seconds
        try:
            while True:
                last = time.perf_counter() >= deadline or not self._jobs.empty()
                if last:
                    t.doctor.before_last_step()  # for the update-to-weight ratio
                t.step()
                if last:
                    break
        except TrainingDiverged as e:
            self.running, self.error = False, str(e)

    def _rebuild(self) -> None:
        s = self.settings
        rngs = seeded_rngs(s.seed)
        if family(s.dataset) == "mnist":
            if self._mnist is None:
                self._mnist = datasets.mnist(rngs["split"], self.data_dir)
            data = self._mnist
        else:
            data = datasets.toy(s, rngs["split"])
        self.trainer = Trainer(s, data, rngs)
        self.running = False
        self.data_id += 1
        self.history: dict[str, list[float]] = {"step": [], **{k: [] for k in CURVES}}

    # -- the jobs -------------------------------------------------------------------------
    def _play(self) -> dict:
        self.running, self.error, self.notice = True, None, None
        return {"ok": True}

    def _pause(self) -> dict:
        self.running = False
        return {"ok": True}

    def _step(self) -> dict:
        """One batch, then the trace of its first sample through the updated network."""
        self.running, self.error, self.notice = False, None, None
        self._train_for(0.0)
        if self.error:
            return {"ok": False, "error": self.error}
        t = self.trainer
        i = t.last_index
        x = t.data.x_train[i : i + 1].astype(np.float64)
        y = t.data.y_train[i : i + 1]
        where = f"({x[0, 0]:.3f}, {x[0, 1]:.3f})" if t.data.kind == "2d" else "an MNIST image"
        title = (f"Step {t.steps}: training sample {i}, {where}, label {int(y[0])}; "
                 "the weights after this step, in float64")  # fmt: skip
        return {"ok": True, "trace": views.trace_view(t.model, x, y, title)}

    def _reset(self) -> dict:
        self._rebuild()
        self.error, self.notice = None, f"reset: new network, seed {self.settings.seed}"
        return {"ok": True}

    def _update(self, changes: Any) -> dict:
        settings, rebuild = apply_changes(self.settings, changes)
        self.settings = settings
        self.error = None
        if rebuild:
            self._rebuild()
            self.notice = "that change rebuilds the network: new weights, training paused"
        else:
            self.trainer.set_live(settings)
            self.notice = "applied to the running training"
        return {"ok": True, "rebuilt": rebuild, "settings": settings.to_dict()}

    def _draw(self, png: bytes, which: str) -> dict:
        model, label = self._draw_model(which)
        view = views.digit_view(model, views.read_drawing(png))
        return {"model": label, **view}

    def _draw_model(self, which: str) -> tuple[Sequential, str]:
        if which not in ("file", "current"):
            raise ValueError(f"model must be 'file' or 'current', got {which!r}")
        if which == "file" and self.file_model is not None:
            return self.file_model, self.file_label
        model = self.trainer.model
        if model.in_features != 784:
            raise ValueError(
                "the current network takes 2-D points, not digits: choose the mnist data set "
                "(or start bareprop playground with a MODEL.npz)"
            )
        return model, f"the current network (step {self.trainer.steps})"

    def _state(self) -> dict:
        return {"history": self.history, "data": self.trainer.data.payload(),
                "file_model": self.file_label or None}  # fmt: skip

    # -- frames ---------------------------------------------------------------------------
    def _record(self, metrics: dict[str, float]) -> None:
        h = self.history
        if h["step"] and h["step"][-1] == self.trainer.steps:
            return
        h["step"].append(self.trainer.steps)
        for key in CURVES:
            h[key].append(round(metrics[key], 6))
        if len(h["step"]) > MAX_POINTS:
            for key in h:
                h[key] = h[key][::2]

    def _publish(self) -> None:
        """Build the frame for the current weights and make it the latest."""
        start = time.perf_counter()
        t = self.trainer
        metrics = t.metrics()
        if np.isfinite(metrics["loss"]):
            self._record(metrics)
        frame: dict[str, Any] = {
            "state": "running" if self.running else "paused",
            "step": t.steps, "epoch": round(t.epochs_done, 3), "data_id": self.data_id,
            "settings": self.settings.to_dict(), "error": self.error, "notice": self.notice,
            "metrics": {k: (round(v, 6) if np.isfinite(v) else None) for k, v in metrics.items()},
            "layers": views.layer_views(t.model, t.doctor.probe, t.doctor.epoch_stats()),
        }  # fmt: skip
        if t.data.grid is not None:
            frame["boundary"] = views.boundary(t.model, t.data.grid)
        else:
            frame["tiles"] = views.weight_tiles(t.model)
            strip = t.data.x_test[t.data.strip]
            frame["strip_pred"] = predict(t.model, strip).tolist()
        with self._frame_lock:
            version = self._frame[0] + 1
            frame["version"] = version
            self._frame = (version, json.dumps(frame, allow_nan=False))
        # Frames take about a tenth of the time at most (their cost averaged over the last
        # few, so that one slow frame does not stall the page), and come 4 times a second
        # at least.
        self._cost = 0.7 * self._cost + 0.3 * (time.perf_counter() - start)
        self.period = min(MAX_PERIOD, max(self._min_period, 9 * self._cost))
