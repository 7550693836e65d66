"""The task view at the participant screen's minimum size: every column, every tool, no jumps."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication, QWidget

from labmrt.protocol import load_protocol
from labmrt.session.display import task_display
from ui.participant import ParticipantWindow

BUNDLED = ("demo.toml", "framing_affect.toml")


def settle() -> None:
    for _ in range(4):
        QApplication.processEvents()


def rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())


@pytest.fixture
def small_window(qtbot):
    window = ParticipantWindow(clock=lambda: 0.0)
    qtbot.addWidget(window)
    window.resize(window.minimumSize())
    window.show()
    return window


def table_tasks(protocols_dir):
    for name in BUNDLED:
        protocol = load_protocol(protocols_dir / name)
        for i, task in enumerate(protocol.tasks):
            if task.table is not None:
                yield name, protocol, i


def test_every_column_and_every_tool_is_in_view_at_the_minimum_size(small_window, protocols_dir):
    """The answer depends on the table's columns: none may hide behind a scroll bar, for any
    bundled task, with every tool open at once."""
    checked = 0
    for name, protocol, i in table_tasks(protocols_dir):
        task = protocol.tasks[i]
        view = small_window.show_task(task_display(protocol, i, task.text))
        view.confirm_read()
        for widget in view.feature_widgets.values():
            widget.open_panel()
        settle()
        where = f"{name}: task {task.id}"
        table = next(w for w in view.feature_widgets.values() if hasattr(w, "table")).table
        assert not table.horizontalScrollBar().isVisible(), where
        width = table.viewport().width()
        for c in range(table.columnCount()):
            right = table.columnViewportPosition(c) + table.columnWidth(c)
            assert table.columnViewportPosition(c) >= 0 and right <= width, f"{where} column {c}"
        assert small_window.rect().contains(rect_in(table, small_window)), where
        for button in view.choice_group.buttons() if view.choice_group else ():
            assert button.width() >= button.sizeHint().width(), f"{where}: {button.text()}"
        # the open tools share the column: nothing below the fold, nothing to scroll to
        scroll = view.tools
        assert scroll.verticalScrollBar().maximum() == 0, where
        for fid, widget in view.feature_widgets.items():
            assert widget.isVisible(), f"{where}: {fid}"
            assert small_window.rect().contains(rect_in(widget, small_window)), f"{where}: {fid}"
        checked += 1
    assert checked >= 30  # both bundled protocols' comparison tasks were looked at


def test_reading_the_task_or_opening_a_tool_moves_nothing(small_window, protocols_dir):
    protocol = load_protocol(protocols_dir / "demo.toml")
    view = small_window.show_task(task_display(protocol, 0, protocol.tasks[0].text))
    settle()
    fixed = {"text": view.framing, "answer": view.workspace, "table": view.feature_widgets["table"]}

    def places() -> dict[str, QRect]:
        settle()
        return {k: rect_in(w, view) for k, w in fixed.items()}

    before = places()
    view.confirm_read()
    assert places() == before, "the read button's row changed height"
    notes = view.feature_widgets["notes"]
    notes.open_panel()
    for fid in ("hint", "calculator", "help", "table"):
        view.feature_widgets[fid].open_panel()
        now = places()
        moved = {k for k in ("text", "answer") if now[k] != before[k]}
        assert not moved, f"opening {fid} moved {moved}"
        assert notes.isVisible() and view.tools.verticalScrollBar().maximum() == 0, fid
    assert rect_in(view.feature_widgets["table"], view).topLeft() == before["table"].topLeft()


def test_tools_show_they_are_locked_until_the_task_is_read(small_window, protocols_dir):
    protocol = load_protocol(protocols_dir / "demo.toml")
    view = small_window.show_task(task_display(protocol, 0, protocol.tasks[0].text))
    view.start()
    settle()
    toggles = {fid: w.toggle for fid, w in view.feature_widgets.items()}
    assert not any(t.isEnabled() for t in toggles.values())
    assert view.lock_note.isVisible() and "unlock" in view.lock_note.text().lower()
    locked = {fid: t.grab().toImage() for fid, t in toggles.items()}
    view.confirm_read()
    settle()
    assert all(t.isEnabled() for t in toggles.values())
    assert view.read_note.isVisible() and not view.lock_note.isVisible()
    # a locked button is drawn differently from a usable one (not only refusing clicks)
    for fid, toggle in toggles.items():
        assert toggle.grab().toImage() != locked[fid], fid
