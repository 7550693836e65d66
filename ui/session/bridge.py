"""Bridge the session engine's Qt-free signals to Qt signals on the GUI thread.

The engine emits :class:`labmrt.session.events.Signal` callbacks synchronously on its
own thread. :class:`EngineBridge` subscribes one small callback per engine
signal; the callback only posts ``(name, args)`` through a queued connection
to the bridge object, which lives on the GUI thread and re-emits the typed Qt
signal there. So the engine thread never runs widget code, and a slow view can
never hold up the session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from labmrt.session.events import SESSION_SIGNALS


class EngineBridge(QObject):
    """Qt mirror of :class:`labmrt.session.events.SessionSignals` (same names, same arguments)."""

    status_changed = Signal(str, float, str)
    phase_started = Signal(str, float, object)
    phase_ended = Signal(str, float)
    state_read = Signal(object)
    decision_made = Signal(object)
    task_shown = Signal(object, object)  # the framed task, and (engine >= 1) when it was shown
    feature_used = Signal(object)
    task_ended = Signal(object)
    outcomes_recorded = Signal(int, object)
    progress = Signal(int, int)
    failed = Signal(str)
    ended = Signal(str, str)

    _posted = Signal(str, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._posted.connect(self._dispatch, Qt.QueuedConnection)
        self._subscriptions: list[tuple[Any, Callable[..., None]]] = []

    def attach(self, signals: Any) -> None:
        """Subscribe to every signal of an engine's ``signals`` (an ``EngineSignals``)."""
        for name in SESSION_SIGNALS:
            source = getattr(signals, name)
            callback = self._poster(name)
            source.connect(callback)
            self._subscriptions.append((source, callback))

    def detach(self) -> None:
        for source, callback in self._subscriptions:
            source.disconnect(callback)
        self._subscriptions.clear()

    def _poster(self, name: str) -> Callable[..., None]:
        def post(*args: Any) -> None:
            self._posted.emit(name, args)

        post.__name__ = f"bridge_{name}"
        return post

    def _dispatch(self, name: str, args: tuple) -> None:
        # Tolerate an engine passing fewer or more arguments than declared (e.g. an added
        # timestamp): pad with None / drop extras rather than lose the notification.
        n = _ARITY[name]
        args = tuple(args[:n]) + (None,) * max(0, n - len(args))
        getattr(self, name).emit(*args)


_ARITY = {
    "status_changed": 3,
    "phase_started": 3,
    "phase_ended": 2,
    "state_read": 1,
    "decision_made": 1,
    "task_shown": 2,
    "feature_used": 1,
    "task_ended": 1,
    "outcomes_recorded": 2,
    "progress": 2,
    "failed": 1,
    "ended": 2,
}
