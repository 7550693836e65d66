"""A complete short session through both windows with simulated sensors, then the store.

Everything is real: simulated ECG/EDA LSL outlets in this process, the live
monitor, the session engine on its own thread, the SQLite store, the console
and the participant screen driven with clicks and key presses.
"""

from __future__ import annotations

import json
import re

from PySide6.QtCore import QPoint, Qt

from labmrt.store import StudyStore
from ui.app import LabmrtApp

PROTOCOL = """
moderators = ["affect_state", "hr", "scl"]

[study]
title = "GUI session test"
version = "1"

[[arms]]
id = "neutral"
label = "Neutral wording"
framing = "{task}"
baseline = true

[[arms]]
id = "gain"
label = "Gain framing"
framing = "A smart choice keeps more money for you. {task}"

[[arms]]
id = "loss"
label = "Loss framing"
framing = "A careless choice costs you money. {task}"

[randomization]
seed = 11
context = "affect_state"
fallback = "unknown"

[randomization.table.calm]
neutral = "1/3"
gain = "1/3"
loss = "1/3"

[randomization.table.aroused]
neutral = 0.5
gain = 0.25
loss = 0.25

[randomization.table.unknown]
neutral = "1/3"
gain = "1/3"
loss = "1/3"

[decision_rules]
require_signal = false

[[features]]
id = "help"
label = "Help"
kind = "help"
content = "# Totals\\nAdd every cost over the period.\\n# Requirements\\nDrop offers that miss one."

[[features]]
id = "hint"
label = "Hint"
kind = "hint"
content = "Work out each total."

[[features]]
id = "calculator"
label = "Calculator"
kind = "calculator"

[[features]]
id = "notes"
label = "Notes"
kind = "notes"

[[features]]
id = "table"
label = "Comparison table"
kind = "comparison_table"

[[tasks]]
id = "phone"
text = "Pick the cheapest phone plan for 12 months."
question = "Which plan?"
answer_kind = "choice"
choices = ["Plan A", "Plan B"]
correct = "Plan B"
table = { columns = ["Plan", "Monthly fee", "Setup fee"], rows = [["Plan A", 10, 0], ["Plan B", 8, 20]] }

[[tasks]]
id = "rent"
text = "A car costs 45 per day; you need it for 3 days."
question = "What is the total?"
answer_kind = "number"
correct = "135"
features = ["help", "hint", "calculator", "notes"]

[[outcomes]]
name = "help_hint_seconds"
features = ["help", "hint"]
measure = "duration"

[[outcomes]]
name = "calculator_used"
features = ["calculator"]
measure = "any"

[control]
require_confirmation = true

[calibration]
rest_s = 3
stressor_s = 3

[sensors]
streams = ["ecg", "eda"]
"""

FORBIDDEN = {
    "neutral",
    "gain",
    "loss",
    "framing",
    "arm",
    "probability",
    "calm",
    "aroused",
    "unknown",
    "p_aroused",
}


def participant_words(window) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z_]+", window.visible_text())}


def test_complete_session_with_simulated_sensors(qtbot, tmp_path, screenshot):
    path = tmp_path / "protocol.toml"
    path.write_text(PROTOCOL)
    study = tmp_path / "study"
    app = LabmrtApp(study_dir=study, protocol=path, participant="P01")
    console, participant = app.console, app.participant_window
    app.show()
    try:
        _run_session(qtbot, app, console, participant, screenshot)
    finally:
        console._force_close = True
        app.quit()
    with StudyStore.open(study, readonly=True) as store:
        sessions = store.sessions()
        assert list(sessions["status"]) == ["completed"]
        sid = int(sessions["session"].iloc[0])
        decisions = store.decisions(sid)
        assert list(decisions["task_id"]) == ["phone", "rent"]
        assert decisions["available"].all()
        for probs in decisions["probabilities"]:
            assert set(probs) == {"neutral", "gain", "loss"}
        pres = store.presentations(sid)
        assert list(pres["answer"]) == ["Plan B", "135"]
        assert list(pres["correct"]) == [True, True]
        assert list(pres["received"]) == [True, True]
        events = store.events(sid)
        used = set(zip(events["feature"], events["action"], strict=True))
        for feature in ("help", "hint", "calculator", "notes", "table"):
            assert (feature, "open") in used and (feature, "use") in used, feature
        calc = events[(events["feature"] == "calculator") & (events["action"] == "use")]
        assert json.loads(calc["detail"].iloc[0]) == {"expression": "45×3", "result": "135"}
        assert (events[events["feature"] == "stressor"]["action"] == "use").any()
        outcomes = store.outcomes(sid)
        calc_used = outcomes[outcomes["name"] == "calculator_used"]
        assert list(calc_used["value"]) == [0.0, 1.0]
        help_time = outcomes[outcomes["name"] == "help_hint_seconds"]
        # help and hint were open in task 1 only (log1p of seconds open would be > 0)
        assert help_time["value"].iloc[0] > 0 and help_time["value"].iloc[1] == 0
        raw = store.sample_streams(sid)
        assert set(raw["kind"]) == {"ecg", "eda"}
        # at least the calibration's 6 s at 500 Hz ECG / 64 Hz EDA
        n = dict(zip(raw["kind"], raw["n_samples"], strict=True))
        assert n["ecg"] > 6 * 500 * 0.8 and n["eda"] > 6 * 64 * 0.8
        phases = store.phases(sid)
        assert {"rest", "stressor", "task"} <= set(phases["phase"])


