"""Make the documentation's screenshots of the desktop app from a real demo session.

Runs ``labmrt demo`` as a newcomer gets it (the demo protocol, participant D10, simulated
ECG/EDA sensors in a child process, the windows placed on one 1920 x 1080 screen) under
Xvfb with openbox (:mod:`screen`), a scripted participant who takes about half a minute
a task and opens every tool, then opens the analysis view on a simulated 24-participant
study (``labmrt demo --headless``). Takes about seven minutes.

    .venv/bin/python docs/screenshots/make_screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from screen import save, window_manager  # noqa: E402

TASK_S = 30.0  # the scripted participant's pace: every decision point stays available


class Participant:
    """Reads, confirms, opens every tool, uses them, answers; one step per timer tick."""

    def __init__(self, window):
        from PySide6.QtCore import QTimer

        self.window = window
        self.shown: dict[int, float] = {}
        self.posed = False  # the task with every tool open has been photographed
        self.timer = QTimer()
        self.timer.setInterval(250)
        self.timer.timeout.connect(self.act)
        self.timer.start()

    def act(self) -> None:
        w = self.window
        page = w.stack.currentWidget()
        if page is w.message and w.message.button.isVisibleTo(w.message):
            w.message.button.click()
        elif page is w.stressor and w.stressor.answer_edit.isEnabled() and w.stressor.problem:
            w.stressor.answer_edit.setText(str(w.stressor.problem.answer))
            w.stressor.submit()
        elif w.task_view is not None and page is w.task_view and not w.task_view._done:
            view = w.task_view
            shown = self.shown.setdefault(id(view), time.monotonic())
            age = time.monotonic() - shown
            if not view.confirmed and age > 4.0:
                view.confirm_read()
                self.use_tools(view)
            elif view.confirmed and age > TASK_S:
                view.choice_group.button(len(view.task.choices) - 1).click()
                view.submit()

    @staticmethod
    def use_tools(view) -> None:
        tools = view.feature_widgets
        for widget in tools.values():
            widget.open_panel()
        tools["hint"]._reveal()
        tools["help"].topic_list.setCurrentRow(1)
        for key in "24×18.15=":
            tools["calculator"].press(key)
        tools["notes"].edit.setPlainText("Plan B: 24 x 18.15 = 435.60\nPlan A has too little data")
        view.choice_group.button(1).click()


def main() -> None:
    with window_manager():
        run()


def run() -> None:
    from PySide6.QtWidgets import QApplication

    from labmrt.commands.demo import APP_DEMO_PROTOCOL, bundled_protocol
    from labmrt.commands.gui import demo_settings
    from ui.app import LabmrtApp

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    tmp = Path(tempfile.mkdtemp(prefix="labmrt-shots-"))

    def spin(seconds: float, until=None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until()):
            app.processEvents()
            time.sleep(0.005)

    lab = LabmrtApp(**demo_settings(bundled_protocol(APP_DEMO_PROTOCOL), tmp / "study"))
    lab.console._force_close = True
    lab.show()  # starts the simulated sensors (a child process that imports NeuroKit2 first)
    console, window = lab.console, lab.participant_window
    spin(90, until=lambda: len(console.buffers) == 2)
    spin(15)  # the live plots fill
    assert console.start_session()
    participant = Participant(window)
    spin(100, until=lambda: console.phase_label.text().startswith("Calibration: stressor"))
    spin(15)
    save(window, OUT / "participant_stressor.png")
    save(console, OUT / "console_calibration.png")
    spin(60, until=lambda: window.task_view is not None)

    def first_task_read() -> bool:  # the phone plans: what the notes and the calculator say
        view = window.task_view
        return view is not None and view.task.task_index == 0 and view.confirmed

    spin(2.0 * TASK_S, until=first_task_read)
    spin(1.5)
    save(window, OUT / "participant_task.png")  # every tool open
    spin(6.0 * TASK_S, until=lambda: console.log_model.rowCount() >= 8)
    spin(3)
    save(console, OUT / "console_session.png")
    save(console, OUT / "one_screen.png", whole_screen=True)
    ended = []
    lab.host.bridge.ended.connect(lambda s, r: ended.append(s))
    spin(2.0 * TASK_S, until=lambda: bool(ended))
    spin(
        20, until=lambda: console.summary_dialog is not None and console.summary_dialog.isVisible()
    )
    spin(3)
    if console.summary_dialog is not None:
        save(console.summary_dialog, OUT / "console_summary.png")
        console.summary_dialog.accept()
    participant.timer.stop()

    demo = tmp / "demo-study"
    subprocess.run(
        [sys.executable, "-m", "labmrt.cli", "demo", "--headless", "--out", str(demo)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    analysis = lab.open_analysis(demo / "export")
    spin(30, until=lambda: analysis.data is not None)
    analysis.contrast_combo.setCurrentIndex(analysis.contrast_combo.findText("loss vs neutral"))
    for i in range(analysis.moderators.count()):
        item = analysis.moderators.item(i)
        if item.text() == "affect_state":
            item.setCheckState(item.checkState().__class__.Checked)
    analysis.run()
    spin(30, until=lambda: analysis.outcome is not None)
    analysis.draws.setValue(2000)
    job = analysis.run_check()
    spin(60, until=lambda: not job.running)
    analysis.raise_()
    spin(1)
    save(analysis, OUT / "analysis_view.png")
    dialog = analysis.open_sample_size()
    dialog.resize(900, 560)
    spin(1)
    save(dialog, OUT / "analysis_sample_size.png")
    dialog.close()
    lab.quit()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
