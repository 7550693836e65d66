"""Pieces of the experimenter console: decision log model and stream picker."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt

from ui.decision_log import COLUMNS, DecisionLogModel
from ui.streams import StreamPicker


def decision(point, available=True, arm="loss", state="aroused", p=0.81):
    return {
        "decision_point": point,
        "task_index": point,
        "task_id": f"t{point}",
        "t": 100.0 + 30 * point,
        "available": available,
        "unavailable_reason": "" if available else "EDA stream lost",
        "arm": arm if available else None,
        "probabilities": {"neutral": 0.2, "gain": 0.4, "loss": 0.4} if available else {},
        "state": state,
        "p_aroused": p,
    }


def test_decision_log_rows_received_and_counts(qtbot):
    model = DecisionLogModel()
    model.clear(t0=100.0)
    model.add_decision(decision(0))
    model.add_decision(decision(1, available=False, state="unknown", p=None))
    model.add_decision(decision(2, arm="gain", state="calm", p=0.1))
    model.add_decision(decision(2))  # repeated notification is ignored
    model.set_received(0, True)
    model.set_received(2, False)
    assert model.rowCount() == 3
    row = [model.data(model.index(0, c)) for c in range(len(COLUMNS))]
    assert row == [
        "0:00.0",
        "1. t0",
        "yes",
        "loss",
        "neutral 0.20  gain 0.40  loss 0.40",
        "aroused (0.81)",
        "yes",
    ]
    assert model.data(model.index(1, 2)) == "no (EDA stream lost)"
    assert model.data(model.index(1, 5)) == "unknown"
    assert model.data(model.index(2, 0)) == "1:00.0"
    assert model.data(model.index(2, 6), Qt.ForegroundRole).name() == "#c62828"
    assert model.counts() == {
        "decision_points": 3,
        "available": 2,
        "availability_rate": 2 / 3,
        "arms": {"loss": 1, "gain": 1},
        "received": 1,
    }


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
