"""The experimenter's console: set up a session, watch it live, steer it.

``window`` is the :class:`ConsoleWindow` (set-up, live signals, decision log,
controls) and the :class:`SessionHost` it drives; ``streams`` picks the LSL
streams (:class:`StreamPicker`); ``dialogs`` asks for an abort's reason,
shows the summary and picks an interrupted session to resume.
"""

from ui.console.dialogs import AbortDialog, ResumeDialog, SummaryDialog
from ui.console.streams import StreamPicker
from ui.console.window import PHASE_TITLES, ConsoleWindow, SessionHost, bundled_protocols

__all__ = [
    "PHASE_TITLES",
    "AbortDialog",
    "ConsoleWindow",
    "ResumeDialog",
    "SessionHost",
    "StreamPicker",
    "SummaryDialog",
    "bundled_protocols",
]
