"""StreamBuffer against real LSL outlets on this machine.

Channel 1 of every test outlet is a sample counter, so continuity and order
can be checked exactly; timestamps are pushed explicitly so spacing is known.
"""

from __future__ import annotations

import time

import numpy as np
import pylsl
import pytest

from sensors.acquire import StreamBuffer, StreamDescription, check_stream, find_stream, wait_for


def _open(outlet, **kw) -> StreamBuffer:
    desc = find_stream(source_id=outlet.source_id, timeout=3.0)
    assert desc is not None, "test outlet not resolvable on loopback"
    return StreamBuffer(desc, **kw)


def _pull_until(buf: StreamBuffer, n: int, timeout: float = 3.0) -> None:
    assert wait_for(lambda: buf.acquire() >= 0 and buf.n_received >= n, timeout), (
        f"only {buf.n_received} of {n} samples arrived"
    )


def test_manual_acquire_keeps_order_spacing_and_rate(make_outlet):
    out = make_outlet(srate=100.0, channels=2)
    buf = _open(out, bufsize_s=10.0, channel=1)
    buf.connect(timeout=3.0, acquisition_delay=None)
    assert buf.state == "connecting"
    t0 = pylsl.local_clock()
    for k in range(5):  # 5 chunks of 0.4 s, stamped back to back
        out.push(40, t_end=t0 + (k + 1) * 0.4 - 0.01)
    _pull_until(buf, 200)
    assert buf.state == "streaming"
    assert buf.n_written == 200
    data, ts = buf.get_data()
    assert buf.n_written == 200  # reading takes nothing away from other readers
    np.testing.assert_array_equal(data, np.arange(200.0))
    # Same-machine clock correction is a constant offset, so spacing is the pushed 10 ms
    # to float precision of LSL stamps (double).
    np.testing.assert_allclose(np.diff(ts), 0.01, atol=1e-6)
    assert buf.observed_rate == pytest.approx(100.0, rel=1e-4)
    assert buf.gaps == []
    assert buf.clock_offset is not None and abs(buf.clock_offset) < 0.01
    buf.disconnect()
    assert buf.state == "disconnected"


def test_ring_wraps_and_window_is_cut_by_time(make_outlet):
    out = make_outlet(srate=100.0)
    buf = _open(out, bufsize_s=1.0, channel=1)  # capacity: 100 samples
    buf.connect(timeout=3.0, acquisition_delay=None)
    t0 = pylsl.local_clock()
    for k in range(5):
        out.push(50, t_end=t0 + (k + 1) * 0.5 - 0.01)
        _pull_until(buf, 50 * (k + 1))
    data, ts = buf.get_data()
    np.testing.assert_array_equal(data, np.arange(150.0, 250.0))
    assert np.all(np.diff(ts) > 0)
    win, wts = buf.get_data(winsize_s=0.25)
    # samples with t > t_last - 0.25 at 10 ms spacing: exactly the last 25
    np.testing.assert_array_equal(win, np.arange(225.0, 250.0))
    assert wts[-1] - wts[0] == pytest.approx(0.24, abs=1e-6)
    buf.disconnect()


def test_readers_keep_their_own_cursors(make_outlet):
    out = make_outlet(srate=100.0)
    buf = _open(out, bufsize_s=1.0, channel=1)  # capacity: 100 samples
    buf.connect(timeout=3.0, acquisition_delay=None)
    t0 = pylsl.local_clock()
    out.push(60, t_end=t0 + 0.59)
    _pull_until(buf, 60)
    fast, slow = 0, 0
    data, ts, fast = buf.get_since(fast)
    np.testing.assert_array_equal(data, np.arange(60.0))
    assert fast == buf.n_written == 60
    out.push(30, t_end=t0 + 0.89)
    _pull_until(buf, 90)
    buf.get_data(0.5)  # a third reader in between changes nothing
    data, ts, fast = buf.get_since(fast)
    np.testing.assert_array_equal(data, np.arange(60.0, 90.0))
    assert np.all(np.diff(ts) > 0) and fast == 90
    # the slow reader still gets everything from its own start
    data, _, slow = buf.get_since(slow)
    np.testing.assert_array_equal(data, np.arange(90.0))
    data, ts, again = buf.get_since(slow)
    assert len(data) == len(ts) == 0 and again == slow == 90
    # 150 more samples overflow the 100-sample ring: the 50 overwritten are skipped, counted
    out.push(150, t_end=t0 + 2.39)
    _pull_until(buf, 240)
    data, _, fast = buf.get_since(fast)
    np.testing.assert_array_equal(data, np.arange(140.0, 240.0))
    assert fast - 90 - len(data) == 50
    buf.disconnect()


