"""Writing files so that a reader never sees a half-written one: write, fsync, rename.

The file gets the permissions an ordinary ``open(path, "w")`` would give it: an existing
file keeps its mode, a new one gets ``0o666`` less the user's umask (``-rw-r--r--`` under
the usual umask 022), so a report or a model can be shared. (``tempfile.mkstemp`` would
make every file private, ``-rw-------``, whatever the umask.)
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Any

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new, empty temporary file beside ``path``: ``(fd, its path)``.

    Created with mode ``0o666``, which the kernel reduces by the umask, as ``open`` does.
    """
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, _NEW_FILE, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 48 random bits taken: try another name
            continue
    raise FileExistsError(f"{path.parent}: no free temporary file name")  # pragma: no cover


def atomic_write(path: str | os.PathLike[str], write: Any) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it.

    A reader never sees a half-written ``path``: either the old file or the complete new one.
    An existing ``path`` keeps its permission bits; a new one gets ``0o666`` less the umask.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: the folder {path.parent} does not exist")
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            if path.is_file() and os.chmod in os.supports_fd:  # keep its mode, as open() would
                os.chmod(f.fileno(), stat.S_IMODE(path.stat().st_mode))
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def check_new_folder(out: Path, option: str = "--out") -> None:
    """Refuse a file, or a folder that already holds files, so that nothing is overwritten."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{option} {out}: is a file, not a folder; choose a new folder")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{option} {out}: is a folder that already holds files; choose a new one")
