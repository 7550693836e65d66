"""The stream picker finds streams in the background and ticks one of each kind."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt

from ui.console import StreamPicker


@dataclass(frozen=True)
class Desc:
    name: str
    kind: str
    nominal_srate: float
    source_id: str


def test_stream_picker_finds_in_background_and_ticks_one_per_kind(qtbot):
    found = [
        Desc("chest ECG", "ecg", 500.0, "a"),
        Desc("second ECG", "ecg", 250.0, "b"),
        Desc("wrist EDA", "eda", 64.0, "c"),
    ]
    picker = StreamPicker(finder=lambda timeout: found)
    qtbot.addWidget(picker)
    with qtbot.waitSignal(picker.streams_found, timeout=3000):
        picker.refresh()
    assert picker.status.text() == "3 streams found"
    assert [d.source_id for d in picker.selected()] == ["a", "c"]
    picker.table.item(1, 0).setCheckState(Qt.Checked)
    assert len(picker.selected()) == 3
    with qtbot.waitSignal(picker.simulate_requested):
        qtbot.mouseClick(picker.simulate_button, Qt.LeftButton)
