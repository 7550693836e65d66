"""The participant window as the session engine's :class:`~labmrt.session.Presenter`.

The engine calls the presenter from its own thread and ``present`` blocks
until the task ends. Here every call is posted to the GUI thread (queued),
and the engine thread waits on an event for the participant's answer. Feature
events go the other way: the window's ``activity`` signal puts them on a
queue that a small writer thread hands to the engine's ``record_event``
(which commits to SQLite), so the GUI thread never waits for a disk flush.
``present`` returns only after every event of the task has been recorded,
which keeps "an event is durable before the next task is shown" true.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from labmrt.session.display import display_of_framed_task
from ui.participant import ParticipantWindow

Reporter = Callable[..., Any]


class SessionInterrupted(RuntimeError):
    """Raised on the engine thread when the app closes mid-session (the session stays open)."""


class QtPresenter(QObject):
    """Implements ``begin_phase``, ``end_phase``, ``present``, ``end_session``, ``interrupt``."""

    _post = Signal(object)

    def __init__(self, window: ParticipantWindow, *, reporter: Reporter | None = None):
        super().__init__()
        self.window = window
        self.reporter = reporter  # for events outside tasks (the stressor's answers)
        self._post.connect(self._run, Qt.QueuedConnection)
        window.task_finished.connect(self._task_finished)
        window.activity.connect(self._activity)
        self._record: dict | None = None
        self._pending_view = None
        self._end_pending = False
        self._done = threading.Event()
        self._closing = threading.Event()
        self._task_reporter: Reporter | None = None
        self._events: queue.Queue = queue.Queue()
        self.failed_events = 0
        self._writer = threading.Thread(target=self._write_events, name="event-writer", daemon=True)
        self._writer.start()

    # ------------------------------------------------------------------ engine thread
    def begin_phase(self, phase: str, duration_s: float | None) -> None:
        self._check_open()
        self._post.emit(lambda: self._show_phase(phase, duration_s))

    def end_phase(self, phase: str) -> None:
        self._post.emit(
            lambda: self.window.show_message("Please wait", "The next part starts in a moment.")
        )

    def present(self, task: Any, report: Reporter) -> Mapping[str, Any]:
        self._check_open()
        display = display_of_framed_task(task)
        self._task_reporter = report
        self._record = None
        self._done.clear()
        self._post.emit(lambda: self._begin_task(display))
        while not self._done.wait(0.05):
            self._check_open()
        self._events.join()  # every event of this task is recorded before we return
        self._task_reporter = None
        record = dict(self._record or {})
        record.pop("decision_point", None)
        return record

    def end_session(self, status: str, reason: str) -> None:
        if status == "completed":
            self._post.emit(lambda: self.window.show_end())
        else:
            self._post.emit(
                lambda: self.window.show_message(
                    "Thank you", "The session has ended. The experimenter will be with you shortly."
                )
            )
        self._events.join()

    def interrupt(self) -> None:
        """The operator aborts: end the running task now (what was typed is kept)."""
        self._post.emit(self._end_task_now)

    def close(self) -> None:
        """The app closes mid-session: the engine thread stops where it is, nothing is closed."""
        self._closing.set()
        self._events.put(None)

    # ------------------------------------------------------------------ GUI thread
    def _run(self, fn: Callable[[], Any]) -> None:
        fn()

    def _show_phase(self, phase: str, duration_s: float | None) -> None:
        if phase == "rest":
            self.window.show_rest(duration_s or 0.0)
        elif phase == "stressor":
            self.window.show_stressor(duration_s or 0.0)
        elif phase == "break":
            if duration_s:
                self.window.show_break(duration_s, auto_continue=True)
            else:
                self.window.show_message("Short break", "Relax for a moment; we continue soon.")
        else:
            self.window.show_message("Please wait", "")

    def _later(self, step: Callable[[], None]) -> None:
        # A 1 ms timer, not a posted call (nor a zero timer, which Qt posts too): posted
        # calls all run in one round of the event loop, back to back with the engine's
        # other notifications, while a timer lets input, paints and due timers run first.
        # A timer owned by the presenter dies with it, so a step never runs on a closed window
        # (QTimer.singleShot with a context object and a callable needs PySide6 6.7+).
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.timeout.connect(step)
        timer.timeout.connect(timer.deleteLater)
        timer.start(1)

    def _begin_task(self, display: Any) -> None:
        self._pending_view = display  # not on screen yet: an interrupt ends it once it is
        self._later(lambda: self._build_task(display))

    def _build_task(self, display: Any) -> None:
        # Build in one step, show in the next: two GUI-thread steps of about 15 ms
        # each instead of one of 30.
        self._pending_view = view = self.window.build_task(display)
        self._later(lambda: self._show_task(view))

    def _show_task(self, view: Any) -> None:
        self._pending_view = None
        self.window.show_built_task(view)
        if self._end_pending:
            self._end_pending = False
            view.end_now()

    def _end_task_now(self) -> None:
        if self._pending_view is not None:  # built, not yet shown: end it once it is
            self._end_pending = True
            return
        view = self.window.task_view
        if view is not None:
            view.end_now()

    def _task_finished(self, record: dict) -> None:
        self._record = record
        self._done.set()

    def _activity(self, feature: str, action: str, t: float, detail: str) -> None:
        self._events.put((feature, action, t, detail))

    # ------------------------------------------------------------------ writer thread
    def _write_events(self) -> None:
        while True:
            item = self._events.get()
            try:
                if item is None:
                    return
                report = self._task_reporter or self.reporter
                if report is not None:
                    feature, action, t, detail = item
                    report(feature, action, t, detail)
            except Exception:  # noqa: BLE001 - counted; the engine reports store failures
                self.failed_events += 1
            finally:
                self._events.task_done()

    def _check_open(self) -> None:
        if self._closing.is_set():
            raise SessionInterrupted("the app was closed during the session")