def test_nan_samples_are_kept_and_counted(make_outlet):
    out = make_outlet(srate=100.0)
    buf = _open(out, channel=0)
    buf.connect(timeout=3.0, acquisition_delay=None)
    values = np.arange(20.0)
    values[[3, 7, 8]] = np.nan
    out.push(20, values=values)
    _pull_until(buf, 20)
    data, _ = buf.get_data()
    assert np.isnan(data[[3, 7, 8]]).all()
    assert buf.n_nan == 3
    assert buf.status()["n_nan"] == 3
    buf.disconnect()


def test_closed_source_is_lost_then_reconnected_with_gap(make_outlet):
    out = make_outlet(srate=100.0)
    buf = _open(out, channel=1, lost_after_s=1.0)
    changes = []
    buf.on_state(lambda c: changes.append((c.old, c.new)))
    buf.connect(timeout=3.0, acquisition_delay=0.02)
    out.push(50)
    assert wait_for(lambda: buf.state == "streaming", 3.0)
    t_close = time.monotonic()
    out.close()
    assert wait_for(lambda: buf.state == "lost", 3.0)
    assert time.monotonic() - t_close < 2.0, "loss must be reported within 2 s"
    time.sleep(0.4)
    out.open()  # the same device (source id) comes back
    t_back = pylsl.local_clock()
    out.push(30, t_end=t_back)
    deadline = time.monotonic() + 4.0
    while buf.n_received < 80 and time.monotonic() < deadline:
        out.push(5)
        time.sleep(0.05)
    assert buf.state == "streaming"
    assert buf.n_reconnects == 1
    assert ("streaming", "lost") in changes and changes[-1][1] == "streaming"
    assert len(buf.gaps) == 1
    gap_start, gap_end = buf.gaps[0]
    assert gap_end - gap_start > 0.3  # at least the time the device was away
    data, ts = buf.get_data()
    assert np.all(np.diff(ts) >= 0)
    buf.disconnect()


def test_silent_source_is_lost_and_recovers_on_same_inlet(make_outlet):
    out = make_outlet(srate=100.0)
    buf = _open(out, channel=1, lost_after_s=0.4)
    buf.connect(timeout=3.0, acquisition_delay=0.02)
    out.push(20)
    assert wait_for(lambda: buf.state == "streaming", 3.0)
    assert wait_for(lambda: buf.state == "lost", 2.0)  # stall without closing the link
    time.sleep(0.5)
    out.push(20)  # stamped now: the timeline jumped by the stall (> 0.7 s)
    assert wait_for(lambda: buf.state == "streaming", 3.0)
    assert buf.n_reconnects == 0
    assert len(buf.gaps) == 1 and buf.gaps[0][1] - buf.gaps[0][0] > 0.4
    buf.disconnect()


def test_bursts_with_continuous_stamps_are_not_gaps(make_outlet):
    out = make_outlet(srate=100.0)
    buf = _open(out, channel=1, lost_after_s=1.5)
    buf.connect(timeout=3.0, acquisition_delay=0.02)
    t0 = pylsl.local_clock()
    for k in range(3):  # a Bluetooth-like source: 0.5 s of samples at once
        out.push(50, t_end=t0 + (k + 1) * 0.5 - 0.01)
        time.sleep(0.5)
    assert wait_for(lambda: buf.n_received >= 150, 3.0)
    assert buf.state == "streaming"
    assert buf.gaps == []
    data, _ = buf.get_data()
    np.testing.assert_array_equal(data, np.arange(150.0))
    buf.disconnect()


