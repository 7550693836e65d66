"""The stream picker says what each stream carries by its channel metadata."""

from PySide6.QtCore import Qt

from sensors.acquire import Channel, StreamDescription
from ui.console import StreamPicker


def _desc(name, type_, channels, source_id):
    chans = tuple(Channel(i, *c) for i, c in enumerate(channels))
    return StreamDescription(
        name, type_, None, len(chans), 250.0, source_id, "host", f"uid-{source_id}",
        "double64", channels=chans,
    )  # fmt: skip


def test_a_hub_shows_its_signals_and_a_second_source_is_not_ticked(qtbot):
    hub = _desc(
        "Lab hub", "Biosignals",
        [("nSeq", "Counter", ""), ("ECG", "ECG", "uV"), ("EDA", "EDA", "uS")], "a",
    )  # fmt: skip
    ecg = _desc("chest", "ECG", [("ECG", "ECG", "mV")], "b")
    picker = StreamPicker(finder=lambda timeout: [hub, ecg])
    qtbot.addWidget(picker)
    picker.set_streams([hub, ecg])
    assert picker.table.item(0, 2).text() == "ECG+EDA"
    tip = picker.table.item(0, 1).toolTip()
    assert "channel 1 'ECG' -> ECG" in tip and "channel 0 'nSeq' not used" in tip
    assert picker.table.item(0, 0).checkState() == Qt.Checked
    assert picker.table.item(1, 0).checkState() == Qt.Unchecked  # ECG already comes from the hub
