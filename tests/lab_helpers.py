"""A short lab protocol and waiting helpers shared by the lab tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

LAB_PROTOCOL = """
[study]
title = "Lab test"
version = "1"

[[arms]]
id = "neutral"
label = "Neutral"
framing = "{task}"
baseline = true

[[arms]]
id = "gain"
label = "Gain"
framing = "Think of what you gain. {task}"

[randomization]
seed = 11
probabilities = { neutral = 0.5, gain = 0.5 }

[[features]]
id = "help"
label = "Help"
kind = "help"
content = "Read the question twice."

[[outcomes]]
name = "help_seconds"
features = ["help"]
measure = "duration"
window = "task"
"""


def write_protocol(folder: Path, n_tasks: int = 4) -> Path:
    tasks = "".join(
        f'\n[[tasks]]\nid = "t{i}"\ntext = "Which of two offers {i} is cheaper?"\n'
        for i in range(1, n_tasks + 1)
    )
    path = folder / "lab.toml"
    path.write_text(LAB_PROTOCOL + tasks, encoding="utf-8")
    return path


def wait_for(what: Callable[[], object], timeout: float, poll: Callable[[], object] = None):
    """Call ``poll`` and test ``what`` until it is true; its value, or AssertionError at timeout."""
    end = time.monotonic() + timeout
    while True:
        if poll is not None:
            poll()
        value = what()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(0.05)
