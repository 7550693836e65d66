"""Longest GUI-thread stall of the desktop app during a simulated session with live plots.

The app runs offscreen with everything real: simulated ECG (500 Hz) and EDA
(64 Hz) LSL outlets, the live monitor, live plots redrawn every 50 ms, the
session engine on its own thread writing to SQLite, and the participant
screen driven by a scripted participant (confirms, opens tools, uses the
calculator, answers; one click every 150 ms). A 2 ms heartbeat timer on the GUI thread records the
gap between its ticks; a stall is a gap beyond the interval. The same
heartbeat is measured first on the idle app (no streams, no session) as the
baseline of the machine and the Qt event loop. The measured stretch runs from
before the operator's Start (F5, through the event loop) to a second after
the summary dialog opens: at ``--seconds`` the operator aborts a session that
has not ended, so the session end (the raw-sample recorder's stop and the
summary) is always measured. Each gap also records the GUI thread's and the
process's CPU time, to tell the GUI thread's own work from waiting for a core.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_stall.py [--seconds 60]

Goal: longest stall under 50 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROTOCOL = """
moderators = ["affect_state", "hr", "scl"]
[study]
title = "GUI stall benchmark"
version = "1"
[[arms]]
id = "neutral"
label = "Neutral wording"
framing = "{task}"
baseline = true
[[arms]]
id = "gain"
label = "Gain framing"
framing = "Keep more money. {task}"
[randomization]
seed = 3
probabilities = { neutral = 0.5, gain = 0.5 }
[[features]]
id = "help"
label = "Help"
kind = "help"
content = "# Totals\\nAdd it up.\\n# Rules\\nRead the task."
[[features]]
id = "calculator"
label = "Calculator"
kind = "calculator"
[[features]]
id = "table"
label = "Comparison table"
kind = "comparison_table"
[control]
require_confirmation = true
min_dwell_s = 3
[calibration]
rest_s = 8
stressor_s = 8
[sensors]
streams = ["ecg", "eda"]
"""

TASK = """
[[tasks]]
id = "t{i}"
text = "Task {i}: which offer is cheaper over a year?"
answer_kind = "choice"
choices = ["A", "B"]
correct = "B"
table = {{ columns = ["Offer", "Monthly", "Setup"], rows = [["A", 10, 0], ["B", 8, 20]] }}
"""


class Heartbeat:
    """Gaps between ticks of a fast timer on the GUI thread.

    Each gap also records the CPU time the GUI thread and the whole process
    spent in it: a stall in which the GUI thread ran for most of the gap is its
    own work; one in which it hardly ran was waiting (for the GIL held by
    another thread of the app, or for a core taken by other processes).
    """

    def __init__(self, interval_ms: int = 2):
        self.interval_ms = interval_ms
        self.gaps: list[float] = []
        self.cpu: list[tuple[float, float]] = []  # (GUI thread, process) CPU ms per gap
        self._clock = QElapsedTimer()
        self._cpu_at = (0.0, 0.0)
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self.cpu.clear()
        self._clock.start()
        self._cpu_at = (time.thread_time(), time.process_time())
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        self.gaps.append(self._clock.nsecsElapsed() / 1e6)
        self._clock.restart()
        now = (time.thread_time(), time.process_time())
        self.cpu.append(((now[0] - self._cpu_at[0]) * 1e3, (now[1] - self._cpu_at[1]) * 1e3))
        self._cpu_at = now

    def stalls(self) -> np.ndarray:
        return np.maximum(np.asarray(self.gaps[1:]) - self.interval_ms, 0.0)

    def busiest(self) -> tuple[float, float]:
        """The most CPU the GUI thread spent between two ticks (ms), and that gap's stall.

        Unlike the stall itself this hardly depends on other processes: it is the
        GUI thread's own longest piece of work, what an idle machine would see.
        """
        gui = np.asarray([c[0] for c in self.cpu[1:]])
        i = int(np.argmax(gui))
        return float(gui[i]), float(self.stalls()[i])

    def longest(self) -> tuple[float, float, float]:
        """The longest stall and the GUI thread's and the process's CPU ms during it."""
        stalls = self.stalls()
        i = int(np.argmax(stalls))
        gui, proc = self.cpu[1:][i]
        return float(stalls[i]), gui, proc


class ScriptedParticipant:
    """Drives the participant window like a quick, tool-happy participant."""

    def __init__(self, window, rng: np.random.Generator):
        self.window = window
        self.rng = rng
        self.tasks_done = 0
        self._due = 0.0
        self._read_until: float | None = None
        self._clicks: list = []
        self._timer = QTimer()
        self._timer.setInterval(150)
        self._timer.timeout.connect(self._act)
        self._timer.start()

    def _act(self) -> None:
        w = self.window
        page = w.stack.currentWidget()
        now = time.monotonic()
        if page is w.message and w.message.button.isVisibleTo(w.message):
            w.message.button.click()
        elif page is w.stressor and w.stressor.answer_edit.isEnabled() and w.stressor.problem:
            w.stressor.answer_edit.setText(str(w.stressor.problem.answer))
            w.stressor.submit()
        elif w.task_view is not None and page is w.task_view and not w.task_view._done:
            view = w.task_view
            if not view.confirmed and self._read_until is None:
                # reads the framing for longer than the protocol's minimum dwell (3 s)
                self._read_until = now + float(self.rng.uniform(3.2, 4.5))
            elif not view.confirmed and now >= self._read_until:
                self._read_until = None
                view.confirm_read()
                self._due = now + float(self.rng.uniform(1.0, 3.0))
                # then one click per tick (150 ms), as a quick participant would click
                tools = view.feature_widgets
                calc = tools["calculator"]
                self._clicks = [
                    tools["help"].open_panel,
                    lambda: tools["help"].topic_list.setCurrentRow(1),
                    tools["table"].open_panel,
                    calc.open_panel,
                    *[lambda key=key: calc.press(key) for key in "8×12+20="],
                ]
            elif view.confirmed and self._clicks:
                self._clicks.pop(0)()
            elif view.confirmed and now >= self._due:
                view.choice_group.button(1).click()
                view.submit()
                self.tasks_done += 1


def run(seconds: float, n_tasks: int) -> None:
    from ui.app import LabmrtApp

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    tmp = Path(tempfile.mkdtemp(prefix="labmrt-bench-gui-"))
    protocol = tmp / "protocol.toml"
    protocol.write_text(PROTOCOL + "".join(TASK.format(i=i) for i in range(n_tasks)))

    def spin(duration_s: float, until=None) -> None:
        end = time.monotonic() + duration_s
        while time.monotonic() < end and not (until and until()):
            app.processEvents()
            time.sleep(0.001)

    lab = LabmrtApp(study_dir=tmp / "study", protocol=protocol, participant="B01")
    lab.console._force_close = True
    lab.show()
    beat = Heartbeat()

    # Baseline: the idle app, same windows, no streams, no session (after the first paint).
    spin(2.0)
    beat.start()
    spin(min(10.0, seconds / 4))
    beat.stop()
    idle = beat.stalls()

    lab.console.start_simulated_sensors()  # a child process: it imports NeuroKit2 first

    def streaming() -> bool:
        return len(lab.console.buffers) == 2 and all(
            b.state == "streaming" for b in lab.console.buffers
        )

    spin(90.0, until=streaming)
    if not streaming():
        raise SystemExit("the simulated sensors did not stream within 90 s; nothing measured")
    spin(2.0)
    participant = ScriptedParticipant(lab.participant_window, np.random.default_rng(1))
    beat.start()
    t0 = time.monotonic()
    spin(0.5)
    # F5 through the event loop, so the session start is inside a measured gap
    # (the first gap after the heartbeat starts is not counted).
    started = []
    QTimer.singleShot(0, lambda: started.append(lab.console.start_session()))
    spin(10.0, until=lambda: bool(started))
    assert started == [True], "the session did not start"
    ended = []
    lab.host.bridge.ended.connect(lambda status, reason: ended.append((status, time.monotonic())))
    spin(seconds, until=lambda: bool(ended))
    if not ended:
        # The operator ends the session at the time limit, so that every run measures
        # the session end too: the recorder's stop (join + last copy) and the summary.
        lab.host.abort("the benchmark's time is up")
    spin(30.0, until=lambda: lab.console.summary_dialog is not None)
    summary_at = time.monotonic()
    spin(1.0)  # and the summary dialog's first paint
    beat.stop()
    elapsed = time.monotonic() - t0
    busy = beat.stalls()
    _, gui_cpu, proc_cpu = beat.longest()
    busiest_cpu, busiest_stall = beat.busiest()
    status, ended_at = ended[0] if ended else ("did not end", float("nan"))
    engine = lab.host.engine
    decisions = len(lab.host.store.decisions(engine.session_id)) if engine else 0
    if lab.console.summary_dialog is not None:
        lab.console.summary_dialog.accept()
    lab.quit()

    def describe(name: str, stalls: np.ndarray, wall: float) -> None:
        print(
            f"{name:<34} ticks {len(stalls):>6}  longest stall {stalls.max():6.1f} ms  "
            f"p99 {np.percentile(stalls, 99):5.1f} ms  median {np.median(stalls):4.1f} ms  "
            f"({wall:.0f} s)"
        )

    print(f"heartbeat interval {beat.interval_ms} ms on the GUI thread")
    describe("idle app (baseline)", idle, min(10.0, seconds / 4))
    describe("session + live plots + sensors", busy, elapsed)
    print(
        f"session: {status}, {participant.tasks_done} tasks answered, {decisions} decisions; "
        f"summary shown {1000 * (summary_at - ended_at):.0f} ms after the end"
    )
    print(
        f"during the longest stall the GUI thread ran {gui_cpu:.1f} ms of CPU, the whole "
        f"process {proc_cpu:.1f} ms"
    )
    print(
        f"longest piece of GUI-thread work: {busiest_cpu:.1f} ms of CPU between two ticks "
        f"(a stall of {busiest_stall:.1f} ms)"
    )
    print(
        f"longest stall {busy.max():.1f} ms = {busy.max() / max(idle.max(), 0.1):.1f}x the idle "
        f"baseline's; goal < 50 ms: {'met' if busy.max() < 50 else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="longest session time")
    parser.add_argument("--tasks", type=int, default=15, help="tasks in the session")
    args = parser.parse_args()
    run(args.seconds, args.tasks)


if __name__ == "__main__":
    main()
