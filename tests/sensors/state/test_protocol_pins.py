"""The protocol's ``[sensors.pins]``: a kind read from a named stream and channel."""

from pathlib import Path

import numpy as np
import pytest
from test_channels import HUB, stream  # same folder: pytest puts it on sys.path

from labmrt.errors import LabmrtError
from labmrt.protocol import load_protocol
from sensors.state import monitor_for_protocol

MINIMAL = Path(__file__).resolve().parents[3] / "protocols" / "minimal.toml"


def _protocol(tmp_path: Path, sensors: str):
    text = MINIMAL.read_text(encoding="utf-8")
    text += "\n[calibration]\nrest_s = 60\n\n[sensors]\n" + sensors
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return load_protocol(path)


GSR = stream(
    "Shimmer GSR",
    "GSR",
    [("GSR_Skin_Resistance", "GSR", "kOhms"), ("GSR_Skin_Conductance", "GSR", "uS")],
    rate=64.0,
)
PINNED = """streams = ["ecg", "eda"]

[sensors.pins.eda]
stream = "Shimmer GSR"
channel = "GSR_Skin_Resistance"
"""


def test_pins_choose_the_channel_and_enter_the_content_hash(tmp_path):
    protocol = _protocol(tmp_path, PINNED)
    assert protocol.sensors.pins["eda"].channel == "GSR_Skin_Resistance"
    assert '"pins":{"eda":{' in protocol.canonical_json
    plain = _protocol(tmp_path, 'streams = ["ecg", "eda"]\n')
    assert "pins" not in plain.canonical_json  # protocols without pins keep their hash
    assert plain.content_hash != protocol.content_hash

    monitor = monitor_for_protocol([HUB, GSR], protocol)
    chosen = {c.kind: c for c in monitor.channels}
    assert (chosen["eda"].stream.name, chosen["eda"].channel) == ("Shimmer GSR", 0)
    assert chosen["eda"].pinned and chosen["ecg"].stream.name == "Lab hub"
    assert monitor.buffers["eda"].channel == 0 and monitor.buffers["eda"].kind == "eda"
    # simulated sensors have their own names: pins do not apply to them
    unpinned = monitor_for_protocol([HUB, GSR], protocol, use_pins=False)
    assert {c.kind: c.stream.name for c in unpinned.channels}["eda"] == "Lab hub"


def test_a_pinned_stream_that_is_not_there_stops_the_set_up(tmp_path):
    protocol = _protocol(tmp_path, PINNED)
    with pytest.raises(LabmrtError) as err:
        monitor_for_protocol([HUB], protocol)
    assert "[sensors.pins.eda] stream: no stream named 'Shimmer GSR'" in err.value.message
    assert "labmrt sensors list" in err.value.message


def test_a_pin_for_a_kind_the_protocol_does_not_expect_is_refused(tmp_path):
    with pytest.raises(LabmrtError) as err:
        _protocol(tmp_path, PINNED.replace('["ecg", "eda"]', '["ecg"]'))
    msg = err.value.message
    assert "sensors.pins.eda" in msg and "sensors.streams does not list it" in msg
    assert 'add "eda" to sensors.streams' in msg


@pytest.mark.parametrize(
    "extra, words",
    [
        ('chanel = "x"\n', ["chanel"]),
        ('device = "acme"\n', ["device", "bitalino"]),
        ("resolution_bits = 40\n", ["resolution_bits", "24"]),
    ],
)
def test_bad_pin_fields_are_named(tmp_path, extra, words):
    with pytest.raises(LabmrtError) as err:
        _protocol(tmp_path, PINNED + extra)
    assert all(w in err.value.message for w in words), err.value.message


def test_a_pin_needs_stream_and_channel(tmp_path):
    with pytest.raises(LabmrtError) as err:
        _protocol(tmp_path, 'streams = ["hr"]\n[sensors.pins.hr]\nstream = "Band"\n')
    assert "sensors.pins.hr.channel" in err.value.message


def test_beat_level_kinds_are_valid_protocol_streams(tmp_path):
    protocol = _protocol(tmp_path, 'streams = ["ibi", "eda"]\n')
    assert protocol.sensors.streams == ["ibi", "eda"]


def test_simulated_sensors_for_a_strap_protocol_publish_rr_intervals(tmp_path):
    from sensors.acquire import wait_for
    from sensors.live import live_state_source

    protocol = _protocol(tmp_path, 'streams = ["ibi", "eda"]\n')
    cleanup: list = []
    try:
        source, _ = live_state_source(protocol, None, 7, cleanup)
        assert set(source.buffers) == {"ibi", "eda"}
        kinds = {row["type"]: row["kind"] for row in source.stream_info}
        assert kinds == {"RR": "ibi", "GSR": "eda", "Markers": "truth"}
        ibi = source.buffers["ibi"]
        assert wait_for(lambda: ibi.n_received >= 2, 10.0)
        data, _ = ibi.get_data(30.0)
        assert np.all((data > 0.4) & (data < 1.3))  # seconds, converted from the strap's ms
    finally:
        for stop in reversed(cleanup):
            stop()


def test_validate_reports_a_pinned_unit_that_cannot_be_converted(tmp_path, capsys):
    from labmrt.cli import main

    path = tmp_path / "study.toml"
    _protocol(tmp_path, PINNED + 'unit = "kOhm"\n')  # resistance: fine
    assert main(["validate", str(path)]) == 0
    _protocol(tmp_path, PINNED + 'unit = "raw"\n')
    capsys.readouterr()
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "sensors.pins.eda: the EDA channel carries raw ADC values of an unknown device" in err
    assert "known: bitalino" in err
    _protocol(tmp_path, PINNED + 'unit = "raw"\ndevice = "bitalino"\n')
    assert main(["validate", str(path)]) == 0
