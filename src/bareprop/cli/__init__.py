"""The ``bareprop`` command line. Each subcommand lives in its own module.

Every user error (a bad option value, a missing or corrupt file, an incompatible model) is
one line on stderr, ``bareprop COMMAND: error: ...``, and exit status 2, never a traceback.
Options are never abbreviated: ``--epoch`` is an error, not ``--epochs``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from bareprop.errors import BarepropError

EXIT_USAGE = 2


class UsageError(BarepropError):
    """A command-line option value that cannot be used."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2, and an
    option must be spelled in full (``allow_abbrev=False``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: error: {message}")


def error_line(prog: str, error: BaseException) -> str:
    """The one line that reports ``error``: ``bareprop train: error: ...``."""
    if isinstance(error, UsageError):
        return str(error)
    return f"{prog}: error: {describe(error)}"


def describe(error: BaseException) -> str:
    """``error`` in words; an ``OSError`` as the other file errors read: ``PATH: no such file``."""
    if not isinstance(error, OSError) or error.filename is None:
        return str(error)
    path = error.filename
    if isinstance(error, FileNotFoundError):
        return f"{path}: no such file or folder"
    if isinstance(error, IsADirectoryError):
        return f"{path}: is a folder, not a file"
    if isinstance(error, NotADirectoryError):
        return f"{path}: a part of this path is a file, not a folder"
    if isinstance(error, PermissionError):
        return f"{path}: permission denied"
    reason = error.strerror or str(error)
    return f"{path}: {reason[:1].lower()}{reason[1:]}"


def _commands() -> list[ModuleType]:
    from bareprop.cli import (
        bench,
        compare,
        evaluate,
        experiment,
        export,
        gradcheck,
        playground,
        predict,
        replay,
        sanity,
        trace,
        train,
    )

    return [
        train, evaluate, predict, export, gradcheck, sanity, compare, trace, experiment, replay,
        bench,
        playground,
    ]  # fmt: skip


def build_parser() -> Parser:
    parser = Parser(
        prog="bareprop", description="Neural networks by backpropagation, from scratch in NumPy."
    )
    from bareprop import __version__

    parser.add_argument("--version", action="version", version=f"bareprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in _commands():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bareprop`` console script; returns the exit status."""
    parser = build_parser()
    prog = parser.prog
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command is not None:
            prog = f"{parser.prog} {args.command}"
        if extra:  # argparse would blame the top-level parser; name the command instead
            raise UsageError(f"{prog}: error: unrecognized arguments: {' '.join(extra)}")
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        return int(args.run(args) or 0)
    except (BarepropError, ValueError, TypeError, OSError) as e:
        print(error_line(prog, e), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
