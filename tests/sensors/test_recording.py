"""The raw-sample recorder stores every sample exactly once, whoever else reads the buffer."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pylsl

from labmrt.protocol import load_protocol
from labmrt.store import StudyStore
from sensors.buffer import StreamBuffer, wait_for
from sensors.recording import SampleRecorder

MINIMAL = Path(__file__).resolve().parents[2] / "protocols" / "minimal.toml"


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
