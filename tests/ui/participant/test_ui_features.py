"""The instrumented feature widgets: each open, close and use is recorded with its time."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPoint, Qt

from ui.participant import (
    CalculatorWidget,
    ComparisonTableWidget,
    FeatureSpec,
    GenericFeatureWidget,
    HelpPanel,
    HintWidget,
    NotesWidget,
    evaluate,
    make_feature,
)


def record(widget):
    events = []
    widget.activity.connect(lambda *args: events.append(args))
    return events


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1+2*3", 7.0),
        ("(1+2)*3", 9.0),
        ("12 ÷ 4 × 3", 9.0),
        ("-3 + 10", 7.0),
        ("2^10", 1024.0),
        ("1,5 * 2", 3.0),
        ("7/2", 3.5),
    ],
)
def test_evaluate_does_arithmetic(expression, value):
    assert evaluate(expression) == value


@pytest.mark.parametrize("expression", ["", "1/0", "__import__('os')", "a+1", "2**1000", "1+"])
def test_evaluate_refuses_anything_else(expression):
    with pytest.raises(ValueError):
        evaluate(expression)


def test_calculator_keys_compute_and_each_evaluation_is_a_use(qtbot, clock):
    calc = CalculatorWidget(FeatureSpec("calc", "calculator", "Calculator"), clock=clock)
    qtbot.addWidget(calc)
    events = record(calc)
    qtbot.mouseClick(calc.toggle, Qt.LeftButton)
    clock.advance(2.0)
    for key in ["1", "2", "×", "(", "3", "+", "4", ")", "="]:
        qtbot.mouseClick(calc.buttons[key], Qt.LeftButton)
    assert calc.display.text() == "84"
    clock.advance(1.0)
    qtbot.keyClicks(calc.display, "/0")
    qtbot.keyClick(calc.display, Qt.Key_Return)
    assert calc.display.text() == "Error"
    calc.close_panel()
    actions = [(e[0], e[1], e[2]) for e in events]
    assert actions == [
        ("calc", "open", 1000.0),
        ("calc", "use", 1002.0),
        ("calc", "use", 1003.0),
        ("calc", "close", 1003.0),
    ]
    assert json.loads(events[1][3]) == {"expression": "12×(3+4)", "result": "84"}
    assert json.loads(events[2][3])["error"] == "division by zero"


def test_help_topics_each_selection_is_a_use(qtbot, clock):
    spec = FeatureSpec("help", "help", "Help", "# Prices\nCompare the prices.\n# Terms\nRead on.")
    help_panel = HelpPanel(spec, clock=clock)
    qtbot.addWidget(help_panel)
    events = record(help_panel)
    help_panel.open_panel()
    clock.advance(1.5)
    help_panel.topic_list.setCurrentRow(1)
    assert "Read on." in help_panel.text.toPlainText()
    clock.advance(0.5)
    help_panel.close_panel("task_end")
    assert [(e[1], e[2]) for e in events] == [("open", 1000.0), ("use", 1001.5), ("close", 1002.0)]
    assert json.loads(events[1][3]) == {"topic": "Terms"}
    assert json.loads(events[2][3]) == {"reason": "task_end"}
    assert not help_panel.body.isVisible()


def test_hint_is_hidden_until_revealed(qtbot, clock):
    hint = HintWidget(FeatureSpec("hint", "hint", "Hint", "Look at column B."), clock=clock)
    qtbot.addWidget(hint)
    hint.show()
    events = record(hint)
    qtbot.mouseClick(hint.toggle, Qt.LeftButton)
    assert not hint.hint.isVisible()
    qtbot.mouseClick(hint.reveal, Qt.LeftButton)
    assert hint.hint.isVisible()
    assert [e[1] for e in events] == ["open", "use"]


def test_notes_typing_burst_is_one_use_timed_at_its_start(qtbot, clock):
    notes = NotesWidget(FeatureSpec("notes", "notes", "Notes"), clock=clock)
    qtbot.addWidget(notes)
    notes.show()
    events = record(notes)
    qtbot.mouseClick(notes.toggle, Qt.LeftButton)
    clock.advance(3.0)
    qtbot.keyClicks(notes.edit, "plan B")
    clock.advance(1.0)
    qtbot.keyClicks(notes.edit, " is cheaper")
    notes.close_panel()  # flushes the pending burst before the close
    assert [(e[1], e[2]) for e in events] == [("open", 1000.0), ("use", 1003.0), ("close", 1004.0)]
    assert json.loads(events[1][3]) == {"chars": len("plan B is cheaper")}


def test_notes_pause_ends_a_burst(qtbot, clock):
    notes = NotesWidget(FeatureSpec("notes", "notes"), clock=clock)
    notes.PAUSE_MS = 50
    notes._pause.setInterval(50)
    qtbot.addWidget(notes)
    events = record(notes)
    notes.open_panel()
    qtbot.keyClicks(notes.edit, "a")
    qtbot.waitUntil(lambda: len(events) == 2, timeout=2000)
    assert events[1][1] == "use"


def test_comparison_table_is_rendered_from_task_data_and_sorting_is_a_use(qtbot, clock):
    table = {"columns": ["Plan", "Price", "Deductible"], "rows": [["A", 30, 500], ["B", 25, 900]]}
    widget = ComparisonTableWidget(
        FeatureSpec("compare", "comparison_table", "Compare plans", table=table), clock=clock
    )
    qtbot.addWidget(widget)
    widget.show()
    events = record(widget)
    widget.open_panel()
    assert widget.table.rowCount() == 2 and widget.table.columnCount() == 3
    assert widget.table.item(1, 0).text() == "B"
    header = widget.table.horizontalHeader()
    x = header.sectionViewportPosition(1) + header.sectionSize(1) // 2
    qtbot.mouseClick(header.viewport(), Qt.LeftButton, pos=QPoint(x, header.height() // 2))
    assert widget.table.item(0, 0).text() == "B"  # numeric sort by price ascending
    widget.table.cellClicked.emit(0, 2)
    assert [e[1] for e in events] == ["open", "use", "use"]
    assert json.loads(events[1][3]) == {"sort": "Price"}
    assert json.loads(events[2][3]) == {"cell": [0, "Deductible"], "value": "900"}


def test_unknown_kinds_get_the_generic_panel_with_search(qtbot, clock):
    widget = make_feature(
        FeatureSpec("glossary", "glossary", content="premium: the monthly price"), clock=clock
    )
    qtbot.addWidget(widget)
    assert isinstance(widget, GenericFeatureWidget)
    events = record(widget)
    widget.open_panel()
    qtbot.keyClicks(widget.query, "price")
    qtbot.keyClick(widget.query, Qt.Key_Return)
    assert widget.result.text() == "1 match"
    assert json.loads(events[-1][3]) == {"hits": 1, "query": "price"}
