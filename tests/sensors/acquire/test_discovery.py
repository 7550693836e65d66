"""Discovery: classify vendor streams by type and name, resolve real outlets."""

from __future__ import annotations

import uuid

import pytest

from sensors.acquire import StreamDescription, find_stream, find_streams
from sensors.kinds import kind_of


@pytest.mark.parametrize(
    ("stype", "name", "kind"),
    [
        ("ECG", "anything", "ecg"),
        ("EKG", "", "ecg"),
        ("ExG", "Polar H10 ECG", "ecg"),
        ("PPG", "", "ppg"),
        ("", "E4_BVP", "ppg"),
        ("EDA", "ECG box", "eda"),  # the type wins over the name
        ("GSR", "Shimmer", "eda"),
        ("Biosignals", "ShimmerEDA01", "eda"),
        ("EEG", "myGSRstream", "eda"),
        ("EEG", "BioSemi", None),
        ("EEG", "Medal", None),  # "eda" inside a word is not EDA
        ("Markers", "labmrt-sim-truth", None),
    ],
)
def test_kind_of(stype, name, kind):
    assert kind_of(stype, name) == kind


def test_find_streams_lists_vendor_like_streams_and_filters(make_outlet):
    tag = uuid.uuid4().hex[:8]
    gsr = make_outlet(stream_type="GSR", srate=4.0, channels=1, name=f"E4 GSR {tag}")
    ecg = make_outlet(stream_type="ExG", srate=250.0, channels=3, name=f"Polar ECG {tag}")
    make_outlet(stream_type="EEG", srate=100.0, channels=8, name=f"BioSemi {tag}")
    found = find_streams(timeout=1.0, name_pattern=tag)
    by_sid = {d.source_id: d for d in found}
    assert set(by_sid) == {gsr.source_id, ecg.source_id}
    d = by_sid[gsr.source_id]
    assert (d.kind, d.type, d.channel_count, d.nominal_srate) == ("eda", "GSR", 1, 4.0)
    assert d.hostname and d.uid and d.info is not None
    assert by_sid[ecg.source_id].kind == "ecg"
    assert [x.kind for x in found] == ["ecg", "eda"]  # stable order: kind, then name
    only_eda = find_streams(timeout=1.0, kinds=("GSR",), name_pattern=tag)
    assert [x.source_id for x in only_eda] == [gsr.source_id]


def test_find_stream_by_source_id_and_missing(make_outlet):
    out = make_outlet(stream_type="PPG", srate=64.0, channels=1)
    d = find_stream(source_id=out.source_id, timeout=3.0)
    assert isinstance(d, StreamDescription) and d.name == out.name and d.kind == "ppg"
    assert d.as_row()["srate"] == 64.0
    assert find_stream(source_id=f"absent-{uuid.uuid4()}", timeout=0.2) is None


def test_unknown_kind_word_is_rejected():
    with pytest.raises(ValueError, match="unknown stream kind"):
        find_streams(timeout=0.0, kinds=("EEG",))
