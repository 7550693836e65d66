"""A tiny Qt-free signal, and the session engine's signals declared once.

The engine runs on its own thread and must not know about Qt; the desktop app
bridges each :class:`Signal` of :class:`SessionSignals` to a Qt signal with a
queued connection, so callbacks reach the GUI thread. The marker outlet and
other recorders are plain listeners. A listener that raises is logged and
skipped: a broken view must never stop a running session or lose a record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)


class Signal:
    """``connect(callback)``, ``disconnect(callback)``, ``emit(*args)``; thread-safe.

    Callbacks run synchronously on the emitting thread, in connection order.
    ``name`` and ``args`` document the signal (``args``: argument names).
    """

    def __init__(self, name: str = "", args: tuple[str, ...] = ()):
        self.name = name
        self.args = args
        self._callbacks: list[Callable[..., Any]] = []
        self._lock = threading.Lock()

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Add ``callback`` (once; connecting twice is a no-op); returns it (decorator use)."""
        with self._lock:
            if callback not in self._callbacks:
                self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any] | None = None) -> None:
        """Remove ``callback`` (all callbacks when None); unknown callbacks are ignored."""
        with self._lock:
            if callback is None:
                self._callbacks.clear()
            elif callback in self._callbacks:
                self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(*args)
            except Exception:  # noqa: BLE001 - a listener must not break the emitter
                log.exception("listener %r of signal %s failed", callback, self.name)

    def __len__(self) -> int:
        return len(self._callbacks)

    def __repr__(self) -> str:
        return f"Signal({self.name}({', '.join(self.args)}))"


@runtime_checkable
class SessionSignals(Protocol):
    """What a :class:`labmrt.session.SessionEngine` announces, with the arguments passed.

    * ``status_changed(status: str, t: float, reason: str)``: ``running``,
      ``paused``, ``resumed``, ``completed``, ``aborted``, ``incomplete``
      (as appended to the store).
    * ``phase_started(phase: str, t: float, duration_s: float | None)``:
      ``rest``, ``stressor`` (calibration), ``break`` (pause; ``None``: until resumed),
      ``task`` (the task block).
    * ``phase_ended(phase: str, t: float)``.
    * ``state_read(state: AffectState)``: the state used at a decision point.
    * ``decision_made(decision: dict)``: the decision row, as committed to the store.
    * ``task_shown(task: FramedTask, t: float)``: the framed task, when handed to the presenter.
    * ``feature_used(event: dict)``: a feature-use event row, as committed.
    * ``task_ended(presentation: dict)``: the presentation row, as committed.
    * ``outcomes_recorded(decision_point: int, outcomes: dict[str, float | None])``.
    * ``progress(done: int, total: int)``: tasks finished of the tasks in the session.
    * ``failed(message: str)``: the session stopped on an error (e.g. full disk);
      everything recorded before is kept.
    * ``ended(status: str, reason: str)``: the last signal of a session.
    """

    status_changed: Signal
    phase_started: Signal
    phase_ended: Signal
    state_read: Signal
    decision_made: Signal
    task_shown: Signal
    feature_used: Signal
    task_ended: Signal
    outcomes_recorded: Signal
    progress: Signal
    failed: Signal
    ended: Signal


#: Signal name -> argument names, in the order they are passed (for bridges).
SESSION_SIGNALS: dict[str, tuple[str, ...]] = {
    "status_changed": ("status", "t", "reason"),
    "phase_started": ("phase", "t", "duration_s"),
    "phase_ended": ("phase", "t"),
    "state_read": ("state",),
    "decision_made": ("decision",),
    "task_shown": ("task", "t"),
    "feature_used": ("event",),
    "task_ended": ("presentation",),
    "outcomes_recorded": ("decision_point", "outcomes"),
    "progress": ("done", "total"),
    "failed": ("message",),
    "ended": ("status", "reason"),
}


class EngineSignals:
    """The concrete :class:`SessionSignals` of one engine: one :class:`Signal` per name."""

    status_changed: Signal
    phase_started: Signal
    phase_ended: Signal
    state_read: Signal
    decision_made: Signal
    task_shown: Signal
    feature_used: Signal
    task_ended: Signal
    outcomes_recorded: Signal
    progress: Signal
    failed: Signal
    ended: Signal

    def __init__(self) -> None:
        for name, args in SESSION_SIGNALS.items():
            setattr(self, name, Signal(name, args))

    def all(self) -> dict[str, Signal]:
        return {name: getattr(self, name) for name in SESSION_SIGNALS}