@pytest.mark.parametrize(
    ("stype", "srate", "channels", "fmt", "channel", "expect"),
    [
        ("ECG", 100.0, 1, "float32", 2, "channel index 2 does not exist"),
        ("ECG", 5.0, 1, "float32", 0, "implausible for ECG"),
        ("EDA", 0.0, 1, "float32", 0, "no regular sampling rate"),
        ("GSR", 1e7, 1, "float32", 0, "implausible for EDA"),
        ("PPG", 100.0, 1, "string", 0, "not numbers"),
    ],
)
def test_unusable_streams_become_invalid_not_a_crash(stype, srate, channels, fmt, channel, expect):
    # The declared metadata alone decides: no outlet needed (a 10 MHz outlet would
    # make liblsl reserve a huge send buffer).
    info = pylsl.StreamInfo(f"t-bad-{stype}", stype, channels, srate, fmt, "t-bad")
    desc = StreamDescription.from_info(info)
    assert expect in (check_stream(desc, channel) or "")
    buf = StreamBuffer(info, channel=channel)
    changes = []
    buf.on_state(lambda c: changes.append(c.new))
    buf.connect(acquisition_delay=None)
    assert buf.state == "invalid" and expect in buf.problem
    assert changes == ["invalid"]
    assert buf.acquire() == 0
    data, ts = buf.get_data(5.0)
    assert data.size == 0 and ts.size == 0
    buf.disconnect()


def test_listener_errors_do_not_stop_acquisition(make_outlet):
    out = make_outlet(srate=100.0)
    buf = _open(out, channel=1)

    def broken(change):
        raise RuntimeError("listener bug")

    buf.on_state(broken)
    buf.connect(timeout=3.0, acquisition_delay=None)
    out.push(10)
    _pull_until(buf, 10)
    assert buf.state == "streaming"
    buf.disconnect()


def test_pylsl_example_outlet_is_discovered_buffered_and_loss_detected():
    """A source nobody in this project wrote: pylsl's own SendDataAdvanced example,
    run as a separate process and configured like a 10-channel 4 Hz GSR device."""
    import subprocess
    import sys
    import uuid

    from sensors.acquire import find_streams
    from sensors.signals import signal_quality

    tag = uuid.uuid4().hex[:8]
    cmd = [sys.executable, "-m", "pylsl.examples.SendDataAdvanced"]
    cmd += ["--name", f"Vendor GSR {tag}", "--type", "GSR", "--srate", "4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        found = []
        assert wait_for(lambda: bool(found.extend(find_streams(0.3, name_pattern=tag)) or found), 8)
        desc = found[0]
        assert (desc.kind, desc.channel_count, desc.nominal_srate) == ("eda", 10, 4.0)
        buf = StreamBuffer(desc, bufsize_s=30.0, channel=0)
        changes = []
        buf.on_state(lambda c: changes.append(c.new))
        buf.connect(acquisition_delay=0.02)
        assert wait_for(lambda: buf.n_received >= 8, 5), buf.status()
        assert buf.state == "streaming"
        data, ts = buf.get_data()
        assert np.all((data >= 0) & (data <= 1))  # the example sends rand()
        assert np.all(np.diff(ts) > 0)
        # It sends whatever is due every 20 ms; stamps are back-filled at 0.25 s.
        assert buf.observed_rate == pytest.approx(4.0, rel=0.15)
        # rand() is not skin conductance: quality says so instead of passing it on.
        assert signal_quality("eda", data, 4.0)[0] == 0.0
        t_kill = time.monotonic()
        proc.kill()
        assert wait_for(lambda: buf.state == "lost", 3.0)
        assert time.monotonic() - t_kill < 2.0
        assert changes[:3] == ["connecting", "streaming", "lost"]
        buf.disconnect()
    finally:
        proc.kill()
        proc.wait(5)
