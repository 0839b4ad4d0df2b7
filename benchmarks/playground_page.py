"""How often the playground page redraws while a spiral trains, in headless Chromium.

Starts the server on 127.0.0.1 (a free port), opens the page in Debian's Chromium through
Playwright, picks spiral, presses Play and counts, over ``--seconds``, the frames the page
received (server-sent events) and the frames it drew (its ``window.playground`` counters).
With ``--screenshot PNG`` it then presses Step, draws a digit and saves the whole page (the
README's docs/figures/playground.png); ``--model`` is the MODEL.npz for the drawing panel.

    PYTHONPATH=src python benchmarks/playground_page.py [--rounds 3] [--seconds 5]
        [--screenshot docs/figures/playground.png --model runs/default/model.npz]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from playwright.sync_api import sync_playwright

import bareprop as bp
from bareprop.playground.server import Server, bind, create_app
from bareprop.playground.session import Session

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update"]  # fmt: skip


def serve(model_path: str | None) -> str:
    model = bp.load(model_path) if model_path else None
    session = Session(file_model=model, file_label=model_path or "").start()
    closing = threading.Event()
    server = Server(create_app(session, closing), closing)
    sock = bind("127.0.0.1", 0)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def count(page, seconds: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Frames received and drawn per second while training runs."""
    read = "[window.playground.received, window.playground.frames]"
    r0, d0 = page.evaluate(read)
    time.sleep(seconds)
    r1, d1 = page.evaluate(read)
    return (r1 - r0) / seconds, (d1 - d0) / seconds


def draw_digit(page) -> None:  # type: ignore[no-untyped-def]
    """A '7' on the drawing canvas, stroke by stroke."""
    canvas = page.locator("[data-testid=draw]")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y, w = box["x"], box["y"], box["width"]
    points = [(0.25 + 0.025 * i, 0.22) for i in range(21)]
    points += [(0.75 - 0.018 * i, 0.22 + 0.032 * i) for i in range(1, 21)]
    page.mouse.move(x + w * points[0][0], y + w * points[0][1])
    page.mouse.down()
    for px, py in points[1:]:
        page.mouse.move(x + w * px, y + w * py)
    page.mouse.up()
    page.wait_for_function("/^[0-9]$/.test(document.getElementById('prediction').textContent)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--screenshot", default=None, metavar="PNG")
    parser.add_argument("--model", default=None, metavar="MODEL.npz")
    args = parser.parse_args()
    url = serve(args.model)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_function("window.playground.frames > 0")
        page.select_option("[data-testid=dataset]", "spiral")
        received, drawn = [], []
        for _ in range(args.rounds):
            page.click("[data-testid=reset]")
            page.click("[data-testid=play]")
            time.sleep(0.5)
            r, d = count(page, args.seconds)
            received.append(r)
            drawn.append(d)
            page.click("[data-testid=pause]")
        print(f"{args.rounds} rounds of {args.seconds:g} s on spiral (frames per second)\n")
        print("| | min | median | max |\n|---|---:|---:|---:|")
        for name, values in (("received (event stream)", received), ("drawn by the page", drawn)):
            print(f"| {name} | {min(values):.1f} | {statistics.median(values):.1f} | "
                  f"{max(values):.1f} |")  # fmt: skip
        if args.screenshot:
            page.click("[data-testid=reset]")
            page.click("[data-testid=play]")
            time.sleep(2.5)
            page.click("[data-testid=pause]")
            page.click("[data-testid=step]")
            page.wait_for_selector("#trace table")
            draw_digit(page)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=args.screenshot, full_page=True)
            print(f"\nwrote {args.screenshot}")
        browser.close()


if __name__ == "__main__":
    main()
