"""The command line speaks with one voice: errors, abbreviations, file errors, help."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from bareprop.cli import build_parser, main

ERROR = re.compile(r"^bareprop (?P<command>[a-z]+): error: (?P<message>.+)$")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _one_error(capsys: pytest.CaptureFixture[str], command: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    match = ERROR.match(lines[0])
    assert match is not None, lines[0]
    assert match["command"] == command
    return match["message"]


def test_no_parser_accepts_abbreviations() -> None:
    parser = build_parser()
    assert not parser.allow_abbrev
    commands = _subparsers(parser)
    assert len(commands) >= 10
    assert [name for name, p in commands.items() if p.allow_abbrev] == []


def test_an_abbreviated_option_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--epoch", "2"]) == 2
    assert _one_error(capsys, "train") == "unrecognized arguments: --epoch 2"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["train", "--bogus"], "unrecognized arguments: --bogus"),
        (["evaluate", "m.npz", "--bogus"], "unrecognized arguments: --bogus"),
        (["train", "--epochs", "1.5"], "argument --epochs: invalid int value: '1.5'"),
        (["train", "--lr", "inf"], "lr must be a finite positive number, got inf"),
        (["train", "--lr", "nan"], "lr must be a finite positive number, got nan"),
        (["predict"], "the following arguments are required: model, IMAGE"),
        (["trace", "--probes", "0"], "--probes must be a positive integer, got 0"),
        (["evaluate", "/nonexistent.npz"], "/nonexistent.npz: no such model file"),
        (["experiment", "/nonexistent.toml"], "/nonexistent.toml: no such file or folder"),
    ],
)
def test_every_error_is_one_line_naming_the_command(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert _one_error(capsys, argv[0]) == expected


def test_an_unknown_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bareprop: error: argument COMMAND: invalid choice")


def test_out_that_is_a_file_is_called_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "passwd").write_text("root:x:0:0\n")
    assert main(["train", "--out", str(tmp_path / "passwd")]) == 2
    message = _one_error(capsys, "train")
    assert message == f"--out {tmp_path / 'passwd'}: is a file, not a folder; choose a new folder"
    assert (tmp_path / "passwd").read_text() == "root:x:0:0\n"
