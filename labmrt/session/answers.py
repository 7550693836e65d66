"""Scoring a participant's answer against the task's correct one.

Number answers are typed by people who write ``3,9`` as often as ``3.9``: the
decimal separator of their locale. A number answer is therefore digits with at
most one separator, ``.`` or ``,``, and an optional sign (:data:`NUMBER_PATTERN`;
the participant's field accepts nothing else, so ``1,250`` can only mean 1.25
and no thousands separator makes an answer ambiguous). The raw text is what the
store keeps; scoring reads it with :func:`parse_number`, so the same text
always scores the same, whatever machine scores it.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: A number answer: optional sign, digits with at most one decimal separator (``.`` or ``,``).
NUMBER_PATTERN = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)"
_NUMBER = re.compile(NUMBER_PATTERN)


def parse_number(text: str | None) -> float | None:
    """The value of a number answer (``"3,9"`` and ``"3.9"`` are 3.9), None if it is not one."""
    if text is None:
        return None
    cleaned = text.strip()
    if not _NUMBER.fullmatch(cleaned):
        return None
    value = float(cleaned.replace(",", "."))
    return value if math.isfinite(value) else None


def is_correct(task: Any, answer: str | None) -> bool | None:
    """Score an answer against ``task.correct`` (None when the task is not scored).

    Number answers are equal within a relative 1e-9 (a typed ``0.1`` and the
    protocol's ``0.1`` are the same float, but a computed one may not be).
    """
    if task.correct is None:
        return None
    if answer is None:
        return False
    if task.answer_kind == "number":
        a, b = parse_number(answer), parse_number(str(task.correct))
        if a is None or b is None:
            return False
        return abs(a - b) <= 1e-9 * max(1.0, abs(b))
    return answer.strip().casefold() == task.correct.strip().casefold()
