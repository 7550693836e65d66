"""A station's participant screen: the console's start shows the first task; abort ends it."""

from __future__ import annotations

from lab_helpers import FakeLink, from_station, write_protocol

from labmrt.lab.console import LabConsole
from labmrt.lab.station import Station
from labmrt.lab.study import create_lab_study
from labmrt.store import StudyStore
from ui.lab import WAITING, screen_factory
from ui.participant import ParticipantWindow
from ui.session import QtPresenter


class Loop:
    """Console and station joined without a network: what one sends, the other receives."""

    def __init__(self):
        self.to_station: list[str] = []
        self.published: list[str] = []

    def commands(self) -> list[str]:
        out, self.to_station = self.to_station, []
        return out

    def publish(self, text: str) -> None:
        self.published.append(text)


def test_a_started_session_shows_on_the_station_screen(qtbot, tmp_path):
    study = create_lab_study(tmp_path / "study", write_protocol(tmp_path, n_tasks=3))
    window = ParticipantWindow()
    qtbot.addWidget(window)
    window.show_message(study.title, WAITING)
    window.show()
    assert "experimenter starts the session" in window.visible_text()
    presenter = QtPresenter(window)
    loop = Loop()
    station = Station(
        study, "ws-5", screen_factory(study.load_protocol(), "ws-5", presenter, markers=False), loop
    )
    link = FakeLink()
    console = LabConsole(study, link, merge_on_end=False)
    link.inbox.append(from_station(study, "ws-5", station.heartbeat_text()))  # heard first
    console.poll()
    assert console.online("ws-5")
    start = console.start("ws-5")
    loop.to_station.append(start.text)
    station.tick()
    qtbot.waitUntil(
        lambda: "Which of two offers 1 is cheaper?" in window.visible_text(), timeout=10_000
    )
    assert station.status()["participant"] == "P001"
    abort = console.abort("ws-5", "participant left")
    loop.to_station.append(abort.text)
    station.tick()
    qtbot.waitUntil(lambda: station.engine.status == "aborted", timeout=10_000)
    qtbot.waitUntil(lambda: "The session has ended" in window.visible_text(), timeout=10_000)
    acks = [t for t in loop.published if '"type":"ack"' in t]
    assert len(acks) == 2
    presenter.close()
    station.close()
    with StudyStore.open(station.dir, readonly=True) as store:
        history = store.status_history()
    assert list(history["status"])[-1] == "aborted"
    assert history["reason"].iloc[-1] == "participant left"
