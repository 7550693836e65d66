"""A lab of stations and one console: the study folder they share, the signed commands
the console sends, the status each station announces, and the station that obeys.

``study`` (the lab study folder, its secret and participant codes), ``wire``
(signed commands, acknowledgements and the rules each side applies, without
any network), ``transport`` (those messages on LSL streams), ``station`` (a
workstation running sessions on command).
"""

from labmrt.lab.console import LabConsole
from labmrt.lab.station import Station
from labmrt.lab.study import create_lab_study, open_lab_study

__all__ = ["LabConsole", "Station", "create_lab_study", "open_lab_study"]
