"""The playground's server API (Starlette's TestClient) and its command line."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")

from starlette.testclient import TestClient

import bareprop as bp
from bareprop.cli import main
from bareprop.playground.server import create_app
from bareprop.playground.session import Session
from bareprop.playground.settings import Settings


def wait_for(predicate, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def client() -> Iterator[TestClient]:
    session = Session(Settings(samples=200)).start()
    try:
        with TestClient(create_app(session)) as c:
            wait_for(lambda: c.get("/api/frame").json() != {})
            yield c
    finally:
        session.close()


def frame(c: TestClient) -> dict:
    return c.get("/api/frame").json()


def digit_png(size: int = 140) -> bytes:
    """A white '1' on black, as the page's canvas sends it."""
    from PIL import Image

    a = np.zeros((size, size), np.uint8)
    a[20:120, 62:78] = 255
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def test_page_and_assets_are_served(client: TestClient) -> None:
    page = client.get("/").text
    for testid in ["dataset", "play", "pause", "step", "reset", "loss", "lr", "error", "draw",
                   "prediction"]:  # fmt: skip
        assert f'data-testid="{testid}"' in page, testid
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from a CDN
    for asset in ["app.js", "style.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"]:
        assert client.get(f"/static/{asset}").status_code == 200, asset
    state = client.get("/api/state").json()
    assert {"spiral", "moons", "circles", "xor", "blobs", "mnist"} <= set(
        state["choices"]["dataset"]
    )
    assert state["data"]["kind"] == "2d" and len(state["data"]["train"]) == 140


def test_play_pause_step_and_the_trace(client: TestClient) -> None:
    first = frame(client)
    assert first["state"] == "paused" and first["step"] == 0
    assert client.post("/api/play").json() == {"ok": True}
    wait_for(lambda: frame(client)["step"] > 200)
    client.post("/api/pause")
    paused = frame(client)
    assert paused["state"] == "paused" and paused["metrics"]["loss"] < first["metrics"]["loss"]
    assert base64.b64decode(paused["boundary"]["pixels"]) != base64.b64decode(
        first["boundary"]["pixels"]
    )
    layer = paused["layers"][0]
    assert sum(layer["activation"]["counts"]) == 140 * 16 and layer["dead"] is not None
    assert layer["update_ratio"] > 0
    reply = client.post("/api/step").json()
    assert frame(client)["step"] == paused["step"] + 1
    trace = reply["trace"]
    assert trace["forward"][0][0] == "z1 = x @ W1 + b1" and trace["forward"][0][1] == "1x16"
    assert any(row[0].startswith("dW1 = x.T @ delta1") for row in trace["backward"])
    for _, analytic, numerical, _ in trace["probes"]:
        assert float(analytic) == pytest.approx(float(numerical), rel=1e-4, abs=1e-9)


def test_stream_sends_frames(client: TestClient) -> None:
    client.post("/api/play")
    with client.stream("GET", "/api/stream?frames=3") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert len(events) == 3
    assert events[0]["version"] < events[1]["version"] < events[2]["version"]
    client.post("/api/pause")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr": "-1"}, "lr must be a finite positive number, got -1.0"),
        ({"lr": "fast"}, "lr must be a number, got 'fast'"),
        ({"lr": 1e6}, "lr must be at most 10"),
        ({"hidden": ""}, "list at least one layer width"),
        ({"hidden": "16 0"}, "hidden layer width must be in"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"dropout": 1.5}, "dropout must be in"),
        ({"dataset": "cifar"}, "dataset must be one of"),
        ({"colour": 1}, "unknown setting"),
    ],
)
def test_bad_settings_get_a_message_and_the_server_keeps_serving(
    client: TestClient, changes: dict, message: str
) -> None:
    r = client.post("/api/settings", json=changes)
    assert r.status_code == 400 and message in r.json()["error"]
    assert message in frame(client)["error"]  # the page shows it until the next good action
    assert frame(client)["settings"] == Settings(samples=200).to_dict()  # nothing changed
    assert client.post("/api/step").status_code == 200
    assert frame(client)["error"] is None


def test_bodies_that_are_not_json(client: TestClient) -> None:
    r = client.post("/api/settings", content=b"{not json")
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    r = client.post("/api/draw", json={"image": "data:image/png;base64,@@@"})
    assert r.status_code == 400 and "base64" in r.json()["error"]
    assert client.post("/api/fly").status_code == 404


