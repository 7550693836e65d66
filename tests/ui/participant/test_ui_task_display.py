"""Protocol tasks become participant-screen display records with their task-specific content."""

from __future__ import annotations

from labmrt.protocol import load_protocol
from labmrt.session.display import task_display
from ui.participant import TaskView


def test_task_display_from_the_bundled_protocol(qtbot, clock, protocols_dir):
    protocol = load_protocol(protocols_dir / "framing_affect.toml")
    text = protocol.framed_text(0, "loss")
    display = task_display(protocol, 0, text, decision_point=0)
    task = protocol.tasks[0]
    assert display.text == text and display.task_id == task.id
    assert display.control == "confirm" and display.time_limit_s == task.time_limit_s
    assert display.answer_kind == "choice" and display.choices == tuple(task.choices)
    assert display.heading == f"Task 1 of {len(protocol.tasks)}"
    specs = {s.id: s for s in display.features}
    assert specs["hint"].content == task.hint  # the task's own hint wins over the feature's
    assert specs["help"].content.strip().startswith("# Comparing offers")
    assert specs["table"].table["columns"] == list(task.table.columns)
    assert specs["table"].table["rows"][0][0] == task.table.rows[0][0]
    view = TaskView(display, clock=clock)
    qtbot.addWidget(view)
    assert set(view.feature_widgets) == {"help", "hint", "calculator", "notes", "table"}
    assert view.feature_widgets["table"].table.rowCount() == len(task.table.rows)
