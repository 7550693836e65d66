"""Channel selection by stream metadata (label, type, unit), not by position."""

import numpy as np
import pytest

from labmrt.errors import LabmrtError
from sensors.acquire import (
    Channel,
    StreamDescription,
    choose_sources,
    classify_channel,
    plan_stream,
)
from sensors.kinds import kind_of


def stream(name, type_, channels, rate=250.0, fmt="double64", manufacturer=""):
    chans = tuple(Channel(i, *c) for i, c in enumerate(channels))
    return StreamDescription(
        name=name,
        type=type_,
        kind=kind_of(type_, name),
        channel_count=max(len(chans), 1),
        nominal_srate=rate,
        source_id=f"src-{name}",
        hostname="host",
        uid=f"uid-{name}",
        channel_format=fmt,
        channels=chans,
        manufacturer=manufacturer,
    )


HUB = stream(
    "Lab hub",
    "Biosignals",
    [
        ("nSeq", "Counter", "count"),
        ("ACC_X", "ACC", "g"),
        ("ACC_Y", "ACC", "g"),
        ("ACC_Z", "ACC", "g"),
        ("ECG", "ECG", "microvolts"),
        ("EDA", "EDA", "microsiemens"),
    ],
)


def test_hub_with_counter_first_uses_ecg_and_eda_channels_and_says_why():
    plan = plan_stream(HUB)
    by_kind = {c.kind: c for c in plan.choices}
    assert set(by_kind) == {"ecg", "eda"}
    assert by_kind["ecg"].channel == 4 and by_kind["eda"].channel == 5
    assert by_kind["ecg"].reason == "typed 'ECG'"
    # microvolts become millivolts
    assert np.allclose(by_kind["ecg"].conversion(np.array([1000.0, -500.0])), [1.0, -0.5])
    assert by_kind["eda"].conversion.is_identity
    ignored = {i: why for i, _, why in plan.ignored}
    assert ignored[0] == "typed 'Counter': a counter"
    assert all(ignored[i] == "typed 'ACC': a motion sensor" for i in (1, 2, 3))


@pytest.mark.parametrize(
    "channel, kind",
    [
        (Channel(0, "BVP", "", ""), "ppg"),
        (Channel(0, "Pleth", "MISC", ""), "ppg"),
        (Channel(0, "GSR_Skin_Conductance", "", "uS"), "eda"),
        (Channel(0, "skin", "", "kOhm"), "eda"),
        (Channel(0, "RR", "", "ms"), "ibi"),
        (Channel(0, "IBI", "", "s"), "ibi"),
        (Channel(0, "Heart Rate", "", ""), "hr"),
        (Channel(0, "PulseRate", "", ""), "hr"),
        (Channel(0, "x", "", "bpm"), "hr"),
        (Channel(0, "EKG lead II", "", "mV"), "ecg"),
        (Channel(0, "sample_index", "MISC", "count"), None),
        (Channel(0, "Timestamp", "", "s"), None),
        (Channel(0, "Gyro_Y", "", "deg/s"), None),
        (Channel(0, "A1", "", "raw"), None),
    ],
)
def test_channel_classification(channel, kind):
    assert classify_channel(channel)[0] == kind


def test_the_channel_type_wins_over_its_label():
    assert classify_channel(Channel(0, "ECG", "EDA", "uS"))[0] == "eda"
    assert classify_channel(Channel(0, "ECG", "Counter", ""))[0] is None


def test_two_channel_gsr_prefers_conductance_even_when_resistance_comes_first():
    gsr = stream(
        "Shimmer GSR",
        "GSR",
        [("GSR_Skin_Resistance", "GSR", "kOhms"), ("GSR_Skin_Conductance", "GSR", "uS")],
        rate=64.0,
    )
    (choice,) = plan_stream(gsr).choices
    assert (choice.kind, choice.channel, choice.label) == ("eda", 1, "GSR_Skin_Conductance")
    assert plan_stream(gsr).ignored == [(0, "GSR_Skin_Resistance", "EDA is read from channel 1")]


def test_resistance_only_is_converted_by_its_reciprocal():
    gsr = stream("GSR box", "GSR", [("Resistance", "GSR", "kOhm")], rate=32.0)
    (choice,) = plan_stream(gsr).choices
    # 250 kOhm = 4 uS, 1 MOhm = 1 uS; a zero reading is missing, not infinite
    out = choice.conversion(np.array([250.0, 1000.0, 0.0]))
    assert np.allclose(out[:2], [4.0, 1.0]) and np.isnan(out[2])


def test_stream_without_channel_metadata_uses_channel_zero_of_its_type():
    plain = stream("Vendor ECG", "ECG", [], rate=500.0)
    (choice,) = plan_stream(plain).choices
    assert (choice.kind, choice.channel) == ("ecg", 0)
    assert "no channel metadata" in choice.reason


