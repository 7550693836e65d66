"""The participant window drives the real session engine through the Qt presenter."""

from __future__ import annotations

import json
import re

import pytest
from PySide6.QtCore import Qt

from labmrt.protocol import load_protocol
from labmrt.session import SessionEngine
from labmrt.store import StudyStore
from ui.participant import ParticipantWindow
from ui.session import EngineBridge, QtPresenter

PROTOCOL = """
[study]
title = "Presenter test"
version = "1"

[[arms]]
id = "neutral"
label = "Neutral wording"
framing = "{task}"
baseline = true

[[arms]]
id = "gain"
label = "Gain framing"
framing = "Think of what you keep. {task}"

[randomization]
seed = 7
probabilities = { neutral = 0.5, gain = 0.5 }

[[features]]
id = "calc"
label = "Calculator"
kind = "calculator"

[[features]]
id = "hint"
label = "Hint"
kind = "hint"
content = "Multiply first."

[[tasks]]
id = "t1"
text = "What is 12 times 7?"
question = "Your answer"
answer_kind = "number"
correct = "84"

[[tasks]]
id = "t2"
text = "What is 30 plus 12?"
answer_kind = "number"
correct = "42"

[[outcomes]]
name = "calc_used"
features = ["calc"]
measure = "any"

[control]
require_confirmation = true

[calibration]
rest_s = 0.4
stressor_s = 0.6
"""


def visible_words(window) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z_]+", window.visible_text())}


@pytest.fixture
def protocol(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PROTOCOL)
    return load_protocol(path)


def test_two_tasks_through_the_participant_window_are_recorded(qtbot, tmp_path, protocol):
    window = ParticipantWindow()
    qtbot.addWidget(window)
    window.show()
    presenter = QtPresenter(window)
    store = StudyStore.open(tmp_path / "study", create=True)
    engine = SessionEngine(protocol, store, "P01", presenter)
    presenter.reporter = engine.record_event
    bridge = EngineBridge()
    bridge.attach(engine.signals)
    ended = []
    bridge.ended.connect(lambda status, reason: ended.append(status))
    engine.start()

    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.rest, timeout=3000)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.stressor, timeout=3000)
    stressor = window.stressor
    qtbot.keyClicks(stressor.answer_edit, str(stressor.problem.answer))
    qtbot.keyClick(stressor.answer_edit, Qt.Key_Return)

    forbidden = {"neutral", "gain", "arm", "probability", "calm", "aroused", "unknown"}
    for k in range(2):
        qtbot.waitUntil(
            lambda k=k: window.task_view is not None and window.task_view.task.task_index == k,
            timeout=5000,
        )
        view = window.task_view
        leaked = visible_words(window) & forbidden
        assert not leaked, f"participant screen shows {leaked}"
        qtbot.mouseClick(view.confirm, Qt.LeftButton)
        if k == 0:
            calc = view.feature_widgets["calc"]
            qtbot.mouseClick(calc.toggle, Qt.LeftButton)
            for key in "12×7=":
                qtbot.mouseClick(calc.buttons[key], Qt.LeftButton)
            assert calc.display.text() == "84"
        qtbot.keyClicks(view.answer_edit, "84" if k == 0 else "41")
        qtbot.keyClick(view.answer_edit, Qt.Key_Return)

    qtbot.waitUntil(lambda: ended == ["completed"], timeout=5000)
    assert engine.join(5)
    assert "Thank you" in window.visible_text()

    decisions = store.decisions(engine.session_id)
    assert list(decisions["task_id"]) == ["t1", "t2"]
    pres = store.presentations(engine.session_id)
    assert list(pres["received"]) == [True, True]
    assert list(pres["correct"]) == [True, False]
    assert list(pres["answer"]) == ["84", "41"]
    events = store.events(engine.session_id)
    calc = events[events["feature"] == "calc"]
    assert list(calc["action"]) == ["open", "use", "close"]
    assert json.loads(calc["detail"].iloc[1]) == {"expression": "12×7", "result": "84"}
    assert (calc["decision_point"] == 0).all()
    stress = events[events["feature"] == "stressor"]
    assert len(stress) >= 1 and json.loads(stress["detail"].iloc[0])["correct"] is True
    outcomes = store.outcomes(engine.session_id)
    assert dict(zip(outcomes["decision_point"], outcomes["value"], strict=True)) == {0: 1.0, 1: 0.0}
    assert presenter.failed_events == 0
    store.close()
