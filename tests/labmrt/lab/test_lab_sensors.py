"""A station reads and records its own sensor streams, not its neighbour cubicle's."""

from __future__ import annotations

import types
import uuid

import pytest
from lab_helpers import FakeLink, wait_for, write_protocol

from labmrt.commands.station import lab_sensors, recorded
from labmrt.errors import LabmrtError
from labmrt.lab.station import Station
from labmrt.lab.study import create_lab_study
from labmrt.protocol import load_protocol
from labmrt.store import StudyStore

pytest.importorskip("pylsl")


def test_a_station_takes_only_the_streams_its_pattern_names(tmp_path):
    from sensors.simulate import SimulatedSensors

    tag = uuid.uuid4().hex[:8]
    mine = SimulatedSensors(seed=1, name_prefix=f"ws7-{tag}")
    neighbour = SimulatedSensors(seed=2, name_prefix=f"ws8-{tag}")
    protocol_path = write_protocol(tmp_path, n_tasks=1)
    protocol = load_protocol(protocol_path)
    cleanup: list = []
    mine.start()
    neighbour.start()
    try:
        with pytest.raises(LabmrtError, match="no sensor stream"):
            lab_sensors(protocol, f"ws9-{tag}", cleanup, timeout=1.0)
        source = lab_sensors(protocol, f"ws7-{tag}", cleanup, timeout=1.5)
        names = sorted(row["name"] for row in source.stream_info)
        assert names == [f"ws7-{tag}-ecg", f"ws7-{tag}-eda"]
        with StudyStore.open(tmp_path / "station", create=True) as store:
            sid = store.create_session("P001", protocol, started_t=0.0)
            recorded(source, store, types.SimpleNamespace(session_id=sid), cleanup)
            quality = wait_for(lambda: source.current_state().quality, 15)
            assert set(quality) == {"ecg", "eda"}
            # an idle station's heartbeat already tells the electrodes' quality
            study = create_lab_study(tmp_path / "study", protocol_path)
            station = Station(study, "ws-7", None, FakeLink(), sensors=source)
            beat = station.status()
            station.close()
            assert beat["status"] == "idle" and set(beat["quality"]) == {"ecg", "eda"}
            wait_for(lambda: len(store.sample_streams(sid)) == 2, 15)
            for stop in reversed(cleanup):
                stop()
            cleanup.clear()
            streams = store.sample_streams(sid)
        assert sorted(streams["kind"]) == ["ecg", "eda"]
        assert (streams["n_samples"] > 0).all()
    finally:
        for stop in reversed(cleanup):
            stop()
        mine.stop()
        neighbour.stop()
