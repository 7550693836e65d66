"""The experimenter console against a scripted host: set-up checks, live session view, controls."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from labmrt.session.events import EngineSignals
from labmrt.state import AffectState
from ui.console import ConsoleWindow
from ui.session import EngineBridge


class FakeBuffer:
    def __init__(self, name, kind, state="streaming"):
        self.name, self.kind, self.state = name, kind, state
        self.source_id, self.sfreq, self.observed_rate = f"src-{name}", 250.0, 250.0

    def get_data(self, winsize_s=None):
        import numpy as np

        t = np.arange(0, 10, 1 / 250)
        return np.sin(2 * np.pi * 1.1 * t), t


class FakeHost:
    """Records what the console asks for; the test plays the engine through ``signals``."""

    def __init__(self):
        self.bridge = EngineBridge()
        self.signals = EngineSignals()
        self.bridge.attach(self.signals)
        self.calls: list = []
        self._active = False
        self.buffers = [FakeBuffer("chest ECG", "ecg"), FakeBuffer("wrist EDA", "eda")]

    @property
    def active(self):
        return self._active

    def start(self, setup):
        self.calls.append(("start", setup["participant"], setup.get("resume_of")))
        self._active = True

    def pause(self):
        self.calls.append(("pause",))

    def resume(self):
        self.calls.append(("resume",))

    def abort(self, reason):
        self.calls.append(("abort", reason))

    def interrupt(self):
        self.calls.append(("interrupt",))
        self._active = False

    def summary(self):
        return {"participant": "P07", "study_dir": "/tmp/study", "written": {"decisions": 3}}

    def interrupted_sessions(self, study_dir):
        return []

    def start_simulated_sensors(self):
        return []

    def connect_streams(self, descriptions):
        return self.buffers, lambda: AffectState(
            1.0,
            "aroused",
            0.74,
            {"hr": 88.0, "rmssd": 22.0, "scl": 6.1},
            quality={"ecg": 0.9, "eda": 0.3},
        )


@pytest.fixture
def console(qtbot, tmp_path, protocols_dir):
    host = FakeHost()
    window = ConsoleWindow(host, protocols_dir=protocols_dir, study_dir=tmp_path / "study")
    window.show()
    yield window
    window._force_close = True  # no "session running" question when the test closes it
    window.close()
    window.deleteLater()


def test_protocol_problems_are_listed_and_block_the_start(qtbot, console, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[study]\ntitle = "x"\nversion = "1"\n[[arms]]\nid = "a"\n')
    assert not console.load_protocol(bad)
    assert console.problems.isVisible() and console.problems.count() >= 1
    assert all(
        "bad.toml" in console.problems.item(i).text() for i in range(console.problems.count())
    )
    console.participant_edit.setText("P07")
    assert not console.start_button.isEnabled()
    ok = console.protocol_combo.findText("framing_affect.toml")
    console.protocol_combo.setCurrentIndex(ok)
    assert console.protocol is not None and not console.problems.isVisible()
    assert "Framing and affect" in console.protocol_summary.toPlainText()
    assert console.start_button.isEnabled()


def test_participant_code_is_checked_before_starting(qtbot, console):
    console.protocol_combo.setCurrentIndex(console.protocol_combo.findText("framing_affect.toml"))
    console.participant_edit.setText("Anna Smith")
    assert not console.start_session()
    boxes = console.findChildren(QMessageBox)
    assert boxes and "participant" in boxes[-1].informativeText().lower()
    assert console.host.calls == []


def test_a_session_as_the_engine_announces_it(qtbot, console, screenshot):
    host = console.host
    console.protocol_combo.setCurrentIndex(console.protocol_combo.findText("framing_affect.toml"))
    console.participant_edit.setText("P07")
    console.connect_selected_streams = lambda: None
    console.set_buffers(*host.connect_streams([]))
    console.live.refresh_state()
    console._update_streams()
    assert console.stream_table.rowCount() == 2
    assert "Poor signal quality: EDA" in console.warning.text()
    host.buffers[1].state = "lost"
    console._update_streams()
    assert console.warning.text().startswith("Stream lost: wrist EDA")
    assert console.stream_table.item(1, 2).text() == "lost"
    host.buffers[1].state = "streaming"
    assert console.start_session()
    assert host.calls == [("start", "P07", None)]
    assert not console.start_button.isEnabled() and console.pause_button.isEnabled()
    s = host.signals
    t0 = console._clock()
    s.status_changed.emit("running", t0, "")
    s.phase_started.emit("rest", t0 - 30, 180.0)
    qtbot.waitUntil(lambda: console.phase_bar.isVisible(), timeout=2000)
    assert console.phase_label.text() == "Calibration: rest"
    assert console.phase_bar.format() in ("2:30 left", "2:29 left")
    s.phase_ended.emit("rest", t0)
    probs = {"neutral": 0.5, "gain": 0.25, "loss": 0.25}
    for dp in range(3):
        s.decision_made.emit(
            {
                "decision_point": dp,
                "task_index": dp,
                "task_id": f"task{dp}",
                "t": t0 + 20 * dp,
                "available": dp != 1,
                "unavailable_reason": "" if dp != 1 else "no valid signal",
                "arm": None if dp == 1 else "loss",
                "probabilities": probs,
                "state": "aroused",
                "p_aroused": 0.74,
            }
        )
        s.task_ended.emit({"decision_point": dp, "received": dp != 2})
        s.progress.emit(dp + 1, 30)
    qtbot.waitUntil(lambda: console.log_model.rowCount() == 3, timeout=2000)
    assert console.progress_label.text() == "Task 4 of 30"
    assert console.log_model.text(console.log_model.rows[2], "Received") == "no"
    console.live.refresh()
    console.resize(1400, 860)
    screenshot(console, "console_session")
    console.resize(1100, 680)
    screenshot(console, "console_small")
    console.resize(1400, 860)

    console.toggle_pause()
    s.status_changed.emit("paused", t0 + 70, "paused by the experimenter")
    qtbot.waitUntil(lambda: console.status == "paused", timeout=2000)
    assert console.pause_button.text().startswith("Resume")
    console.toggle_pause()
    assert host.calls[-2:] == [("pause",), ("resume",)]

    def fill_abort():
        dialog = console._abort_dialog
        assert not dialog.abort_button.isEnabled()  # a reason is required
        dialog.reason.setPlainText("participant felt unwell")
        dialog.abort_button.click()

    QTimer.singleShot(50, fill_abort)
    console.abort_session()
    assert host.calls[-1] == ("abort", "participant felt unwell")
    host._active = False
    s.ended.emit("aborted", "participant felt unwell")
    qtbot.waitUntil(lambda: console.summary_dialog is not None, timeout=2000)
    values = console.summary_dialog.values
    assert values["Decision points"] == "3"
    assert values["Available"].startswith("2")
    assert values["Arms drawn"] == "loss: 2"
    assert values["Status"] == "aborted (participant felt unwell)"
    assert values["written"] == "decisions=3"
    screenshot(console.summary_dialog, "console_summary")


def test_closing_mid_session_asks_and_leaves_it_resumable(qtbot, console, monkeypatch):
    console.protocol_combo.setCurrentIndex(console.protocol_combo.findText("framing_affect.toml"))
    console.participant_edit.setText("P08")
    console.start_session()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.No)
    console.close()
    assert console.isVisible() and ("interrupt",) not in console.host.calls
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    closed = []
    console.closed.connect(lambda: closed.append(True))
    console.close()
    assert not console.isVisible() and console.host.calls[-1] == ("interrupt",)
    assert closed == [True]


def test_keyboard_shortcuts_reach_the_actions(qtbot, console):
    shortcuts = {a.text(): a.shortcut().toString() for a in console.actions()}
    assert shortcuts["Start session"] == "F5"
    assert shortcuts["Pause / resume"] == "Ctrl+P"
    assert shortcuts["Abort…"] == "Ctrl+Shift+A"
    assert shortcuts["Analysis…"] == "Ctrl+E"
    console.protocol_combo.setCurrentIndex(console.protocol_combo.findText("framing_affect.toml"))
    console.participant_edit.setText("P09")
    console.act_start.trigger()
    assert console.host.calls == [("start", "P09", None)]
    QApplication.processEvents()


def test_console_shows_how_well_the_calibration_separated(qtbot, console, screenshot):
    """After calibration the operator reads the separation and the non-responder warnings."""
    host = console.host
    host.calibration_problem = lambda: "rest and stressor did not separate on eda features"
    host.calibration_summary = lambda: {
        "status": "not separated",
        "models": {"eda": {"auc": 0.55, "ok": False}},
        "warnings": ["heart rate did not change between rest and stressor (+0.4 bpm)"],
    }
    console.set_buffers(*host.connect_streams([]))
    console._on_phase_started("task", 1.0, None)
    text = console.warning.text()
    assert "Calibration did not separate rest from stressor (cross-validated AUC eda 0.55" in text
    assert "warning: heart rate did not change" in text
    screenshot(console, "console_calibration_not_separated")
    host.calibration_summary = lambda: {
        "status": "ok",
        "models": {"eda": {"auc": 0.97, "ok": True}, "cardiac": {"auc": 0.5, "ok": False}},
        "warnings": [],
    }
    console._on_phase_started("task", 2.0, None)
    assert "Calibration separated rest from stressor" in console.warning.text()
    assert "eda 0.97, cardiac 0.50 (not used)" in console.warning.text()
    host.calibration_summary = lambda: {
        "status": "rest reference",
        "models": {"eda": {"auc": 0.55, "ok": False}},
        "warnings": [],
    }
    console._on_phase_started("task", 3.0, None)
    text = console.warning.text()
    assert "did not separate rest from stressor (cross-validated AUC eda 0.55 (not used))" in text
    assert "states from the rest reference only" in text
    screenshot(console, "console_calibration_rest_reference")
