"""User-facing errors.

Every problem a user can cause (a bad protocol file, a missing column, a
corrupt study folder) is raised as a :class:`LabmrtError` carrying one or more
:class:`Problem` records. The CLI prints them as ``where: what (fix)`` lines
and exits with :data:`EXIT_USER_ERROR`; the desktop app shows them in a
dialog. Nothing else is allowed to reach the user as a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Exit status of every command stopped by a user's problem (a traceback is never shown).
EXIT_USER_ERROR = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input: where it is, what is wrong, how to fix it."""

    where: str
    what: str
    fix: str = ""

    def format(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.fix:
            text += f" ({self.fix})"
        return text


class LabmrtError(Exception):
    """A problem with user input, reported without a traceback."""

    def __init__(self, problems: Problem | list[Problem] | str, *, fix: str = "", where: str = ""):
        if isinstance(problems, str):
            problems = [Problem(where, problems, fix)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return "\n".join(p.format() for p in self.problems)


class DeprecatedKey(FutureWarning):
    """An input file uses a renamed key: it is still read, and the warning (a
    :class:`Problem`: where, what, what to write instead) says how to write it now.
    The CLI prints it as a ``warning:`` line; Python shows it as a FutureWarning."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(problem.format())


def loc_text(loc: Sequence[str | int]) -> str:
    """``('arms', 1, 'framing')`` -> ``arms[2].framing`` (list items counted from 1, as a
    person counts the tables of a TOML file)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += f".{part}" if text else str(part)
    return text
