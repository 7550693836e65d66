"""The participant screen of a lab station (``labmrt station`` without ``--simulated``).

The station (:class:`labmrt.lab.station.Station`) listens and beats on a
thread of its own; each session the console starts shows on this window
through the same :class:`~ui.session.QtPresenter` the desktop app uses, so a
participant sees exactly what they would see on a single-machine session.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from PySide6.QtWidgets import QApplication

from labmrt.lab.station import Station
from labmrt.lab.study import LabStudy
from ui.participant import ParticipantWindow
from ui.session import QtPresenter

#: What a station's participant screen says until the console starts the session.
WAITING = "Please wait: the experimenter starts the session from the console."


def screen_factory(
    protocol: Any, name: str, presenter: QtPresenter, *, markers: bool = True, live: Any = None
):
    """Sessions whose participant works on ``presenter``'s window.

    ``live``: the station's started state source on its own sensor streams, used by every
    session and recorded with it (``labmrt station --sensors``).
    """

    outlet = None
    if markers:  # opened with the study, before any session: one stream for all of them
        from labmrt.session.markers import station_outlet

        outlet = station_outlet(name, study=protocol.study.title)

    def make(code: str, store: Any, resume: bool) -> tuple[Any, list]:
        from labmrt.session import SessionEngine

        kwargs = dict(markers=outlet, workstation=name, state_source=live)
        if live is not None:
            kwargs["streams"] = live.stream_info
        if resume:
            engine = SessionEngine.resume_interrupted(protocol, store, code, presenter, **kwargs)
        else:
            engine = SessionEngine(protocol, store, code, presenter, **kwargs)
        presenter.reporter = engine.record_event
        cleanup: list = []
        if live is not None:
            from sensors.acquire import SampleRecorder

            cleanup.append(SampleRecorder(live.buffers, store, engine.session_id).start().stop)
        return engine, cleanup

    return make


def run_station_window(
    study: LabStudy, name: str, *, markers: bool = True, live: Any = None, labrecorder: Any = None
) -> int:
    from labmrt.lab.transport import StationLink

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(f"labmrt station {name}")
    window = ParticipantWindow()
    window.setWindowTitle(f"labmrt station {name}")
    window.show_message(study.title or "labmrt", WAITING)
    presenter = QtPresenter(window)
    link = StationLink(study.study_id, name)
    factory = screen_factory(study.load_protocol(), name, presenter, markers=markers, live=live)
    station = Station(study, name, factory, link, sensors=live, labrecorder=labrecorder)
    stop = threading.Event()
    thread = threading.Thread(target=station.serve, args=(stop,), name="station", daemon=True)
    thread.start()
    window.show_full_screen_on(None)
    try:
        return int(app.exec())
    finally:
        stop.set()
        thread.join(timeout=5)
        presenter.close()
        station.close()
        link.close()
