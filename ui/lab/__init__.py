"""A lab of stations: the console's lab view, and a station's participant screen.

``view`` draws the stations of a study as tiles from their heartbeats
(:class:`LabView`) and ``window`` shows it as its own window
(:func:`run_lab_window`, ``labmrt lab``); ``station`` is the participant screen
of one station, on which the console's sessions run (:func:`run_station_window`,
``labmrt station``).
"""

from ui.lab.station import WAITING, run_station_window, screen_factory
from ui.lab.view import LabView, StationLive, StationTile, state_of
from ui.lab.window import run_lab_window

__all__ = [
    "WAITING",
    "LabView",
    "StationLive",
    "StationTile",
    "run_lab_window",
    "run_station_window",
    "screen_factory",
    "state_of",
]
