"""The ``labmrt`` command line.

Each subcommand lives in its own module under :mod:`labmrt.commands` and
exposes ``register(subparsers)``; the module imports its heavy dependencies
inside the handler so that ``labmrt --help`` stays fast. With the composition
roots ``ui.app`` and ``ui.lab``, it is one of the wiring points allowed to reach
into ``sensors`` and ``ui``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from labmrt import __version__
from labmrt.errors import EXIT_USER_ERROR, DeprecatedKey, LabmrtError
from labmrt.own_packages import check_own_packages

# Subcommand modules in the order they appear in ``labmrt --help``.
COMMAND_MODULES: list[str] = [
    "validate",
    "sensors",
    "power",
    "analyze",
    "robustness",
    "sessions",
    "export",
    "merge",
    "station",
    "lab",
    "run",
    "simulate",
    "preregister",
    "report",
    "demo",
    "gui",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labmrt",
        description="Run, sense, randomize, log and analyze in-lab micro-randomized trials.",
    )
    parser.add_argument("--version", action="version", version=f"labmrt {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show Python tracebacks for unexpected errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"labmrt.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        """A deprecated key in an input file is the user's to fix: one plain line."""
        if issubclass(category, DeprecatedKey):
            print(f"warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        return _main(argv)
    finally:
        warnings.showwarning = shown


def _main(argv: list[str] | None) -> int:
    try:
        check_own_packages()  # a foreign `sensors` or `ui` would fail later, obscurely
    except LabmrtError as err:
        print(err.message, file=sys.stderr)
        return EXIT_USER_ERROR
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        if "gui" in COMMAND_MODULES:
            return _main(["gui"])
        parser.print_help()
        return 0
    try:
        return int(handler(args) or 0)
    except LabmrtError as err:
        print(err.message, file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and friends: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as err:  # noqa: BLE001 - last line of defence against tracebacks
        if getattr(args, "debug", False):
            raise
        print(
            f"labmrt: unexpected error: {type(err).__name__}: {err}\n"
            "Nothing recorded so far was lost. Re-run with --debug to see the details "
            "and report them.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
