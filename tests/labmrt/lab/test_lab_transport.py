"""The lab's LSL readers: one per stream, a watchdog for a stuck one, lost streams dropped.

The watchdog is driven by a stand-in for pylsl whose first inlet blocks in its
pull (as liblsl does when a stream vanishes while it connects); the rest runs
on real pylsl streams on loopback: raw bytes that are not UTF-8 or too long,
and a stream that goes away and comes back under the same name.
"""

from __future__ import annotations

import threading
import time
import types
import uuid

import pytest
from lab_helpers import wait_for

from labmrt.lab import transport
from labmrt.lab.envelope import MAX_TEXT

pylsl = pytest.importorskip("pylsl")


class FakeInfo:
    def __init__(self, source_id: str, behaviour: list[str]):
        self._uid = uuid.uuid4().hex
        self._source_id = source_id
        self.behaviour = behaviour  # what each new inlet does: "block", "lost" or "serve"
        self.inlets: list[FakeInlet] = []

    def uid(self):
        return self._uid

    def source_id(self):
        return self._source_id

    def hostname(self):
        return "fake-host"


class FakeInlet:
    release = threading.Event()  # lets blocked pulls go at the end of the test

    def __init__(self, info, max_buflen, recover):
        assert recover is False and max_buflen == transport.BUFLEN
        self.info = info
        self.mode = info.behaviour[min(len(info.inlets), len(info.behaviour) - 1)]
        info.inlets.append(self)

    def open_stream(self, timeout):
        assert timeout == transport.OPEN_S

    def pull_chunk(self, timeout, max_samples, min_samples, as_numpy):
        assert as_numpy and min_samples == 1
        if self.mode == "block":
            self.release.wait()  # stuck inside "liblsl"
        if self.mode == "lost":
            raise RuntimeError("the stream has been lost.")
        time.sleep(0.01)
        return [[f"{self.info.source_id()} #{len(self.info.inlets)}".encode()]], [0.0]

    def close_stream(self):
        pass


def _fake_pylsl(infos: list[FakeInfo]):
    resolver = types.SimpleNamespace(results=lambda: list(infos))
    return types.SimpleNamespace(
        ContinuousResolver=lambda pred, forget_after: resolver, StreamInlet=FakeInlet
    )


def test_a_stuck_reader_is_replaced_and_the_other_streams_go_on(monkeypatch):
    monkeypatch.setattr(transport, "STUCK_S", 0.5)
    stuck = FakeInfo("labmrt-console-s-a", ["block", "serve"])
    other = FakeInfo("labmrt-console-s-b", ["serve"])
    infos = [stuck, other]
    listener = transport._Listener("labmrt.commands", "labmrt-console-s-", pylsl=_fake_pylsl(infos))
    try:
        got: list[transport.Message] = []

        def heard(info, n):
            return sum(m.uid == info.uid() for m in got) >= n

        wait_for(lambda: heard(other, 5), 5, lambda: got.extend(listener.pull()))
        assert not heard(stuck, 1)  # its first inlet is stuck; the other stream is not held up
        wait_for(lambda: heard(stuck, 3), 5, lambda: got.extend(listener.pull()))
        assert len(stuck.inlets) == 2 and len(listener.abandoned) == 1
        assert listener.gone() == [stuck.uid()]
        assert {m.data for m in got if m.uid == stuck.uid()} == {b"labmrt-console-s-a #2"}
        # the stream is lost: its reader ends and the stream is dropped; it comes back later
        lost = FakeInfo("labmrt-console-s-a", ["lost"])
        infos[0] = lost
        wait_for(lambda: lost.uid() in listener.gone(), 5)
        back = FakeInfo("labmrt-console-s-a", ["serve"])
        infos[0] = back
        wait_for(lambda: heard(back, 1), 5, lambda: got.extend(listener.pull()))
    finally:
        FakeInlet.release.set()
        listener.close()


def test_real_streams_bytes_as_sent_too_long_cut_and_a_lost_stream_dropped():
    tag = uuid.uuid4().hex[:8]
    prefix = f"labmrt-console-test{tag}-"
    info = pylsl.StreamInfo("x", "labmrt.commands", 1, 0, pylsl.cf_string, prefix + "a")
    outlet = pylsl.StreamOutlet(info)
    listener = transport._Listener("labmrt.commands", prefix)
    try:
        wait_for(outlet.have_consumers, 15)
        sent = [b"\xff\xfe not utf-8", b"x" * 100_000, "ok \u00e9".encode()]
        for data in sent:
            outlet.push_sample([data])
        got: list[transport.Message] = []
        wait_for(lambda: len(got) == 3, 10, lambda: got.extend(listener.pull()))
        assert got[0].data == sent[0] and got[2].data == sent[2]
        assert got[1].size == 100_000 and len(got[1].data) < MAX_TEXT
        uid = got[0].uid
        assert {m.source_id for m in got} == {prefix + "a"}
        del outlet  # the stream leaves: pylsl.util.LostError in its reader, which is dropped
        wait_for(lambda: uid in listener.gone(), 15)
        assert uid not in listener.readers
        again = pylsl.StreamOutlet(info)  # the same name comes back
        wait_for(again.have_consumers, 20)
        again.push_sample(["back"])
        wait_for(lambda: any(m.data == b"back" for m in listener.pull()), 10)
    finally:
        listener.close()
