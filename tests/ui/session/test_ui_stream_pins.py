"""The app applies the protocol's [sensors.pins] when it connects the streams."""

from __future__ import annotations

from pathlib import Path

import pytest

from labmrt.errors import LabmrtError
from labmrt.protocol import load_protocol
from sensors.acquire import Channel, StreamDescription
from sensors.state import monitor_for_protocol
from ui.participant import ParticipantWindow
from ui.session import LabSessionHost

MINIMAL = Path(__file__).resolve().parents[3] / "protocols" / "minimal.toml"
PINS = """
[calibration]
rest_s = 60

[sensors]
streams = ["ecg", "eda"]

[sensors.pins.eda]
stream = "Shimmer GSR"
channel = "GSR_Skin_Resistance"
"""


def _desc(name, type_, channels):
    chans = tuple(Channel(i, *c) for i, c in enumerate(channels))
    return StreamDescription(
        name, type_, None, len(chans), 64.0, f"src-{name}", "host", f"uid-{name}", "double64",
        channels=chans,
    )  # fmt: skip


HUB = _desc("Lab hub", "Biosignals", [("nSeq", "Counter", ""), ("ECG", "ECG", "uV"), ("EDA", "EDA", "uS")])  # fmt: skip
GSR = _desc("Shimmer GSR", "GSR", [("GSR_Skin_Resistance", "GSR", "kOhms"), ("GSR_Skin_Conductance", "GSR", "uS")])  # fmt: skip


class _Unstarted:
    """The monitor the protocol asks for, not connected to any network stream."""

    def __init__(self, monitor):
        self.monitor = monitor
        self.buffers = monitor.buffers
        self.current_state = monitor.current_state

    def start(self):
        return self

    def stop(self):
        pass


@pytest.fixture
def host(qtbot):
    window = ParticipantWindow()
    qtbot.addWidget(window)
    return LabSessionHost(
        window, markers=False, monitor_factory=lambda d, p: _Unstarted(monitor_for_protocol(d, p))
    )


def _protocol(tmp_path):
    path = tmp_path / "pins.toml"
    path.write_text(MINIMAL.read_text(encoding="utf-8") + PINS, encoding="utf-8")
    return load_protocol(path)


def test_connecting_with_the_protocol_applies_its_pins(host, tmp_path):
    protocol = _protocol(tmp_path)
    host.connect_streams([HUB, GSR], protocol)
    chosen = {c.kind: (c.stream.name, c.channel) for c in host.monitor.monitor.channels}
    assert chosen == {"ecg": ("Lab hub", 1), "eda": ("Shimmer GSR", 0)}
    host._check_streams({"protocol": protocol})  # connected under these pins: fine


def test_a_missing_pinned_stream_fails_the_connection_and_a_start_without_pins(host, tmp_path):
    protocol = _protocol(tmp_path)
    with pytest.raises(LabmrtError, match=r"\[sensors.pins.eda\] stream: no stream named"):
        host.connect_streams([HUB], protocol)
    assert host.monitor is None
    host.connect_streams([HUB, GSR])  # connected before the protocol was chosen
    with pytest.raises(LabmrtError, match="connect the streams again with this protocol"):
        host._check_streams({"protocol": protocol})
