"""Background jobs deliver results, errors and progress on the GUI thread."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QThread

from labmrt.errors import LabmrtError
from ui.widgets import run_in_background


def test_result_arrives_on_the_gui_thread(qtbot):
    seen = {}

    def slow():
        seen["worker"] = threading.current_thread()
        return 42

    def done(value):
        seen["value"] = value
        seen["gui"] = QThread.currentThread() is qtbot_app_thread()

    job = run_in_background(slow, on_done=done)
    qtbot.waitUntil(lambda: "value" in seen, timeout=3000)
    assert seen["value"] == 42 and seen["gui"]
    assert seen["worker"] is not threading.main_thread()
    qtbot.waitUntil(lambda: not job.running, timeout=3000)


def qtbot_app_thread():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance().thread()


def test_user_errors_come_back_as_messages_without_traceback(qtbot):
    errors = []

    def bad():
        raise LabmrtError("outcome: column 'y' is missing", fix="pick another outcome")

    run_in_background(bad, on_error=lambda m, d: errors.append((m, d)))
    qtbot.waitUntil(lambda: len(errors) > 0, timeout=3000)
    assert errors == [("outcome: column 'y' is missing (pick another outcome)", "")]


def test_progress_and_cancel(qtbot):
    progress = []
    results = []

    def loop(control):
        for i in range(1000):
            if not control.progress(i, 1000):
                return ("cancelled", i)
            time.sleep(0.002)
        return ("finished", 1000)

    job = run_in_background(
        loop, with_control=True, on_progress=lambda d, t: progress.append(d), on_done=results.append
    )
    qtbot.waitUntil(lambda: len(progress) > 5, timeout=3000)
    job.cancel()
    qtbot.waitUntil(lambda: len(results) > 0, timeout=3000)
    assert results[0][0] == "cancelled" and results[0][1] < 1000
