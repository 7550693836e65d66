"""The raw-sample recorder stores every sample exactly once, whoever else reads the buffer."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pylsl

from labmrt.protocol import load_protocol
from labmrt.store import StudyStore
from sensors.acquire import SampleRecorder, StreamBuffer, wait_for

MINIMAL = Path(__file__).resolve().parents[3] / "protocols" / "minimal.toml"


def test_every_sample_recorded_once_while_other_readers_poll(make_outlet, tmp_path):
    out = make_outlet(stream_type="ECG", srate=100.0)
    buf = StreamBuffer(out.info, bufsize_s=5.0, channel=1).connect(timeout=3.0)
    stop_reading = threading.Event()

    def plot_like_reader():  # reads windows as fast as it can, like a live plot
        while not stop_reading.is_set():
            buf.get_data(0.5)

    reader = threading.Thread(target=plot_like_reader, daemon=True)
    reader.start()
    with StudyStore.open(tmp_path / "study", create=True) as store:
        sid = store.create_session("P01", load_protocol(MINIMAL), started_t=0.0)
        recorder = SampleRecorder({"ecg": buf}, store, sid, period_s=0.05).start()
        t0 = pylsl.local_clock()
        for k in range(6):  # 600 samples in 0.5 s chunks, stamped back to back
            out.push(50, t_end=t0 + k + 0.49)
            out.push(50, t_end=t0 + k + 0.99)
            assert wait_for(lambda k=k: buf.n_written >= 100 * (k + 1), 3.0)
            wait_for(lambda k=k: recorder.n_samples >= 100 * (k + 1), 1.0)
        recorder.stop()
        stop_reading.set()
        reader.join(2)
        data, ts = store.samples(sid, "ecg", out.source_id)
        offsets = store.clock_offsets(sid)
    buf.disconnect()
    np.testing.assert_array_equal(data[:, 0], np.arange(600.0))
    assert np.all(np.diff(ts) > 0)
    assert recorder.n_samples == 600 and recorder.n_missed == 0
    assert len(offsets) >= 1


class _SlowBuffer:
    """A buffer whose reads take a while, so two copies can overlap."""

    source_id = "slow"
    sfreq = 10.0
    clock_offset = None

    def __init__(self, n: int):
        self.n = n

    def get_since(self, cursor: int):
        import time

        time.sleep(0.05)
        ts = np.arange(cursor, self.n, dtype=float)
        return ts[:, None], ts, self.n


class _CountingStore:
    def __init__(self):
        self.rows: list[float] = []
        self.lock = threading.Lock()

    def add_samples(self, sid, kind, source_id, data, ts, sfreq):
        with self.lock:
            self.rows.extend(ts.tolist())


def test_overlapping_copies_never_write_a_sample_twice():
    # stop() copies the tail while a slow background copy may still run (join timed out)
    store = _CountingStore()
    recorder = SampleRecorder({"ecg": _SlowBuffer(100)}, store, session_id=1)
    copies = [threading.Thread(target=recorder._copy) for _ in range(4)]
    for t in copies:
        t.start()
    for t in copies:
        t.join()
    assert sorted(store.rows) == list(np.arange(100.0))
    assert recorder.n_samples == 100
