"""LSL fixtures for sensor tests: real outlets on this machine, each with a unique
name and source id so that tests running in parallel never see each other's streams.
"""

from __future__ import annotations

import uuid

import numpy as np
import pylsl
import pytest


class TestOutlet:
    """A real LSL outlet plus a sample counter, for pushing known data with known stamps."""

    __test__ = False  # not a test class

    def __init__(self, stream_type, srate, channels, fmt, name, source_id):
        self.name = name or f"t-{stream_type}-{uuid.uuid4().hex[:10]}"
        self.source_id = source_id or f"labmrt-test-{uuid.uuid4()}"
        self.stream_type, self.srate, self.channels, self.fmt = stream_type, srate, channels, fmt
        self.sent = 0
        self.outlet: pylsl.StreamOutlet | None = None
        self.open()

    def open(self) -> None:
        """(Re)create the outlet with the same name and source id: a restarted device."""
        info = pylsl.StreamInfo(
            self.name, self.stream_type, self.channels, self.srate, self.fmt, self.source_id
        )
        self.outlet = pylsl.StreamOutlet(info, 0, 30)
        self.info = info

    def close(self) -> None:
        self.outlet = None  # liblsl closes the outlet when the object goes away

    def push(self, n: int, *, t_end: float | None = None, values=None) -> None:
        """Push ``n`` samples; channel 0 = ``values`` (default the counter), last channel = counter."""
        counter = np.arange(self.sent, self.sent + n, dtype=float)
        data = np.zeros((n, self.channels))
        data[:, 0] = counter if values is None else values
        data[:, -1] = counter
        stamp = pylsl.local_clock() if t_end is None else t_end
        self.outlet.push_chunk(
            data.astype(np.float64 if self.fmt == "double64" else np.float32), stamp
        )
        self.sent += n


@pytest.fixture
def make_outlet():
    made: list[TestOutlet] = []

    def factory(
        stream_type="ECG", srate=100.0, channels=2, fmt="float32", name=None, source_id=None
    ):
        out = TestOutlet(stream_type, srate, channels, fmt, name, source_id)
        made.append(out)
        return out

    yield factory
    for out in made:
        out.close()
