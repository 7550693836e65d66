"""Other recorders of the lab driven with the session: LabRecorder under remote control.

:mod:`~labmrt.recording.rcs` speaks LabRecorder's remote control socket (RCS);
:mod:`~labmrt.recording.control` starts and stops it with each session, checks
that the recording really happens and raises an alert for every way it can fail.
Qt-free: the console, the stations and the CLI wire it in.
"""

from labmrt.recording.control import (
    LabRecorderControl,
    RecorderSettings,
    session_entities,
    start_for_session,
)
from labmrt.recording.rcs import DEFAULT_PORT, RcsClient, parse_address

__all__ = [
    "DEFAULT_PORT",
    "LabRecorderControl",
    "RcsClient",
    "RecorderSettings",
    "parse_address",
    "session_entities",
    "start_for_session",
]
