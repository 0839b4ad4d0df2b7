"""The ``bareprop`` command line. Each subcommand lives in its own module.

Every user error (a bad option value, a missing or corrupt file, an incompatible model) is
one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from bareprop.errors import BarepropError

EXIT_USAGE = 2


class UsageError(BarepropError):
    """A command-line option value that cannot be used."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


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
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        return int(args.run(args) or 0)
    except (BarepropError, ValueError, TypeError, OSError) as e:
        message = str(e) if isinstance(e, UsageError) else f"bareprop: error: {e}"
        print(
            message if message.startswith("bareprop") else f"bareprop: {message}", file=sys.stderr
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bareprop: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
