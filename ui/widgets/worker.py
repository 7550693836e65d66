"""Run slow calls (stream discovery, analyses, exports) off the GUI thread.

``run_in_background(fn, ...)`` calls ``fn`` on a pool thread and delivers its
result, its :class:`~labmrt.errors.LabmrtError` message or an unexpected error
back on the GUI thread through queued Qt signals, so no widget is ever touched
from a worker. A job that can report progress or be cancelled receives a
:class:`JobControl` as keyword ``control``.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

from labmrt.errors import LabmrtError


class JobControl:
    """Handed to a job: ``progress(done, total)`` to report, ``cancelled`` to check."""

    def __init__(self, job: Job):
        self._job = job
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def progress(self, done: int, total: int) -> bool:
        """Report progress; returns False when the job should stop (cancelled)."""
        self._job._raw_progress.emit(int(done), int(total))
        return not self._cancel.is_set()


class Job(QObject):
    """Signals of one background call; keep a reference until it finishes.

    The worker thread only emits the private ``_raw_*`` signals; they reach
    this object (which lives on the GUI thread) through queued connections,
    and the public signals are re-emitted there, so every callback runs on
    the GUI thread whatever it is connected to.
    """

    succeeded = Signal(object)
    failed = Signal(str, str)  # message for the user, details (traceback) for the log
    progressed = Signal(int, int)
    ended = Signal()

    _raw_done = Signal(object)
    _raw_failed = Signal(str, str)
    _raw_progress = Signal(int, int)
    _raw_ended = Signal()

    def __init__(self):
        super().__init__()
        self.control = JobControl(self)
        self.running = True
        queued = Qt.QueuedConnection
        self._raw_done.connect(self._deliver_done, queued)
        self._raw_failed.connect(self._deliver_failed, queued)
        self._raw_progress.connect(self._deliver_progress, queued)
        self._raw_ended.connect(self._deliver_ended, queued)

    def cancel(self) -> None:
        self.control.cancel()

    def _deliver_done(self, result: object) -> None:
        self.succeeded.emit(result)

    def _deliver_failed(self, message: str, details: str) -> None:
        self.failed.emit(message, details)

    def _deliver_progress(self, done: int, total: int) -> None:
        self.progressed.emit(done, total)

    def _deliver_ended(self) -> None:
        self.running = False
        self.ended.emit()


class _Runnable(QRunnable):
    def __init__(self, job: Job, fn: Callable[..., Any], args, kwargs):
        super().__init__()
        self.setAutoDelete(True)
        self.job, self.fn, self.args, self.kwargs = job, fn, args, kwargs

    def run(self) -> None:
        job = self.job
        try:
            result = self.fn(*self.args, **self.kwargs)
        except LabmrtError as err:
            _emit(job._raw_failed, err.message, "")
        except Exception as err:  # noqa: BLE001 - shown as a dialog, never a traceback
            _emit(job._raw_failed, f"{type(err).__name__}: {err}", traceback.format_exc())
        else:
            _emit(job._raw_done, result)
        finally:
            _emit(job._raw_ended)


def _emit(signal, *args) -> None:
    """Emit unless the job object is gone (the app quit while the call ran): no one to tell."""
    with contextlib.suppress(RuntimeError):
        signal.emit(*args)


_ACTIVE: set[Job] = set()


def run_in_background(
    fn: Callable[..., Any],
    *args: Any,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str, str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    with_control: bool = False,
    pool: QThreadPool | None = None,
    **kwargs: Any,
) -> Job:
    """Call ``fn(*args, **kwargs)`` on a pool thread; callbacks run on the GUI thread."""
    job = Job()
    if on_done:
        job.succeeded.connect(on_done)
    if on_error:
        job.failed.connect(on_error)
    if on_progress:
        job.progressed.connect(on_progress)
    if with_control:
        kwargs["control"] = job.control
    _ACTIVE.add(job)
    job.ended.connect(lambda: _ACTIVE.discard(job))
    (pool or QThreadPool.globalInstance()).start(_Runnable(job, fn, args, kwargs))
    return job
