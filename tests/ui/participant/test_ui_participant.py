"""The participant screen: task view controls, calibration screens, breaks, screenshots."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from labmrt.session.display import FeatureSpec, TaskDisplay
from ui.participant import ParticipantWindow, TaskView

TABLE = {
    "columns": ["Plan", "Monthly price", "Deductible", "Coverage"],
    "rows": [["Basic", 29, 900, "70%"], ["Plus", 41, 500, "80%"], ["Premium", 58, 150, "95%"]],
}
FEATURES = (
    FeatureSpec("help", "help", "Help", "# The plans\nThree plans differ.\n# Costs\nAdd it up."),
    FeatureSpec("hint", "hint", "Hint", "Count a whole year of costs."),
    FeatureSpec("calculator", "calculator", "Calculator"),
    FeatureSpec("notes", "notes", "Notes"),
    FeatureSpec("compare", "comparison_table", "Compare plans", table=TABLE),
)


def make_task(control="confirm", **kw) -> TaskDisplay:
    return TaskDisplay(
        task_index=kw.pop("task_index", 2),
        task_id="insurance",
        text=kw.pop(
            "text",
            "Choose a health plan for next year. If you choose well you keep up to 120 points.",
        ),
        question="Which plan costs least over a year with one doctor's visit (80 points)?",
        features=FEATURES,
        control=control,
        **kw,
    )


def test_confirm_control_locks_the_workspace_until_read(qtbot, clock):
    view = TaskView(make_task("confirm"), clock=clock)
    qtbot.addWidget(view)
    view.show()
    view.start()
    assert not view.workspace.isEnabled()
    assert not view.feature_widgets["calculator"].isEnabled()
    view.submit()  # ignored while locked
    clock.advance(4.0)
    qtbot.mouseClick(view.confirm, Qt.LeftButton)
    assert view.workspace.isEnabled()
    clock.advance(6.0)
    qtbot.keyClicks(view.answer_edit, "Plus")
    with qtbot.waitSignal(view.finished) as blocker:
        qtbot.keyClick(view.answer_edit, Qt.Key_Return)
    record = blocker.args[0]
    assert record["received"] is True and record["confirmed"] is True
    assert record["shown_t"] == 1000.0 and record["received_t"] == 1004.0
    assert record["answer"] == "Plus" and record["answer_t"] == record["end_t"] == 1010.0
    assert record["timed_out"] is False


def test_confirm_never_clicked_means_not_received_when_time_runs_out(qtbot, clock):
    view = TaskView(make_task("confirm", time_limit_s=5.0), clock=clock)
    qtbot.addWidget(view)
    view.start()
    assert view.time_left.text() == "Time left 0:05"
    clock.advance(5.0)
    with qtbot.waitSignal(view.finished, timeout=2000) as blocker:
        pass
    record = blocker.args[0]
    assert record["timed_out"] is True and record["received"] is False
    assert record["answer"] is None and record["answer_t"] is None


@pytest.mark.parametrize(("wait", "received"), [(1.0, False), (3.5, True)])
def test_dwell_control_counts_time_before_the_first_interaction(qtbot, clock, wait, received):
    view = TaskView(make_task("dwell", min_dwell_s=3.0), clock=clock)
    qtbot.addWidget(view)
    view.show()
    view.start()
    assert view.workspace.isEnabled() and not view.confirm.isVisible()
    clock.advance(wait)
    qtbot.mouseClick(view.feature_widgets["hint"].toggle, Qt.LeftButton)
    clock.advance(10.0)
    qtbot.keyClicks(view.answer_edit, "Basic")
    with qtbot.waitSignal(view.finished) as blocker:
        qtbot.mouseClick(view.submit_button, Qt.LeftButton)
    record = blocker.args[0]
    assert record["dwell_s"] == pytest.approx(wait)
    assert record["received"] is received


def test_submit_needs_an_answer_and_open_features_close_at_task_end(qtbot, clock):
    view = TaskView(make_task("none"), clock=clock)
    qtbot.addWidget(view)
    events = []
    view.activity.connect(lambda *a: events.append(a))
    view.show()
    view.start()
    qtbot.mouseClick(view.feature_widgets["compare"].toggle, Qt.LeftButton)
    qtbot.mouseClick(view.submit_button, Qt.LeftButton)
    assert view.submit_button.text() == "Please give an answer first"
    qtbot.keyClicks(view.answer_edit, "x")
    clock.advance(2)
    with qtbot.waitSignal(view.finished):
        qtbot.keyClick(view.answer_edit, Qt.Key_Return)
    assert [(e[0], e[1]) for e in events] == [("compare", "open"), ("compare", "close")]
    assert json.loads(events[-1][3]) == {"reason": "task_end"}
    assert events[-1][2] == 1002.0


def test_choice_answers(qtbot, clock):
    view = TaskView(make_task("none", answer_kind="choice", choices=("Basic", "Plus")), clock=clock)
    qtbot.addWidget(view)
    view.show()
    view.start()
    qtbot.mouseClick(view.choice_group.button(1), Qt.LeftButton)
    with qtbot.waitSignal(view.finished) as blocker:
        qtbot.mouseClick(view.submit_button, Qt.LeftButton)
    assert blocker.args[0]["answer"] == "Plus"


def test_rest_screen_counts_down_and_finishes(qtbot, clock):
    window = ParticipantWindow(clock=clock)
    qtbot.addWidget(window)
    window.show()
    window.show_rest(90)
    assert window.rest.countdown.text() == "1:30"
    clock.advance(30)
    qtbot.waitUntil(lambda: window.rest.countdown.text() == "1:00", timeout=1000)
    clock.advance(60)
    with qtbot.waitSignal(window.phase_finished, timeout=1000) as blocker:
        pass
    assert blocker.args == ["rest"]


def test_stressor_gives_feedback_and_adapts_the_item_limit(qtbot, clock):
    window = ParticipantWindow(clock=clock, stressor_seed=3)
    qtbot.addWidget(window)
    events = []
    window.activity.connect(lambda *a: events.append(a))
    window.show()
    stressor = window.stressor
    stressor.feedback_ms = 10
    window.show_stressor(60)
    limit = stressor.item_limit_s
    clock.advance(1.2)
    qtbot.keyClicks(stressor.answer_edit, str(stressor.problem.answer))
    qtbot.keyClick(stressor.answer_edit, Qt.Key_Return)
    assert stressor.feedback.text() == "Correct"
    assert stressor.item_limit_s == pytest.approx(limit * 0.9)
    qtbot.waitUntil(lambda: stressor.answer_edit.isEnabled(), timeout=1000)
    wrong = stressor.problem.answer + 1
    qtbot.keyClicks(stressor.answer_edit, str(wrong))
    qtbot.keyClick(stressor.answer_edit, Qt.Key_Return)
    assert stressor.feedback.text().startswith("Wrong")
    qtbot.waitUntil(lambda: stressor.answer_edit.isEnabled(), timeout=1000)
    clock.advance(stressor.item_limit_s + 0.1)  # let the item time run out
    qtbot.waitUntil(lambda: stressor.feedback.text().startswith("Too slow"), timeout=1000)
    assert [json.loads(e[3])["correct"] for e in events] == [True, False, False]
    assert json.loads(events[0][3])["rt_s"] == pytest.approx(1.2)
    assert {e[0] for e in events} == {"stressor"}
    clock.advance(60)
    with qtbot.waitSignal(window.phase_finished, timeout=1000) as blocker:
        pass
    assert blocker.args == ["stressor"]


def test_break_enables_continue_after_the_countdown(qtbot, clock):
    window = ParticipantWindow(clock=clock)
    qtbot.addWidget(window)
    window.show()
    window.show_break(20)
    button = window.break_screen.continue_button
    assert not button.isEnabled()
    clock.advance(20)
    qtbot.waitUntil(button.isEnabled, timeout=1000)
    with qtbot.waitSignal(window.phase_finished) as blocker:
        qtbot.mouseClick(button, Qt.LeftButton)
    assert blocker.args == ["break"]


def test_instructions_continue_with_space_and_pause_covers_the_screen(qtbot, clock):
    window = ParticipantWindow(clock=clock)
    qtbot.addWidget(window)
    window.show()
    window.show_instructions("You will work on a few tasks.")
    with qtbot.waitSignal(window.proceeded):
        qtbot.keyClick(window.message, Qt.Key_Space)
    view = window.show_task(make_task("none"))
    window.pause()
    assert window.stack.currentWidget() is window.message
    assert "Please wait" in window.visible_text()
    window.resume()
    assert window.stack.currentWidget() is view


def test_screenshots_of_participant_pages(qtbot, clock, screenshot):
    window = ParticipantWindow(clock=clock, stressor_seed=1)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.show_instructions(
        "You will work on six short tasks in an information system. Use any of the "
        "tools on the right as you like. First we measure a short resting baseline."
    )
    screenshot(window, "participant_instructions")
    window.show_rest(120)
    screenshot(window, "participant_rest")
    window.show_stressor(90)
    qtbot.keyClicks(window.stressor.answer_edit, "1")
    qtbot.keyClick(window.stressor.answer_edit, Qt.Key_Return)
    screenshot(window, "participant_stressor")
    view = window.show_task(make_task("confirm", time_limit_s=120))
    qtbot.mouseClick(view.confirm, Qt.LeftButton)
    for fid in ("help", "calculator", "compare"):
        view.feature_widgets[fid].open_panel()
    for key in "41×12=":
        view.feature_widgets["calculator"].press(key)
    qtbot.keyClicks(view.answer_edit, "Plus")
    screenshot(window, "participant_task")
    window.resize(960, 620)
    screenshot(window, "participant_task_small")
    window.resize(1280, 800)
    window.show_break(30)
    screenshot(window, "participant_break")
