"""The decision log model: one row per decision point, filled in as the framing is received."""

from __future__ import annotations

from PySide6.QtCore import Qt

from ui.widgets import LOG_COLUMNS, DecisionLogModel


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
    row = [model.data(model.index(0, c)) for c in range(len(LOG_COLUMNS))]
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
