"""The words a label column or a segments file uses for calm and aroused.

Offline tables (WESAD-style feature tables, segment files of a recording)
label their rows in many ways; rows labelled neither calm nor aroused
(WESAD's amusement) are left out, not guessed.
"""

from __future__ import annotations

CALM_WORDS = ("calm", "rest", "baseline", "0", "false", "relaxed", "neutral")
AROUSED_WORDS = ("aroused", "stress", "stressor", "1", "true")


def label_code(value: object) -> int | None:
    """1 for an aroused label, 0 for a calm one, None for anything else (dropped rows)."""
    text = str(value).strip().lower()
    if text.endswith(".0"):
        text = text[:-2]
    if text in AROUSED_WORDS:
        return 1
    if text in CALM_WORDS:
        return 0
    return None
