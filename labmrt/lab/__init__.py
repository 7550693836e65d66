"""A lab of stations and one console: the study folder they share, the sealed commands
the console sends, the heartbeat each station announces, and the station that obeys.

``study`` (the lab study folder, its secret and participant codes), ``envelope``
(every message: a clear header and a body sealed with a key derived from the
secret), ``wire`` (commands, acknowledgements and the rules each side applies,
without any network), ``heartbeat`` (the station's status: its schema and who
may speak for a station name), ``logbook`` (bounded logs), ``transport`` (those
messages on LSL streams, one reader per stream), ``station`` (a workstation
running sessions on command), ``console`` (the experimenter's side).
"""

from labmrt.lab.console import LabConsole
from labmrt.lab.station import Station
from labmrt.lab.study import create_lab_study, open_lab_study

__all__ = ["LabConsole", "Station", "create_lab_study", "open_lab_study"]