def _run_session(qtbot, app, console, participant, screenshot):
    assert console.protocol is not None, console.problems.item(0).text()
    qtbot.mouseClick(console.picker.simulate_button, Qt.LeftButton)
    # the simulator is a child process: a fresh interpreter imports NeuroKit2 first
    qtbot.waitUntil(lambda: len(console.buffers) == 2, timeout=60000)
    qtbot.waitUntil(lambda: all(b.state == "streaming" for b in console.buffers), timeout=20000)

    def plotted():
        x, _ = console.live.plots[0].curve.getData()
        return x is not None and len(x) > 100

    qtbot.waitUntil(plotted, timeout=10000)
    console.activateWindow()  # the operator's shortcuts act in the operator's window
    qtbot.waitUntil(console.isActiveWindow, timeout=3000)
    qtbot.keyClick(console, Qt.Key_F5)
    from PySide6.QtWidgets import QMessageBox

    errors = [b.informativeText() for b in console.findChildren(QMessageBox) if b.isVisible()]
    assert not errors
    qtbot.waitUntil(lambda: console.host.engine is not None, timeout=5000)
    assert "Welcome" in participant.visible_text()
    screenshot(participant, "participant_welcome")
    qtbot.keyClick(participant.message, Qt.Key_Space)

    qtbot.waitUntil(lambda: participant.stack.currentWidget() is participant.rest, timeout=5000)
    qtbot.waitUntil(lambda: console.phase_bar.isVisible(), timeout=5000)
    assert console.phase_label.text() == "Calibration: rest"
    qtbot.waitUntil(lambda: participant.stack.currentWidget() is participant.stressor, timeout=8000)
    stressor = participant.stressor
    qtbot.keyClicks(stressor.answer_edit, str(stressor.problem.answer))
    qtbot.keyClick(stressor.answer_edit, Qt.Key_Return)

    def task_shown(k):
        view = participant.task_view
        return view is not None and view.task.task_index == k and not view._done

    # Task 1: help topics, hint, notes, table sorting, choice answer.
    qtbot.waitUntil(lambda: task_shown(0), timeout=10000)
    # 3 s of rest cannot calibrate the classifier: the operator is told so.
    qtbot.waitUntil(lambda: "Calibration failed" in console.warning.text(), timeout=5000)
    view = participant.task_view
    assert not participant_words(participant) & FORBIDDEN
    participant.activateWindow()
    qtbot.waitUntil(participant.isActiveWindow, timeout=3000)
    qtbot.keyClick(view, Qt.Key_Return, Qt.ControlModifier)  # read confirmation by keyboard
    assert view.confirmed
    f = view.feature_widgets
    qtbot.mouseClick(f["help"].toggle, Qt.LeftButton)
    f["help"].topic_list.setCurrentRow(1)
    qtbot.mouseClick(f["hint"].toggle, Qt.LeftButton)
    qtbot.mouseClick(f["hint"].reveal, Qt.LeftButton)
    qtbot.mouseClick(f["notes"].toggle, Qt.LeftButton)
    qtbot.keyClicks(f["notes"].edit, "B: 8*12+20 = 116")
    qtbot.mouseClick(f["table"].toggle, Qt.LeftButton)
    header = f["table"].table.horizontalHeader()
    x = header.sectionViewportPosition(1) + header.sectionSize(1) // 2
    qtbot.mouseClick(header.viewport(), Qt.LeftButton, pos=QPoint(x, header.height() // 2))
    qtbot.mouseClick(view.choice_group.button(1), Qt.LeftButton)
    assert not participant_words(participant) & FORBIDDEN
    screenshot(participant, "participant_task_live")
    screenshot(console, "console_live")
    qtbot.mouseClick(view.submit_button, Qt.LeftButton)

    # Task 2: calculator with the keyboard, number answer.
    qtbot.waitUntil(lambda: task_shown(1), timeout=10000)
    view = participant.task_view
    assert not participant_words(participant) & FORBIDDEN
    qtbot.mouseClick(view.confirm, Qt.LeftButton)
    calc = view.feature_widgets["calculator"]
    qtbot.mouseClick(calc.toggle, Qt.LeftButton)
    qtbot.keyClicks(calc.display, "45×3")
    qtbot.keyClick(calc.display, Qt.Key_Return)
    assert calc.display.text() == "135"
    qtbot.keyClicks(view.answer_edit, "135")
    qtbot.keyClick(view.answer_edit, Qt.Key_Return)

    qtbot.waitUntil(lambda: console.summary_dialog is not None, timeout=15000)
    assert "Thank you" in participant.visible_text()
    values = console.summary_dialog.values
    assert values["Decision points"] == "2" and values["Status"] == "completed"
    assert console.log_model.rowCount() == 2
    screenshot(console.summary_dialog, "console_summary_live")
    console.summary_dialog.accept()

    # From the session straight to the analysis view: the study folder is exported and loaded.
    analysis = app.open_analysis()
    qtbot.waitUntil(lambda: analysis.data is not None, timeout=20000)
    outcomes = [analysis.outcome_combo.itemText(i) for i in range(analysis.outcome_combo.count())]
    assert {"help_hint_seconds", "calculator_used"} <= set(outcomes)
    assert analysis.data.participants == 1 and len(analysis.data.frame) == 2
