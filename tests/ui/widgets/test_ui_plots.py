"""Live plots pull from real LSL stream buffers; readouts and the stream table follow the state."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pylsl
import pytest

from labmrt.state import AffectState
from sensors.acquire import StreamBuffer, find_stream
from ui.widgets import LiveSignals, StreamTable


@pytest.fixture
def ecg_outlet():
    source_id = f"test-ui-{uuid.uuid4()}"
    info = pylsl.StreamInfo(f"uitest-ECG-{source_id[-8:]}", "ECG", 1, 250.0, "float32", source_id)
    outlet = pylsl.StreamOutlet(info)
    yield outlet, source_id
    del outlet


def push_seconds(outlet, seconds: float, sfreq: float = 250.0, start: float | None = None):
    n = int(seconds * sfreq)
    t0 = pylsl.local_clock() - seconds if start is None else start
    values = np.sin(2 * math.pi * 1.2 * np.arange(n) / sfreq).astype(np.float32)
    for i in range(0, n, 25):
        chunk = values[i : i + 25].reshape(-1, 1)
        outlet.push_chunk(chunk, t0 + (i + len(chunk) - 1) / sfreq)


def test_signal_plot_shows_the_last_window_of_a_real_stream(qtbot, ecg_outlet):
    outlet, source_id = ecg_outlet
    desc = find_stream(source_id=source_id, timeout=5.0)
    assert desc is not None
    buf = StreamBuffer(desc, bufsize_s=30.0).connect(acquisition_delay=None)
    try:
        qtbot.waitUntil(lambda: outlet.have_consumers(), timeout=5000)
        push_seconds(outlet, 12.0)
        qtbot.waitUntil(lambda: buf.acquire() >= 0 and buf.n_samples >= 2900, timeout=5000)
        live = LiveSignals([buf], interval_ms=1000)
        qtbot.addWidget(live)
        live.refresh()
        x, y = live.plots[0].curve.getData()
        # The 10 s window at 250 Hz: at most 2501 samples, the last at x = 0.
        assert 2400 <= len(x) <= 2501
        assert x[-1] == 0.0 and x[0] >= -10.0
        assert np.nanmax(np.abs(y)) == pytest.approx(1.0, abs=0.01)
        assert not live.placeholder.isVisibleTo(live)
    finally:
        buf.disconnect()


class FakeBuffer:
    def __init__(self, name, kind, state="streaming", rate=250.0):
        self.name, self.kind, self.state, self.observed_rate = name, kind, state, rate
        self.source_id, self.sfreq = f"src-{name}", 250.0

    def get_data(self, winsize_s=None):
        return np.zeros(0), np.zeros(0)


def test_readouts_and_history_follow_the_monitor_state(qtbot):
    states = iter(
        [
            AffectState(10.0, "calm", 0.2, {"hr": 64.4, "rmssd": 41.0, "scl": 2.345}),
            AffectState(12.0, "aroused", 0.8, {"hr": 92.0, "rmssd": 18.0, "scl": None}),
            AffectState(14.0, "unknown", None, {}, reason="EDA stream lost"),
        ]
    )
    live = LiveSignals([], state=lambda: next(states), interval_ms=1000)
    qtbot.addWidget(live)
    live.refresh_state()
    assert live.readouts.values["hr"].text() == "64 bpm"
    assert live.readouts.values["scl"].text() == "2.35 µS"
    assert live.readouts.state.text() == "calm  p=0.20"
    live.refresh_state()
    assert live.readouts.values["scl"].text() == "–"
    live.refresh_state()
    assert live.readouts.reason.text() == "EDA stream lost"
    assert [p[2] for p in live.history.points] == ["calm", "aroused", "unknown"]
    x, y = live.history.line.getData()
    assert list(x) == [-4.0, -2.0, 0.0]
    assert y[0] == 0.2 and math.isnan(y[2])
    # only the points with a probability are dotted, each in its label's colour
    dots = [p.brush().color().name() for p in live.history.scatter.points()]
    assert dots == ["#2e7d32", "#c62828"]


def test_stream_table_marks_dead_streams_and_poor_quality(qtbot):
    table = StreamTable()
    qtbot.addWidget(table)
    table.show_streams(
        [FakeBuffer("chest ECG", "ecg"), FakeBuffer("wrist EDA", "eda", "lost", None)],
        {"ecg": 0.9, "eda": 0.1},
    )
    assert table.rowCount() == 2
    assert [table.item(1, c).text() for c in range(5)] == [
        "wrist EDA",
        "EDA",
        "lost",
        "– / 250",
        "0.10",
    ]
    assert table.item(0, 3).text() == "250 / 250"
    assert table.item(1, 2).foreground().color().name() == "#c62828"
    assert table.item(0, 2).foreground().color().name() == "#2e7d32"
