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


def _options(command: str) -> dict[str, argparse.Action]:
    parser = _subparsers(build_parser())[command]
    return {a.option_strings[-1]: a for a in parser._actions if a.option_strings}


TRAINING_ONLY = {"--epochs", "--optimizer", "--lr", "--momentum", "--nesterov", "--weight-decay",
                 "--lr-schedule", "--val-fraction", "--augment", "--early-stopping",
                 "--dtype"}  # fmt: skip


def test_gradcheck_and_trace_offer_no_training_options() -> None:
    for command in ("gradcheck", "trace"):
        offered = set(_options(command))
        assert offered & TRAINING_ONLY == set(), command
        assert {"--hidden", "--activation", "--loss", "--init", "--seed"} <= offered
    assert "--batch-size" not in _options("gradcheck")  # it has --samples
    assert {"--model", "--model-file"} <= set(_options("trace"))  # conv nets are traced too


def test_trace_shows_its_own_defaults() -> None:
    options = _options("trace")
    assert options["--hidden"].default == [16] and "(default: 16)" in options["--hidden"].help
    assert options["--batch-size"].default == 4 and "(default: 4)" in options["--batch-size"].help
    assert "hidden layer sizes" in options["--hidden"].help  # the help text is kept


def test_compare_offers_every_training_option_but_augment() -> None:
    offered = set(_options("compare"))
    assert "--augment" not in offered and "--early-stopping" not in offered
    assert TRAINING_ONLY - {"--augment", "--early-stopping"} <= offered


@pytest.mark.parametrize("command", ["train", "gradcheck", "trace", "compare"])
def test_every_default_shown_is_the_true_one(command: str) -> None:
    for name, action in _options(command).items():
        shown = re.search(r"\(default: ([^)]*)\)", action.help or "")
        if shown is None or "%(default)" in (action.help or "") or action.default is None:
            continue  # argparse fills in %(default)s; None's default is described in words
        value = action.default
        text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
        assert shown[1] == text, f"{command} {name}: help says {shown[1]!r}, default is {text!r}"


def test_gradcheck_checks_the_cnn_it_offers(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["gradcheck", "--model", "cnn", "--random-data", "--samples", "1", "--max-entries", "2"]
    assert main(argv) in (0, 1)  # it ran the check (was: Conv2d expects (N, 1, H, W), exit 2)
    out = capsys.readouterr().out
    assert out.startswith("gradcheck: the reference CNN")
    assert re.search(r"^gradcheck: (PASS|FAIL)", out, re.M)