def test_template_metadata_falls_back_to_the_stream_type_but_skips_counters():
    odd = stream(
        "Vendor GSR",
        "GSR",
        [("counter", "", ""), ("Fp1", "EEG", "microvolts"), ("Fp2", "EEG", "microvolts")],
        rate=4.0,
    )
    (choice,) = plan_stream(odd).choices
    assert (choice.kind, choice.channel) == ("eda", 1)
    assert "first channel that is not a counter" in choice.reason


def test_raw_eda_of_an_unknown_device_is_refused_with_the_reason():
    raw = stream("Box", "Biosignals", [("EDA", "EDA", "raw")], fmt="int16")
    plan = plan_stream(raw)
    assert plan.choices == []
    (_, _, why), *_ = plan.ignored
    assert "raw ADC values of an unknown device" in why and "bitalino" in why


def test_bitalino_raw_channels_get_the_datasheet_transfer_function():
    bit = stream(
        "98:D3:31:B2:12:34",
        "OpenSignals",
        [("nSeq", "", ""), ("A2", "ECG", "raw"), ("A3", "EDA", "raw")],
        rate=1000.0,
        fmt="int16",
        manufacturer="PLUX BITalino",
    )
    plan = plan_stream(bit)
    by_kind = {c.kind: c for c in plan.choices}
    assert by_kind["ecg"].channel == 1 and by_kind["eda"].channel == 2
    assert "bitalino transfer function, 10-bit" in by_kind["eda"].conversion.describe()
    assert plan.ignored[0][0] == 0  # nSeq, a counter


def test_heart_rate_only_is_used_only_when_nothing_gives_beats():
    hr = stream("Band HR", "HR", [("HR", "HR", "bpm")], rate=1.0)
    rr = stream("Strap RR", "RR", [("RR", "RR", "ms")], rate=0.0)
    eda = stream("Band EDA", "EDA", [("EDA", "EDA", "uS")], rate=4.0)
    alone = choose_sources([hr, eda])
    assert set(alone.choices) == {"hr", "eda"}
    both = choose_sources([hr, rr, eda])
    assert set(both.choices) == {"ibi", "eda"}
    assert any("HR only" in n and "IBI gives beats" in n for n in both.notes)


def test_first_stream_per_kind_wins_and_the_others_are_named():
    a = stream("A ecg", "ECG", [("ECG", "ECG", "mV")], rate=500.0)
    sel = choose_sources([HUB, a])
    assert sel.choices["ecg"].stream.name == "Lab hub"
    assert any(n.startswith("A ecg channel 0 (ECG): ECG is read from Lab hub") for n in sel.notes)


def test_pin_overrides_the_metadata_rules():
    gsr = stream(
        "Shimmer GSR",
        "GSR",
        [("GSR_Skin_Resistance", "GSR", "kOhms"), ("GSR_Skin_Conductance", "GSR", "uS")],
        rate=64.0,
    )
    pins = {"eda": {"stream": "shimmer gsr", "channel": "gsr_skin_resistance"}}
    sel = choose_sources([HUB, gsr], pins)
    choice = sel.choices["eda"]
    assert (choice.stream.name, choice.channel, choice.pinned) == ("Shimmer GSR", 0, True)
    assert choice.reason == "pinned as eda ([sensors.pins] or --pin)"
    assert np.allclose(choice.conversion(np.array([500.0])), [2.0])
    assert sel.choices["ecg"].stream.name == "Lab hub"  # unpinned kinds as usual


def test_pin_to_a_missing_stream_names_the_streams_seen():
    with pytest.raises(LabmrtError) as err:
        choose_sources([HUB], {"eda": {"stream": "Shimmer GSR", "channel": "GSR"}})
    msg = err.value.message
    assert "[sensors.pins.eda] stream" in msg
    assert "no stream named 'Shimmer GSR'" in msg and "'Lab hub'" in msg


def test_pin_to_a_missing_channel_lists_the_labels():
    with pytest.raises(LabmrtError) as err:
        choose_sources([HUB], {"ecg": {"stream": "Lab hub", "channel": "ECG2"}})
    msg = err.value.message
    assert "[sensors.pins.ecg] channel" in msg
    assert "has no channel 'ECG2'" in msg and "'nSeq', 'ACC_X'" in msg


def test_pin_with_an_unconvertible_unit_says_which_units_work():
    with pytest.raises(LabmrtError) as err:
        choose_sources([HUB], {"eda": {"stream": "Lab hub", "channel": "EDA", "unit": "volts"}})
    msg = err.value.message
    assert "[sensors.pins.eda] unit" in msg and "'volts'" in msg and "microsiemens" in msg


def test_pin_by_index_on_a_stream_without_labels():
    plain = stream("Old box", "Misc", [], rate=128.0)
    sel = choose_sources([plain], {"eda": {"stream": "Old box", "channel": "0", "unit": "uS"}})
    assert sel.choices["eda"].channel == 0
