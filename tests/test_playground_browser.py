"""The playground page in headless Chromium (Playwright), against a real server on 127.0.0.1.

Debian's Chromium, never a browser that Playwright downloads. Skipped where Chromium is
missing, unless BAREPROP_REQUIRE_CHROMIUM is set (as .ci/run does), as in test_report.py.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

import bareprop as bp  # noqa: E402
from bareprop.playground.server import Server, bind, create_app  # noqa: E402
from bareprop.playground.session import Session  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
TIMEOUT_MS = 15_000


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("BAREPROP_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required (BAREPROP_REQUIRE_CHROMIUM is set) but not installed")
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    return path


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A playground server in a thread, on a free port of 127.0.0.1, with a MODEL.npz."""
    path = tmp_path_factory.mktemp("playground") / "model.npz"
    bp.save(bp.build_mlp(784, [16], 10, rng=np.random.default_rng(0)), path)
    session = Session(file_model=bp.load(path), file_label=str(path)).start()
    closing = threading.Event()
    server = Server(create_app(session, closing), closing)
    sock = bind("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        closing.set()
        server.should_exit = True
        thread.join(10)
        session.close()
        sock.close()


@pytest.fixture(scope="module")
def page(url: str) -> Iterator[tuple[Any, list[str]]]:
    """The page, loaded, and the list its console errors go to."""
    executable = chromium()
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(TIMEOUT_MS)
        pg.on("console", lambda m: errors.append(m.text) if is_js_error(m) else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(url)
        pg.wait_for_function("window.playground.frames > 0")
        try:
            yield pg, errors
        finally:
            browser.close()


def is_js_error(message: Any) -> bool:
    """A console error, less the network log's line for a 400 (a bad value, answered)."""
    return message.type == "error" and "status of 400" not in message.text


def shown_loss(pg: Any) -> float:
    return float(pg.text_content("[data-testid=loss]"))


def boundary(pg: Any) -> str:
    return pg.eval_on_selector("#boundary", "c => c.toDataURL()")


def test_pick_spiral_play_and_watch_loss_and_boundary(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    pg.select_option("[data-testid=dataset]", "moons")
    pg.wait_for_function("window.playground.latest.settings.dataset === 'moons'")
    pg.select_option("[data-testid=dataset]", "spiral")
    pg.wait_for_function(
        "(f => f.settings.dataset === 'spiral' && f.step === 0)(window.playground.latest)"
    )
    pg.wait_for_function("document.querySelector('[data-testid=loss]').textContent !== '-'")
    before, image = shown_loss(pg), boundary(pg)
    pg.click("[data-testid=play]")
    pg.wait_for_function(
        f"parseFloat(document.querySelector('[data-testid=loss]').textContent) < {0.6 * before}"
    )
    pg.click("[data-testid=pause]")
    pg.wait_for_function("window.playground.latest.state === 'paused'")
    assert shown_loss(pg) < 0.6 * before
    assert boundary(pg) != image


def test_step_opens_one_batch_up(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    pg.click("[data-testid=step]")
    pg.wait_for_selector("#trace table")
    text = pg.text_content("#trace")
    assert "z1 = x @ W1 + b1" in text and "dW1 = x.T @ delta1" in text
    assert re.match(r"Step \d+: training sample", pg.text_content("#trace-title"))


def test_draw_a_digit_and_see_a_prediction(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    canvas = pg.locator("[data-testid=draw]")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + 40
    pg.mouse.move(x, y)
    pg.mouse.down()
    for i in range(1, 21):
        pg.mouse.move(x - 10 + i, y + 10 * i)
    pg.mouse.up()
    pg.wait_for_function(
        "/^[0-9]$/.test(document.querySelector('[data-testid=prediction]').textContent)"
    )
    assert pg.locator("#probs .bar").count() == 10
    assert "model.npz" in pg.text_content("#draw-model-label")


def test_a_bad_learning_rate_gets_a_message(page: tuple[Any, list[str]]) -> None:
    pg, _ = page
    lr = pg.locator("[data-testid=lr]")
    lr.fill("-1")
    lr.press("Enter")
    error = pg.locator("[data-testid=error]")
    error.wait_for(state="visible")
    assert "lr must be a finite positive number, got -1.0" in error.text_content()
    pg.click("[data-testid=step]")  # the server goes on; a good action clears the message
    error.wait_for(state="hidden")


def test_no_javascript_errors(page: tuple[Any, list[str]]) -> None:
    pg, errors = page
    pg.reload()
    pg.wait_for_function("window.playground.frames > 0")
    assert errors == []


def test_readme_screenshot_is_in_the_repository() -> None:
    shot = Path(__file__).parents[1] / "docs" / "figures" / "playground.png"
    assert shot.stat().st_size > 10_000
