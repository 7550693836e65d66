"""Running a session behind the windows: the engine's signals in Qt, the presenter, the host.

``bridge`` re-emits the engine's signals on the GUI thread
(:class:`EngineBridge`); ``presenter`` is the engine's presenter on the
participant's window (:class:`QtPresenter`); ``host`` owns one session of the
desktop app, with its store, engine and sensors (:class:`LabSessionHost`).
"""

from ui.session.bridge import EngineBridge
from ui.session.host import LabSessionHost, default_monitor, default_simulator
from ui.session.presenter import QtPresenter, SessionInterrupted

__all__ = [
    "EngineBridge",
    "LabSessionHost",
    "QtPresenter",
    "SessionInterrupted",
    "default_monitor",
    "default_simulator",
]
