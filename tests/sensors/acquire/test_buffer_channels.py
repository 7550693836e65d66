"""Buffers on a chosen channel: the unit is converted as samples arrive; beat streams may be irregular."""

import numpy as np
import pylsl

from sensors.acquire import StreamBuffer, check_stream, find_stream, wait_for
from sensors.kinds import conversion_for


def test_channel_values_are_converted_before_anyone_reads_them(make_outlet):
    out = make_outlet(stream_type="Biosignals", srate=250.0, channels=3)
    desc = find_stream(source_id=out.source_id, timeout=3.0)
    assert desc.kind is None  # the stream type says nothing: the caller names the kind
    buf = StreamBuffer(desc, channel=0, kind="ecg", convert=conversion_for("ecg", "uV"))
    assert buf.kind == "ecg" and buf.problem is None
    buf.connect(timeout=3.0, acquisition_delay=None)
    values = np.linspace(-800.0, 1200.0, 100)  # microvolts
    out.push(100, values=values)
    assert wait_for(lambda: buf.acquire() >= 0 and buf.n_received >= 100, 3.0)
    data, _ = buf.get_data()
    assert np.allclose(data, values / 1000.0, atol=1e-6)  # millivolts
    buf.disconnect()


def test_an_irregular_interval_stream_is_accepted_only_as_a_beat_source(make_outlet):
    out = make_outlet(stream_type="RR", srate=pylsl.IRREGULAR_RATE, channels=1)
    desc = find_stream(source_id=out.source_id, timeout=3.0)
    assert desc.kind == "ibi"
    assert check_stream(desc, 0, "ibi") is None
    assert "no regular sampling rate" in check_stream(desc, 0, "ecg")
    buf = StreamBuffer(desc, kind="ibi", convert=conversion_for("ibi", "ms"))
    assert buf.lost_after_s >= 6.0  # a beat may take a while
    buf.connect(timeout=3.0, acquisition_delay=None)
    t0 = pylsl.local_clock()
    rr = [820.0, 810.0, 845.0, 900.0]
    for k, value in enumerate(rr):
        out.outlet.push_sample([value], t0 + 0.82 * (k + 1))
    assert wait_for(lambda: buf.acquire() >= 0 and buf.n_received >= 4, 3.0)
    data, ts = buf.get_data(60.0)
    assert np.allclose(data, np.array(rr) / 1000.0, atol=1e-6)
    assert buf.state == "streaming"
    buf.disconnect()
