"""The ``labmrt`` parser as the command-line reference renders it.

It is :func:`labmrt.cli.build_parser` itself; only the subcommands' example
epilogs, written for a terminal (``examples:`` then indented command lines),
are marked as literal blocks, since sphinx-argparse reads epilogs as
reStructuredText.
"""

from __future__ import annotations

import argparse

from labmrt.cli import build_parser


def _literal_examples(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if sub.epilog and sub.epilog.split("\n", 1)[0].rstrip().endswith(":"):
                    head, _, rest = sub.epilog.partition("\n")
                    sub.epilog = f"{head.rstrip()}:\n\n{rest}"
                _literal_examples(sub)


def parser() -> argparse.ArgumentParser:
    out = build_parser()
    _literal_examples(out)
    return out
