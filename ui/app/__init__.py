"""The composition root of the desktop app (``labmrt gui``, ``labmrt demo``).

``desktop`` builds the console, the participant's screen and the analysis view
around one session host and runs the event loop (:func:`run_app`,
:class:`LabmrtApp`); ``layout`` places the two windows on a single screen
(:func:`single_screen_layout`). The lab's programs have their roots in
:mod:`ui.lab`.
"""

from ui.app.desktop import LabmrtApp, bundled_protocols_dir, install_error_dialogs, run_app
from ui.app.layout import (
    CONSOLE_CONTROLS_WIDTH,
    CONSOLE_PREFERRED,
    FRAME_ALLOWANCE,
    PARTICIPANT_PREFERRED,
    single_screen_layout,
)

__all__ = [
    "CONSOLE_CONTROLS_WIDTH",
    "CONSOLE_PREFERRED",
    "FRAME_ALLOWANCE",
    "PARTICIPANT_PREFERRED",
    "LabmrtApp",
    "bundled_protocols_dir",
    "install_error_dialogs",
    "run_app",
    "single_screen_layout",
]
