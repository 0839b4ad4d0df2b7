"""Training speed under ``bareprop playground`` against the same ``fit`` run headless.

The playground side is the real thing: the Starlette/uvicorn server on 127.0.0.1, a client
reading its event stream (as an open page does), and the training thread publishing frames
(metrics, decision boundary or weight tiles, per-layer histograms, the doctor's numbers)
about 15 times a second. The headless side is ``bareprop.fit`` on the same network, data,
optimiser and batch size (built by the same code), with nothing else running. Rounds are
interleaved; the table shows steps per second, best and median, and the slowdown.

    PYTHONPATH=src python benchmarks/playground_overhead.py [--rounds 5] [--seconds 2]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import urllib.request

import numpy as np

from bareprop.playground.server import Server, bind, create_app
from bareprop.playground.session import Session
from bareprop.playground.settings import Settings
from bareprop.playground.trainer import Trainer
from bareprop.train.fit import fit


def headless(settings: Settings, session: Session, seconds: float) -> float:
    """Steps per second of ``fit`` on the session's data set and a network built alike."""
    data = session.trainer.data
    steps_per_epoch = -(-len(data.x_train) // settings.batch_size)
    t = Trainer.from_settings(settings, data)
    start = time.perf_counter()  # one short epoch to size the run to about `seconds`
    fit(t.model, data.x_train, data.y_train, loss=t.loss, optimizer=t.optimizer, epochs=1,
        batch_size=settings.batch_size, rng=t.rng, verbose=0, lr_schedule="constant")  # fmt: skip
    epochs = max(1, round(seconds / (time.perf_counter() - start)))
    t = Trainer.from_settings(settings, data)
    start = time.perf_counter()
    fit(t.model, data.x_train, data.y_train, loss=t.loss, optimizer=t.optimizer, epochs=epochs,
        batch_size=settings.batch_size, rng=t.rng, verbose=0, lr_schedule="constant")  # fmt: skip
    return epochs * steps_per_epoch / (time.perf_counter() - start)


def under_playground(session: Session, seconds: float) -> tuple[float, float]:
    """Steps per second while the session plays, and frames per second it published."""
    session.reset().result()
    session.play().result()
    time.sleep(0.3)  # past the first frames
    steps0, version0, start = session.trainer.steps, session.latest()[0], time.perf_counter()
    time.sleep(seconds)
    steps1, version1, end = session.trainer.steps, session.latest()[0], time.perf_counter()
    session.pause().result()
    return (steps1 - steps0) / (end - start), (version1 - version0) / (end - start)


def reader(url: str, stop: threading.Event, counts: list[int]) -> None:
    """An open page: read the event stream, frame after frame."""
    with urllib.request.urlopen(url + "api/stream", timeout=30) as r:
        while not stop.is_set():
            if r.readline().startswith(b"data: "):
                counts[0] += 1


def measure(name: str, settings: Settings, rounds: int, seconds: float) -> None:
    session = Session(settings).start()
    session.state().result()
    closing = threading.Event()
    server = Server(create_app(session, closing), closing)
    sock = bind("127.0.0.1", 0)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    stop, counts = threading.Event(), [0]
    threading.Thread(target=reader, args=(url, stop, counts), daemon=True).start()
    fits, plays, fps = [], [], []
    for _ in range(rounds):  # interleaved: each round runs both, one after the other
        fits.append(headless(settings, session, seconds))
        rate, frames = under_playground(session, seconds)
        plays.append(rate)
        fps.append(frames)
    stop.set()
    closing.set()
    server.should_exit = True
    session.close()
    best = max(plays) / max(fits)
    median = statistics.median(plays) / statistics.median(fits)
    print(f"| {name} | {max(fits):,.0f} | {statistics.median(fits):,.0f} | {max(plays):,.0f} | "
          f"{statistics.median(plays):,.0f} | {100 * (1 - best):+.1f}% | "
          f"{100 * (1 - median):+.1f}% | {statistics.median(fps):.1f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--mnist", action="store_true", help="also MNIST (784-64-10, batch 64)")
    args = parser.parse_args()
    np.seterr(all="ignore")
    print(f"{args.rounds} interleaved rounds of about {args.seconds:g} s each; steps per second.\n")
    print("| data set | fit best | fit median | playground best | playground median "
          "| slowdown (best) | slowdown (median) | frames/s |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    measure("spiral, 2-16-16-2, batch 16, Adam", Settings(), args.rounds, args.seconds)
    if args.mnist:
        measure("MNIST, 784-64-10, batch 64, Adam", Settings(dataset="mnist", hidden=[64],
                batch_size=64, lr=0.002), args.rounds, args.seconds)  # fmt: skip


if __name__ == "__main__":
    main()
