"""``bareprop playground [MODEL.npz]``: train in the browser, watching every layer.

A local web server (Starlette on uvicorn, from the ``playground`` extra) over a training
thread that runs bareprop's own engine; the page ships inside the package and works offline.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import webbrowser
from typing import Any

INSTALL_HINT = (
    "bareprop playground: error: the playground needs its extra packages: "
    "pip install 'bareprop[playground]'"
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "playground", help="train in the browser on toy 2-D data or MNIST, live",
        description="Start a local web page where a network trains live on a toy 2-D data set "
        "(spiral, moons, circles, xor, blobs) or on MNIST: loss curves, the decision boundary, "
        "per-layer histograms, one sample's trace after each Step, and a canvas to draw a digit "
        "on. Ctrl-C stops it.",
    )  # fmt: skip
    p.add_argument(
        "model",
        nargs="?",
        default=None,
        metavar="MODEL.npz",
        help="a saved MNIST model for the drawing panel (default: the page's network)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(run=run)


def _open_when_started(server: Any, url: str) -> None:
    """Open ``url`` in the user's browser once ``server`` accepts connections (10 s at most)."""

    def wait_then_open() -> None:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if server.started:
            webbrowser.open(url)

    threading.Thread(target=wait_then_open, daemon=True).start()


def _file_model(path: str | None) -> tuple[Any, str]:
    """The model of MODEL.npz, checked to take 28x28 images; ``(None, "")`` without one."""
    if path is None:
        return None, ""
    from bareprop.files.model_file import load

    model = load(path)
    if model.in_features != 784:
        raise ValueError(f"{path}: the model takes {model.in_features} features, not 28x28 images")
    return model, path


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in [0, 65535], got {args.port}")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    from bareprop.playground.server import Server, bind, create_app
    from bareprop.playground.session import Session
    from bareprop.playground.settings import Settings

    model, label = _file_model(args.model)
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
    session = Session(Settings(dataset="mnist") if model is not None else None,
                      file_model=model, file_label=label).start()  # fmt: skip
    closing = threading.Event()
    server = Server(create_app(session, closing), closing)
    print(f"bareprop playground: {url}  (Ctrl-C stops it)", flush=True)
    if not args.no_browser:
        _open_when_started(server, url)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it has handled
        pass
    finally:
        session.close()
        sock.close()
    print("bareprop playground: stopped", flush=True)
    return 0
