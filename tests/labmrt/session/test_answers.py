"""Number answers: a decimal comma scores like a decimal point; the raw text is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from labmrt.protocol import load_protocol
from labmrt.session import SessionEngine
from labmrt.session.answers import is_correct, parse_number
from labmrt.session.clock import VirtualClock
from labmrt.store import StudyStore

PROTOCOLS = Path(__file__).resolve().parents[3] / "protocols"
# the smallest bundled protocol, with two scored number tasks after its own task
NUMBER_TASKS = """
[[tasks]]
id = "price"
text = "What is the price per kWh in cents?"
answer_kind = "number"
correct = "3.9"

[[tasks]]
id = "total"
text = "What is the total?"
answer_kind = "number"
correct = "1250"
"""


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3,9", 3.9),
        ("3.9", 3.9),
        (" -0,25 ", -0.25),
        (",5", 0.5),
        ("7,", 7.0),
        ("1250", 1250.0),
        ("1,250", 1.25),  # one separator is always the decimal one: never a thousands group
        ("1.250,5", None),
        ("1 250", None),
        ("3.9 EUR", None),
        ("", None),
        ("nan", None),
    ],
)
def test_parse_number_reads_a_decimal_comma_or_point(text, value):
    assert parse_number(text) == (None if value is None else pytest.approx(value))


def test_a_decimal_comma_is_scored_right_and_kept_as_typed(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text((PROTOCOLS / "minimal.toml").read_text() + NUMBER_TASKS)
    protocol = load_protocol(path)
    _, price, total = protocol.tasks
    assert is_correct(price, "3,9") is True and is_correct(price, "3.9") is True
    assert is_correct(price, "3,8") is False and is_correct(price, "3;9") is False
    assert is_correct(total, "1250,0") is True and is_correct(total, "1,250") is False

    clock = VirtualClock(start=100.0)
    answers = iter([None, "3,9", "1.250,0"])

    class Typist:
        def begin_phase(self, phase, duration_s): ...
        def end_phase(self, phase): ...
        def end_session(self, status, reason): ...

        def present(self, task, report):
            shown = clock.now()
            clock.sleep_until(shown + 5)
            answer = next(answers)
            return {"shown_t": shown, "answer": answer, "answer_t": shown + 5, "end_t": shown + 5}

    with StudyStore.open(tmp_path / "study", create=True) as store:
        engine = SessionEngine(protocol, store, "P01", Typist(), clock=clock)
        engine.run()
        rows = store.presentations(engine.session_id).sort_values("task_index")
    assert list(rows["answer"])[1:] == ["3,9", "1.250,0"]
    assert [bool(c) for c in list(rows["correct"])[1:]] == [True, False]
