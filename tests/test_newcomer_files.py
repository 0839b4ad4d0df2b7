"""Files and folders bareprop writes get the mode an ordinary ``open``/``mkdir`` gives them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import bareprop as bp
from bareprop.cli import main
from bareprop.files.atomic import atomic_write, write_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_a_new_file_gets_the_mode_open_would_give(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        write_text(tmp_path / "ours.txt", "x")
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "ours.txt") == _mode(tmp_path / "plain.txt") == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_overwriting_keeps_the_files_mode(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "shared.txt"
    path.write_text("old")
    path.chmod(0o640)
    atomic_write(path, lambda f: f.write(b"new"))
    assert path.read_text() == "new" and _mode(path) == 0o640


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_a_run_folder_is_readable_by_others(
    tiny_data: Path, tmp_path: Path, umask_022: None
) -> None:
    out = tmp_path / "runs" / "first"  # two new folders
    argv = ["train", "--data-dir", str(tiny_data), "--out", str(out), "--hidden", "8",
            "--epochs", "1", "--batch-size", "64", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    written = sorted(out.iterdir())
    assert {p.suffix for p in written} >= {".npz", ".json", ".csv", ".png", ".html"}
    assert {p.name: _mode(p) for p in written} == {p.name: 0o644 for p in written}
    assert _mode(out) == _mode(out.parent) == 0o755
    model = bp.Sequential([bp.Linear(4, 2)])
    bp.save(model, tmp_path / "saved.npz")
    assert _mode(tmp_path / "saved.npz") == 0o644