def test_live_changes_keep_the_weights_and_rebuilds_say_so(client: TestClient) -> None:
    client.post("/api/step")
    r = client.post("/api/settings", json={"lr": "0.05", "batch_size": "32"}).json()
    assert r["rebuilt"] is False and frame(client)["step"] == 1
    data_id = frame(client)["data_id"]
    r = client.post("/api/settings", json={"hidden": "8, 4"}).json()
    f = frame(client)
    assert r["rebuilt"] is True and f["step"] == 0 and f["data_id"] == data_id + 1
    assert "rebuilds the network" in f["notice"]
    assert [layer["name"] for layer in f["layers"]] == [
        "layer 1: Linear 2->8", "layer 2: Linear 8->4", "layer 3: Linear 4->2"
    ]  # fmt: skip


def test_divergence_stops_with_the_doctors_message(client: TestClient) -> None:
    client.post("/api/settings", json={"optimizer": "sgd", "lr": 10, "hidden": [64] * 4})
    client.post("/api/play")
    wait_for(lambda: frame(client)["error"] is not None)
    f = frame(client)
    assert f["state"] == "paused" and "the loss became nan" in f["error"]
    assert "try a lower learning rate" in f["error"]
    assert client.get("/").status_code == 200


def test_drawing_needs_a_digit_model(client: TestClient) -> None:
    r = client.post("/api/draw", json={"image": data_url(digit_png())})
    assert r.status_code == 400 and "choose the mnist data set" in r.json()["error"]


def test_drawing_with_mnist_and_with_a_model_file(tiny_data: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    saved = bp.build_mlp(784, [8], 10, rng=rng)
    bp.save(saved, tmp_path / "m.npz")
    model = bp.load(tmp_path / "m.npz")
    settings = Settings(dataset="mnist", hidden=[12])
    session = Session(settings, data_dir=str(tiny_data), file_model=model, file_label="m.npz")
    session.start()
    try:
        with TestClient(create_app(session)) as c:
            wait_for(lambda: c.get("/api/frame").json() != {})
            f = c.get("/api/frame").json()
            assert f["tiles"]["count"] == 12 and len(f["strip_pred"]) == 16
            assert c.get("/api/state").json()["data"]["kind"] == "mnist"
            for which, width, label in (("current", 12, "current network"), ("file", 8, "m.npz")):
                r = c.post("/api/draw", json={"image": data_url(digit_png()), "model": which})
                d = r.json()
                assert r.status_code == 200 and label in d["model"]
                assert 0 <= d["prediction"] <= 9 and sum(d["probabilities"]) == pytest.approx(
                    1, 1e-3
                )
                assert [len(h) for h in d["hidden"]] == [width]
                image = np.frombuffer(base64.b64decode(d["image"]), np.uint8).reshape(28, 28)
                assert image.max() == 255 and image[:, :8].max() == 0  # centred like MNIST
            r = c.post("/api/draw", json={"image": data_url(b"not a png")})
            assert r.status_code == 400 and "not a readable image" in r.json()["error"]
    finally:
        session.close()


# -- the command line ------------------------------------------------------------------------
def test_import_bareprop_and_the_cli_leave_the_server_out() -> None:
    code = (
        "import sys, bareprop, bareprop.data.mnist; from bareprop.cli import build_parser; "
        "build_parser(); print(sorted(m for m in ('starlette', 'uvicorn', 'httpx') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_the_extra_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now raises ImportError
    assert main(["playground", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'bareprop[playground]'" in err


def test_bad_model_file_and_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.npz").write_bytes(b"nope")
    assert main(["playground", str(tmp_path / "bad.npz"), "--no-browser", "--port", "0"]) == 2
    assert main(["playground", "--port", "70000", "--no-browser"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "not a model file" in err[0] and "--port" in err[1]


def get(url: str, method: str = "GET") -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as r:
        return json.loads(r.read())


def test_the_command_serves_and_ctrl_c_stops_it_cleanly() -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(bp.__file__).parents[1]))
    argv = [sys.executable, "-m", "bareprop.cli", "playground", "--port", "0", "--no-browser"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        wait_for(lambda: get(url.group(0) + "api/frame") != {})
        assert get(url.group(0) + "api/play", "POST") == {"ok": True}
        with urllib.request.urlopen(url.group(0) + "api/stream", timeout=5) as r:  # a page open
            assert r.readline().startswith(b"id: ")
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err and "stopped" in out
