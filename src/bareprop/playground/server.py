"""The playground's web server: Starlette routes over a :class:`Session`, run by uvicorn.

=====================  ====================================================================
``GET /``              the page (``static/index.html``; its scripts under ``/static/``)
``GET /api/state``     the choices and limits of each control, the data set, the curves
``GET /api/frame``     the latest frame (JSON)
``GET /api/stream``    server-sent events: each new frame (``?frames=N``: stop after N)
``POST /api/play``     and ``pause``, ``step`` (returns the trace), ``reset``
``POST /api/settings`` ``{"lr": 0.1, ...}``: changed controls; 400 and a message if bad
``POST /api/draw``     ``{"image": "data:image/png;base64,...", "model": "file"|"current"}``
=====================  ====================================================================

A bad request gets status 400 and ``{"error": message}``; nothing the page sends stops the
server or the training thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import socket
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bareprop.errors import BarepropError
from bareprop.playground.session import Session
from bareprop.playground.settings import CHOICES, LIVE, MAX_BATCH, MAX_LAYERS, MAX_LR, MAX_WIDTH

STATIC = Path(__file__).parent / "static"
POLL_SECONDS = 0.01  # how often a stream looks for a new frame
MAX_DRAWING = 4 << 20  # characters of base64 in a drawing
log = logging.getLogger("bareprop.playground")


async def _reply(future: Future) -> JSONResponse:
    """The worker's answer as JSON; its ValueError (a bad value) as a 400 with the message."""
    try:
        result = await asyncio.wrap_future(future)
    except (ValueError, TypeError, BarepropError) as e:
        return JSONResponse({"ok": False, "error": str(e)}, status_code=400)
    except Exception as e:  # a bug: say so on the page, keep serving
        log.exception("playground request failed")
        return JSONResponse({"ok": False, "error": f"internal error: {e}"}, status_code=500)
    return JSONResponse(result)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body


def _png(data_url: Any) -> bytes:
    """The bytes of a ``data:image/png;base64,...`` URL (or of bare base64)."""
    if not isinstance(data_url, str) or not data_url:
        raise ValueError("image must be a PNG data URL")
    if len(data_url) > MAX_DRAWING:
        raise ValueError(f"image is too large ({len(data_url)} characters; at most {MAX_DRAWING})")
    text = data_url.split(",", 1)[1] if data_url.startswith("data:") else data_url
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("image is not valid base64") from None


def create_app(session: Session, closing: threading.Event | None = None) -> Starlette:
    """The Starlette app serving ``session``; streams end when ``closing`` is set."""
    closing = closing or threading.Event()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def state(request: Request) -> Response:
        limits = {"layers": MAX_LAYERS, "width": MAX_WIDTH, "batch_size": MAX_BATCH, "lr": MAX_LR}
        future = session.state()
        reply = await _reply(future)
        if future.exception() is None:
            extra = {"choices": CHOICES, "live": sorted(LIVE), "limits": limits}
            return JSONResponse({**future.result(), **extra})
        return reply

    async def frame(request: Request) -> Response:
        return Response(session.latest()[1], media_type="application/json")

    async def stream(request: Request) -> Response:
        try:
            limit = int(request.query_params.get("frames", "0"))
        except ValueError:
            return JSONResponse({"error": "frames must be an integer"}, status_code=400)

        async def events() -> Any:
            seen, sent = 0, 0
            while not closing.is_set():
                version, text = session.latest()
                if version == seen:
                    await asyncio.sleep(POLL_SECONDS)
                    continue
                seen, sent = version, sent + 1
                yield f"id: {version}\ndata: {text}\n\n"
                if limit and sent >= limit:
                    return

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    async def command(request: Request) -> Response:
        name = request.path_params["name"]
        actions = {"play": session.play, "pause": session.pause, "step": session.step,
                   "reset": session.reset}  # fmt: skip
        if name not in actions:
            return JSONResponse({"error": f"no such command {name!r}"}, status_code=404)
        return await _reply(actions[name]())

    async def settings(request: Request) -> Response:
        try:
            changes = await _body(request)
        except ValueError as e:
            return JSONResponse({"ok": False, "error": str(e)}, status_code=400)
        return await _reply(session.update(changes))

    async def draw(request: Request) -> Response:
        try:
            body = await _body(request)
            png = _png(body.get("image"))
        except ValueError as e:
            return JSONResponse({"ok": False, "error": str(e)}, status_code=400)
        return await _reply(session.draw(png, str(body.get("model", "current"))))

    routes = [
        Route("/", index),
        Route("/api/state", state),
        Route("/api/frame", frame),
        Route("/api/stream", stream),
        Route("/api/settings", settings, methods=["POST"]),
        Route("/api/draw", draw, methods=["POST"]),
        Route("/api/{name}", command, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one); ValueError if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ValueError(
            f"cannot listen on {host}:{port} ({e.strerror}); try another --port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class Server(uvicorn.Server):
    """uvicorn's server, which also tells the open streams to end when it is asked to stop."""

    def __init__(self, app: Starlette, closing: threading.Event) -> None:
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)  # fmt: skip
        super().__init__(config)
        self.closing = closing

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.closing.set()
        super().handle_exit(sig, frame)
