"""Engine signals emitted on the engine's thread arrive as Qt signals on the GUI thread."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from labmrt.session.events import SESSION_SIGNALS, EngineSignals
from ui.session import EngineBridge


def test_every_engine_signal_is_mirrored_and_delivered_on_the_gui_thread(qtbot):
    signals = EngineSignals()
    bridge = EngineBridge()
    bridge.attach(signals)
    gui = QApplication.instance().thread()
    got: list[tuple[str, tuple, bool]] = []
    for name in SESSION_SIGNALS:
        getattr(bridge, name).connect(
            lambda *args, n=name: got.append((n, args, QThread.currentThread() is gui))
        )
    sample = {
        "status_changed": ("running", 12.5, ""),
        "phase_started": ("rest", 13.0, 180.0),
        "phase_ended": ("rest", 193.0),
        "state_read": ("state",),
        "decision_made": ({"decision_point": 0, "arm": "gain"},),
        "task_shown": ("framed task", 14.0),
        "feature_used": ({"feature": "help", "action": "open"},),
        "task_ended": ({"decision_point": 0, "received": True},),
        "outcomes_recorded": (0, {"help_s": 1.5}),
        "progress": (1, 30),
        "failed": ("disk full",),
        "ended": ("completed", ""),
    }
    assert set(sample) == set(SESSION_SIGNALS)

    def engine_thread():
        for name, args in sample.items():
            getattr(signals, name).emit(*args)

    worker = threading.Thread(target=engine_thread)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(got) == len(sample), timeout=3000)
    assert [(n, a) for n, a, _ in got] == list(sample.items())
    signals.task_shown.emit("only the task")  # fewer arguments than the Qt signal: padded
    qtbot.waitUntil(lambda: len(got) == len(sample) + 1, timeout=3000)
    assert got[-1][1] == ("only the task", None)
    got.pop()
    assert all(on_gui for _, _, on_gui in got)
    bridge.detach()
    signals.progress.emit(2, 30)
    qtbot.wait(20)
    assert len(got) == len(sample)
