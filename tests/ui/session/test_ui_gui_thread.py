"""Slow work at the two ends of a session stays off the GUI thread, and the plots' axes stay still.

A timer on the GUI thread must keep ticking while the session starts (database
opened, session row written) and ends (the raw-sample recorder's stop, a join
of up to 5 s, and the summary's row counts).
"""

from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import QTimer

from labmrt.protocol import load_protocol
from labmrt.session.events import EngineSignals
from labmrt.store import StudyStore
from ui.console import ConsoleWindow
from ui.participant import ParticipantWindow
from ui.session import EngineBridge, LabSessionHost
from ui.widgets import SignalPlot

PROTOCOL = """
[study]
title = "GUI thread test"
version = "1"
[[arms]]
id = "neutral"
label = "Neutral wording"
framing = "{task}"
baseline = true
[[arms]]
id = "gain"
label = "Gain framing"
framing = "Keep more. {task}"
[randomization]
seed = 5
probabilities = { neutral = 0.5, gain = 0.5 }
[[tasks]]
id = "t0"
text = "Question 0: type any word."
"""


class Ticks:
    """Counts ticks of a 5 ms timer on the GUI thread."""

    def __init__(self):
        self.n = 0
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self):
        self.n += 1


class SlowRecorder:
    """Stands in for SampleRecorder: its stop takes 0.6 s (a join that waits).

    It counts the GUI thread's timer ticks during its stop: blocked in the stop,
    the GUI thread could not tick at all.
    """

    def __init__(self, ticks):
        self.ticks = ticks
        self.stopped_on: list[str] = []
        self.ticks_during: list[int] = []

    def stop(self):
        self.stopped_on.append(threading.current_thread().name)
        before = self.ticks.n
        time.sleep(0.6)
        self.ticks_during.append(self.ticks.n - before)


class EndHost:
    """The console's host at the end of a session: a summary that takes 0.6 s."""

    def __init__(self, ticks):
        self.bridge = EngineBridge()
        self.signals = EngineSignals()
        self.bridge.attach(self.signals)
        self.active = False
        self.ticks = ticks
        self.summary_threads: list[str] = []
        self.ticks_during: list[int] = []

    def summary(self):
        self.summary_threads.append(threading.current_thread().name)
        before = self.ticks.n
        time.sleep(0.6)
        self.ticks_during.append(self.ticks.n - before)
        return {"participant": "P01", "written": {"decisions": 1}}


def test_session_end_summary_runs_off_the_gui_thread(qtbot, tmp_path):
    host = EndHost(Ticks())
    console = ConsoleWindow(host, study_dir=tmp_path / "study")
    qtbot.addWidget(console)
    host.signals.ended.emit("completed", "")
    qtbot.waitUntil(lambda: console.summary_dialog is not None, timeout=5000)
    assert host.summary_threads and host.summary_threads[0] != threading.main_thread().name
    # during the 0.6 s of summary the GUI thread went on ticking (a 5 ms timer)
    assert host.ticks_during[0] >= 3
    assert console.summary_dialog.values["Status"] == "completed"
    assert console.summary_dialog.values["written"] == "decisions=1"
    console.summary_dialog.accept()


def test_recorder_stop_at_session_end_runs_off_the_gui_thread(qtbot):
    window = ParticipantWindow()
    qtbot.addWidget(window)
    host = LabSessionHost(window, markers=False)
    recorder = host.recorder = SlowRecorder(Ticks())
    host.bridge.ended.emit("completed", "")
    qtbot.waitUntil(lambda: host.recorder is None and bool(recorder.stopped_on), timeout=5000)
    assert recorder.stopped_on[0] != threading.main_thread().name
    qtbot.waitUntil(lambda: bool(recorder.ticks_during), timeout=5000)
    assert recorder.ticks_during[0] >= 3
    host.stop_recording()  # a second stop (the summary's) finds nothing left to stop
    assert recorder.stopped_on == recorder.stopped_on[:1]


def test_session_start_in_background(qtbot, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PROTOCOL)
    setup = {
        "study_dir": tmp_path / "study",
        "protocol": load_protocol(path),
        "participant": "P09",
        "streams": [],
    }
    window = ParticipantWindow()
    qtbot.addWidget(window)
    window.show()
    host = LabSessionHost(window, markers=False)
    started, failed = [], []
    host.start_in_background(setup, lambda: started.append(1), lambda m, d: failed.append(m))
    assert host.active and host.engine is None  # a second Start is refused meanwhile
    qtbot.waitUntil(lambda: bool(started or failed), timeout=10000)
    assert not failed
    assert host.engine is not None and "Welcome" in window.visible_text()
    with StudyStore.open(tmp_path / "study", readonly=True) as store:
        assert store.sessions()["participant"].tolist() == ["P09"]
    host.abort("test over")
    qtbot.waitUntil(lambda: not host.active, timeout=8000)
    host.shutdown()


def test_session_start_failure_is_reported_not_raised(qtbot, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PROTOCOL)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the study folder should be")
    window = ParticipantWindow()
    qtbot.addWidget(window)
    host = LabSessionHost(window, markers=False)
    failed = []
    host.start_in_background(
        {"study_dir": blocker, "protocol": load_protocol(path), "participant": "P09"},
        lambda: None,
        lambda message, details: failed.append(message),
    )
    qtbot.waitUntil(lambda: bool(failed), timeout=10000)
    assert str(blocker.name) in failed[0] or "folder" in failed[0].lower()
    assert not host.active and host.engine is None and host.store is None


class SteadyBuffer:
    name, kind, source_id, sfreq, state, observed_rate = "ecg", "ecg", "ecg", 250.0, "", 250.0

    def __init__(self):
        self.scale = 1.0
        self.rng = np.random.default_rng(0)

    def get_data(self, winsize_s=None):
        t = np.arange(0, 10, 1 / 250)
        return self.scale * (np.sin(2 * np.pi * 1.2 * t) + 0.05 * self.rng.normal(size=t.size)), t


def test_signal_axis_moves_only_when_the_trace_leaves_or_shrinks(qtbot):
    buf = SteadyBuffer()
    plot = SignalPlot(buf)
    qtbot.addWidget(plot)
    plot.refresh()
    first = plot.y_range
    assert first is not None and first[0] < -1.0 and first[1] > 1.0
    for _ in range(20):  # new noise every frame, same signal: the axis stays
        plot.refresh()
        assert plot.y_range == first
        assert plot.getViewBox().viewRange()[1] == list(first)
    buf.scale = 3.0  # the trace leaves the range: the axis follows
    plot.refresh()
    assert plot.y_range[1] > 3.0
    buf.scale = 0.5  # shrinks to under a third: the axis zooms in
    plot.refresh()
    assert plot.y_range[1] < 1.0
