"""A lab station starts and stops LabRecorder with each session; failures reach its heartbeat
(which the console's lab view shows on the station's tile)."""

from __future__ import annotations

from lab_helpers import wait_for, write_protocol
from labrecorder_fake import FakeLabRecorder, free_port

from labmrt.commands.station import simulated_factory
from labmrt.lab.station import Station
from labmrt.lab.study import create_lab_study
from labmrt.recording import RecorderSettings


class _Link:
    def commands(self) -> list[str]:
        return []

    def publish(self, text: str) -> None:
        pass


def _station(tmp_path, address: str) -> Station:
    study = create_lab_study(tmp_path / "lab", write_protocol(tmp_path, n_tasks=3))
    factory = simulated_factory(study.load_protocol(), "ws-1", time_scale=50.0, markers=False)
    settings = RecorderSettings(address, root=str(tmp_path / "rec"), check_s=0.05)
    return Station(study, "ws-1", factory, _Link(), labrecorder=settings)


def test_a_station_session_records_with_labrecorder(tmp_path):
    fake = FakeLabRecorder()
    station = _station(tmp_path, fake.address)
    try:
        station._start("P001")
        wait_for(lambda: station.engine.status in ("completed", "aborted"), 60)
        wait_for(lambda: fake.commands[-1:] == ["stop"], 10)
        assert fake.commands[0] == "select all" and fake.commands[2] == "start"
        assert "sub-P001_ses-1_task-lab_run-1_eeg.xdf" in fake.commands[1]
        assert station.status()["warnings"] == []
    finally:
        station.close()
        fake.close()


def test_a_station_without_its_labrecorder_warns_in_the_heartbeat(tmp_path):
    station = _station(tmp_path, f"127.0.0.1:{free_port()}")
    try:
        station._start("P001")
        warnings = wait_for(lambda: station.status()["warnings"], 10)
        assert "not reachable (connection refused)" in warnings[0]
        wait_for(lambda: station.engine.status in ("completed", "aborted"), 60)
    finally:
        station.close()
